package ops

import (
	"fmt"
	"slices"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/parallel"
)

// SwiGLU returns the LLaMA MLP's gated activation (Shazeer 2020, "GLU
// Variants Improve Transformer", eq. 5; HF LlamaMLP: act_fn(gate_proj(x)) *
// up_proj(x)), optionally multiplied by a neuron-group gate:
//
//	y[n, j] = silu(gateProj[n, j]) · upProj[n, j] · gate[n, j/groupSize]
//
// gateProj and upProj are (N, F). gate (N, G), F = G·groupSize, is the
// pruning gate, unrelated to the gate_proj projection; nil means dense.
// Gradients flow to all three inputs.
func SwiGLU(gateProj, upProj *G.Node, gate *G.Node, groupSize int) (*G.Node, error) {
	as, cs := gateProj.Shape(), upProj.Shape()
	if len(as) != 2 || !as.Eq(cs) {
		return nil, shapeErr("SwiGLU", "want 2-D gateProj and upProj of one shape (N, F), got %v and %v", as, cs)
	}
	args := G.Nodes{gateProj, upProj}
	if gate != nil {
		if err := checkGate("SwiGLU", as, gate, groupSize); err != nil {
			return nil, err
		}
		args = append(args, gate)
	}
	op := &swiGLU{base: newBase(fmt.Sprintf("SwiGLU(gate=%v,group=%d)", gate != nil, groupSize)), hasGate: gate != nil, group: groupSize}
	return G.ApplyOp(op, args...)
}

type swiGLU struct {
	base
	hasGate bool
	group   int
	out     buffer
	sig     buffer // (N, F) sigmoid(gateProj), saved for backward
}

func (op *swiGLU) Arity() int { return 2 + btoi(op.hasGate) }
func (op *swiGLU) Type() hm.Type {
	if op.hasGate {
		return fnType(2, 2, 2, 2)
	}
	return fnType(2, 2, 2)
}
func (op *swiGLU) DiffWRT(n int) []bool { return slices.Repeat([]bool{true}, n) }
func (op *swiGLU) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

// gating returns the gate (nil when dense) and the group size (F when dense).
func swiGLUGating[T Float](op *swiGLU, in []G.Value, f int) ([]T, int) {
	if op.hasGate {
		return slice[T](in[2]), op.group
	}
	return nil, f
}

func (op *swiGLU) Do(in ...G.Value) (G.Value, error) {
	s, dt := in[0].Shape(), in[0].Dtype()
	n, f := s[0], s[1]
	out, sig := op.out.get(dt, n, f), op.sig.get(dt, n, f)
	if dt == tensor.Float32 {
		swiGLUFwd(op, slice[float32](out), slice[float32](sig), in, n, f)
	} else {
		swiGLUFwd(op, slice[float64](out), slice[float64](sig), in, n, f)
	}
	return out, nil
}

func swiGLUFwd[T Float](op *swiGLU, y, sig []T, in []G.Value, n, f int) {
	a, c := slice[T](in[0]), slice[T](in[1])
	gate, group := swiGLUGating[T](op, in, f)
	ng := f / group
	parallel.For(n, rowGrain(f), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			sr := sig[r*f : (r+1)*f]
			copy(sr, a[r*f:(r+1)*f])
			vsigmoid(sr)
			for g := 0; g < ng; g++ {
				s := T(1)
				if gate != nil {
					s = gate[r*ng+g]
				}
				o, e := r*f+g*group, r*f+(g+1)*group
				ys, as, cs, ss := y[o:e], a[o:e], c[o:e], sig[o:e]
				for j, v := range as {
					ys[j] = v * ss[j] * cs[j] * s
				}
			}
		}
	})
}

// SymDiff: with σ = sigmoid(a), silu(a) = a·σ and silu'(a) = σ·(1 + a·(1-σ)),
//
//	da = dy·gate·up·silu'(a),  dup = dy·gate·silu(a),  dgate = Σ_group dy·silu(a)·up.
func (op *swiGLU) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g := &swiGLUGrad{base: newBase("SwiGLUGrad"), fwd: op}
	// out is an input only to order this op after the forward one.
	args := append(append(G.Nodes{}, in...), out, grad)
	more := []output{{1, in[1].Shape()}}
	if op.hasGate {
		more = append(more, output{2, in[2].Shape()})
	}
	return applyGrad(g, args, more...)
}

// swiGLUGrad takes the forward inputs, y and dy, and outputs d gateProj,
// d upProj (output 1) and d gate (output 2, when gated).
type swiGLUGrad struct {
	base
	fwd  *swiGLU
	outs [3]buffer
}

func (op *swiGLUGrad) Arity() int { return op.fwd.Arity() + 2 }
func (op *swiGLUGrad) Type() hm.Type {
	return fnType(2, slices.Repeat([]int{2}, op.Arity())...)
}
func (op *swiGLUGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op *swiGLUGrad) output(i int) G.Value { return op.outs[i].t }

func (op *swiGLUGrad) Do(in ...G.Value) (G.Value, error) {
	s, dt := in[0].Shape(), in[0].Dtype()
	n, f := s[0], s[1]
	da := op.outs[0].get(dt, n, f)
	op.outs[1].get(dt, n, f)
	if op.fwd.hasGate {
		op.outs[2].get(dt, n, f/op.fwd.group)
	}
	if dt == tensor.Float32 {
		swiGLUBwd[float32](op, in, n, f)
	} else {
		swiGLUBwd[float64](op, in, n, f)
	}
	return da, nil
}

func swiGLUBwd[T Float](op *swiGLUGrad, in []G.Value, n, f int) {
	a, c, dy := slice[T](in[0]), slice[T](in[1]), slice[T](in[len(in)-1])
	sig := slice[T](op.fwd.sig.t)
	da, dc := slice[T](op.outs[0].t), slice[T](op.outs[1].t)
	gate, group := swiGLUGating[T](op.fwd, in, f)
	var dg []T
	if gate != nil {
		dg = slice[T](op.outs[2].t)
	}
	ng := f / group
	parallel.For(n, rowGrain(f), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			for g := 0; g < ng; g++ {
				s := T(1)
				if gate != nil {
					s = gate[r*ng+g]
				}
				o, e := r*f+g*group, r*f+(g+1)*group
				as, cs, ss, gs := a[o:e], c[o:e], sig[o:e], dy[o:e]
				das, dcs := da[o:e], dc[o:e]
				var sum float64
				for j, v := range as {
					sg, gy := ss[j], gs[j]
					silu := v * sg
					das[j] = gy * s * cs[j] * sg * (1 + v*(1-sg))
					dcs[j] = gy * s * silu
					if dg != nil {
						sum += float64(gy * silu * cs[j])
					}
				}
				if dg != nil {
					dg[r*ng+g] = T(sum)
				}
			}
		}
	})
}
