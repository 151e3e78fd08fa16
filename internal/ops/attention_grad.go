package ops

import (
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/blas"
	"github.com/sparsetune/sparsetune/internal/parallel"
)

// SymDiff of attention: one backward op computes the gradients of Q, K, V
// (fused or not) and of the gate together, reusing the saved probabilities.
func (op *attention) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g := &attnGrad{base: newBase("AttentionGrad"), fwd: op, scratch: &attnScratch{}}
	args := append(append(G.Nodes{}, in...), grad)
	dn, err := G.ApplyOp(g, args...)
	if err != nil {
		return nil, err
	}
	res := make(G.Nodes, len(in))
	res[0] = dn
	for i := 1; i < op.nIn; i++ {
		if res[i], err = takeNode(g, dn, i, in[i].Shape()); err != nil {
			return nil, err
		}
	}
	if op.hasGate {
		gi := op.gateIdx()
		if res[gi], err = takeNode(g, dn, op.nIn, in[gi].Shape()); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// attnGrad outputs: 0..nIn-1 the q/k/v input gradients, nIn the gate's.
type attnGrad struct {
	base
	fwd *attention
	// outputs in input layout, then the gate gradient
	outs    [4]buffer
	scratch *attnScratch // used only inside Do: shareable (ShareScratch)
}

// attnScratch holds attnGrad's working buffers.
type attnScratch struct {
	dq, dk, dv buffer // head-major (B, H|KVH, T, S)
	dctx       buffer // (B*T, H*S) gate-scaled upstream gradient
	dp         buffer // (B, H, T, T) scratch
}

// Transient: with a fused QKV input the one output, dqkv, is consumed by
// the QKV projection's gradients within the run.
func (op *attnGrad) Transient() bool { return op.fwd.fused }

// ShareOutput makes t the output buffer (fused QKV only).
func (op *attnGrad) ShareOutput(t *tensor.Dense) { op.outs[0].t = t }

// ShareScratch makes op use other's working buffers (another attention
// gradient of the same machine, which runs one op at a time).
func (op *attnGrad) ShareScratch(other G.Op) bool {
	o, ok := other.(*attnGrad)
	if ok {
		op.scratch = o.scratch
	}
	return ok
}

func (op *attnGrad) Arity() int { return op.fwd.Arity() + 1 }
func (op *attnGrad) Type() hm.Type {
	dims := make([]int, op.Arity())
	for i := range dims {
		dims[i] = 2
	}
	return fnType(2, dims...)
}
func (op *attnGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op *attnGrad) output(i int) G.Value { return op.outs[i].t }

func (op *attnGrad) Do(in ...G.Value) (G.Value, error) {
	if in[0].Dtype() == tensor.Float32 {
		attnBackward[float32](op, in)
	} else {
		attnBackward[float64](op, in)
	}
	return op.outs[0].t, nil
}

func attnBackward[T Float](op *attnGrad, in []G.Value) {
	f := op.fwd
	c := f.c
	dt := in[0].Dtype()
	n, hd := c.B*c.T, c.H*c.S
	dout := slice[T](in[len(in)-1])
	probs := slice[T](f.probs.t)
	qh, kh, vh := slice[T](f.qh.t), slice[T](f.kh.t), slice[T](f.vh.t)

	// Gate: dgate[n,h] = Σ_s dout[n,h,s]·ctx[n,h,s]; the context sees dout·gate.
	dctx := dout
	if f.hasGate {
		gate := slice[T](in[f.gateIdx()])
		ctx := slice[T](f.ctx.t)
		dg := slice[T](op.outs[f.nIn].get(dt, n, c.H))
		dctx = slice[T](op.scratch.dctx.get(dt, n, hd))
		parallel.For(n, 64, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				for h := 0; h < c.H; h++ {
					o := r*hd + h*c.S
					var acc float64
					g := gate[r*c.H+h]
					for s := 0; s < c.S; s++ {
						acc += float64(dout[o+s]) * float64(ctx[o+s])
						dctx[o+s] = dout[o+s] * g
					}
					dg[r*c.H+h] = T(acc)
				}
			}
		})
	}

	dq := slice[T](op.scratch.dq.get(dt, c.B, c.H, c.T, c.S))
	dk := slice[T](op.scratch.dk.zeroed(dt, c.B, c.KVH, c.T, c.S))
	dv := slice[T](op.scratch.dv.zeroed(dt, c.B, c.KVH, c.T, c.S))
	dpAll := slice[T](op.scratch.dp.get(dt, c.B, c.H, c.T, c.T))
	scale := T(1 / math.Sqrt(float64(c.S)))
	group := c.H / c.KVH
	// Work is split by key/value head so that the heads sharing one (GQA)
	// accumulate into dK and dV on the same goroutine.
	headLoop(c.B*c.KVH, func(lo, hi int) {
		for bkv := lo; bkv < hi; bkv++ {
			b, kvh := bkv/c.KVH, bkv%c.KVH
			k := kh[bkv*c.T*c.S:][:c.T*c.S]
			v := vh[bkv*c.T*c.S:][:c.T*c.S]
			dkb := dk[bkv*c.T*c.S:][:c.T*c.S]
			dvb := dv[bkv*c.T*c.S:][:c.T*c.S]
			for h := kvh * group; h < (kvh+1)*group; h++ {
				bh := b*c.H + h
				p := probs[bh*c.T*c.T:][:c.T*c.T]
				dp := dpAll[bh*c.T*c.T:][:c.T*c.T]
				dc := dctx[b*c.T*hd+h*c.S:]
				blas.Gemm(true, false, c.T, c.S, c.T, 1, p, c.T, dc, hd, 1, dvb, c.S) // dV += Pᵀ dC
				blas.Gemm(false, true, c.T, c.T, c.S, 1, dc, hd, v, c.S, 0, dp, c.T)  // dP = dC Vᵀ
				for t := 0; t < c.T; t++ {                                            // dS = P⊙(dP − rowsum(P⊙dP))/√S
					pr, dr := p[t*c.T:][:c.T], dp[t*c.T:][:c.T]
					var dot float64
					for j := range pr {
						dot += float64(pr[j]) * float64(dr[j])
					}
					for j := range pr {
						dr[j] = pr[j] * (dr[j] - T(dot)) * scale
					}
				}
				q := qh[bh*c.T*c.S:][:c.T*c.S]
				blas.Gemm(false, false, c.T, c.S, c.T, 1, dp, c.T, k, c.S, 0, dq[bh*c.T*c.S:], c.S) // dQ = dS K
				blas.Gemm(true, false, c.T, c.S, c.T, 1, dp, c.T, q, c.S, 1, dkb, c.S)              // dK += dSᵀ Q
			}
		}
	})
	scatterHeads(op, dq, dk, dv, in)
}

// scatterHeads writes the head-major gradients back in the inputs' layout,
// undoing RoPE (its transpose is the rotation by the opposite angle).
func scatterHeads[T Float](op *attnGrad, dq, dk, dv []T, in []G.Value) {
	f := op.fwd
	c := f.c
	dt := in[0].Dtype()
	var dsts [3][]T
	if f.fused {
		d := slice[T](op.outs[0].get(dt, in[0].Shape()...))
		dsts = [3][]T{d, d, d}
	} else {
		for i := 0; i < 3; i++ {
			dsts[i] = slice[T](op.outs[i].get(dt, in[i].Shape()...))
		}
	}
	half := c.S / 2
	for i, src := range [3][]T{dq, dk, dv} {
		heads := c.H
		if i > 0 {
			heads = c.KVH
		}
		vw, dst := f.views[i], dsts[i]
		withRope := i < 2 && c.RoPETheta != 0
		parallel.For(c.B*heads, 1, func(lo, hi int) {
			for bh := lo; bh < hi; bh++ {
				b, h := bh/heads, bh%heads
				for t := 0; t < c.T; t++ {
					row := dst[(b*c.T+t)*vw.stride+vw.off+h*c.S:][:c.S]
					copy(row, src[(bh*c.T+t)*c.S:][:c.S])
					if withRope {
						rope(row, f.cos[t*half:][:half], f.sin[t*half:][:half], -1)
					}
				}
			}
		})
	}
}
