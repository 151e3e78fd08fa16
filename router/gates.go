package router

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The gate ops turn logits l[n,u] = scores[n,u] + b[u] (contextual kinds) or
// l[n,u] = b[u] (static: one logit per unit, the same for all N tokens) into
// gates (N, U), with the bias add fused in. Their arithmetic is float64
// whatever the graph's dtype: a layer's gates are N·(H+G) elements, 1/32 of
// one FFN activation's N·F for LTE's groups of 32, so the fast float32
// approximations of internal/ops are not worth copying here.

// gateNodes returns the gate and the on-probability of U units for N = n
// tokens. scores (N, U) is nil for a static router; bias is (U).
//
//   - Soft sigmoid and static: gate = prob = σ(l).
//   - Soft hard-concrete: gate = z, a reparameterised sample (hardConcrete);
//     prob = P(z ≠ 0) = σ(l − β·log(−γ/ζ)) (Config.probShift).
//   - Hard, every kind: gate = prob = 1[P(on) > τ], with P(on) computed as in
//     the Soft stage, and no gradient.
func gateNodes(c Config, stage Stage, scores, bias *G.Node, n int, src *noiseSource) (gate, prob *G.Node, err error) {
	u := bias.Shape()[0]
	in := G.Nodes{bias}
	if scores != nil {
		if s := scores.Shape(); len(s) != 2 || s[0] != n || s[1] != u {
			return nil, nil, fmt.Errorf("router gate: scores %v do not match (%d, %d)", s, n, u)
		}
		in = G.Nodes{scores, bias}
	}
	sg := func(shift float64, hard bool) (*G.Node, error) {
		op := &sigmoidGate{base: newBase(fmt.Sprintf("SigmoidGate(shift=%g,hard=%v)", shift, hard)),
			n: n, u: u, scores: scores != nil, shift: shift, hard: hard, tau: c.Tau}
		return G.ApplyOp(op, in...)
	}
	if stage == Hard {
		gate, err = sg(c.probShift(), true)
		return gate, gate, err
	}
	if c.Kind != HardConcrete {
		gate, err = sg(0, false)
		return gate, gate, err
	}
	op := &hardConcrete{base: newBase("HardConcreteGate"), n: n, u: u, scores: scores != nil,
		beta: c.Beta, gamma: c.Gamma, zeta: c.Zeta, src: src}
	if gate, err = G.ApplyOp(op, in...); err != nil {
		return nil, nil, err
	}
	prob, err = sg(c.probShift(), false)
	return gate, prob, err
}

// logitAt returns l[r,j] in float64.
func logitAt[T float](scores, b []T, r, j, u int) float64 {
	if scores == nil {
		return float64(b[j])
	}
	return float64(scores[r*u+j]) + float64(b[j])
}

// inputs splits a gate op's inputs into scores (nil when static) and bias.
func inputs[T float](scores bool, in []G.Value) (s, b []T) {
	if scores {
		return slice[T](in[0]), slice[T](in[1])
	}
	return nil, slice[T](in[0])
}

// sigmoidGate is y = σ(l − shift), or with hard set y = 1[σ(l − shift) > τ],
// where σ(l − shift) is first rounded to the graph's dtype, exactly as the
// soft op stores it, so that hard gates equal thresholded soft
// probabilities in float32 too.
type sigmoidGate struct {
	base
	n, u   int
	scores bool
	shift  float64
	hard   bool
	tau    float64
	out    buffer
}

func (op *sigmoidGate) Arity() int { return 1 + btoi(op.scores) }
func (op *sigmoidGate) Type() hm.Type {
	if op.scores {
		return fnType(2, 2, 1)
	}
	return fnType(2, 1)
}

// DiffWRT: hard gates are piecewise constant, so gorgonia builds no
// backward pass through them and refuses router parameters as Grad targets.
func (op *sigmoidGate) DiffWRT(n int) []bool { return slices.Repeat([]bool{!op.hard}, n) }
func (op *sigmoidGate) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.u}, nil
}

func (op *sigmoidGate) Do(in ...G.Value) (G.Value, error) {
	dt := in[0].Dtype()
	out := op.out.Get(dt, op.n, op.u)
	if dt == tensor.Float32 {
		sigmoidGateFwd[float32](op, slice[float32](out), in)
	} else {
		sigmoidGateFwd[float64](op, slice[float64](out), in)
	}
	return out, nil
}

func sigmoidGateFwd[T float](op *sigmoidGate, y []T, in []G.Value) {
	s, b := inputs[T](op.scores, in)
	for r := 0; r < op.n; r++ {
		for j := 0; j < op.u; j++ {
			p := T(sigmoid(logitAt(s, b, r, j, op.u) - op.shift))
			if op.hard {
				p = T(btoi(float64(p) > op.tau))
			}
			y[r*op.u+j] = p
		}
	}
}

// SymDiff: dl = dy·p(1−p); the bias (or static logit) gets Σ_rows dl.
func (op *sigmoidGate) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if op.hard {
		return nil, fmt.Errorf("%s: hard gates have no gradient", op)
	}
	dl, err := G.ApplyOp(&sigmoidGrad{base: newBase("SigmoidGateGrad")}, out, grad)
	if err != nil {
		return nil, err
	}
	return biasGrads(op.scores, dl)
}

// biasGrads returns the gradients of (scores, bias), or of (bias) alone,
// given dl (N, U).
func biasGrads(scores bool, dl *G.Node) (G.Nodes, error) {
	db, err := G.ApplyOp(&colSum{base: newBase("GateBiasGrad")}, dl)
	if err != nil {
		return nil, err
	}
	if scores {
		return G.Nodes{dl, db}, nil
	}
	return G.Nodes{db}, nil
}

// sigmoidGrad takes (p, dy) and returns dy·p(1−p).
type sigmoidGrad struct {
	base
	out buffer
}

func (op *sigmoidGrad) Arity() int    { return 2 }
func (op *sigmoidGrad) Type() hm.Type { return fnType(2, 2, 2) }
func (op *sigmoidGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *sigmoidGrad) Do(in ...G.Value) (G.Value, error) {
	out := op.out.Get(in[0].Dtype(), in[0].Shape()...)
	if in[0].Dtype() == tensor.Float32 {
		sigmoidBwd(slice[float32](out), slice[float32](in[0]), slice[float32](in[1]))
	} else {
		sigmoidBwd(slice[float64](out), slice[float64](in[0]), slice[float64](in[1]))
	}
	return out, nil
}

func sigmoidBwd[T float](dl, p, dy []T) {
	for i, v := range p {
		dl[i] = dy[i] * v * (1 - v)
	}
}

// colSum reduces (N, U) to (U) by summing rows in float64.
type colSum struct {
	base
	out buffer
	acc []float64
}

func (op *colSum) Arity() int    { return 1 }
func (op *colSum) Type() hm.Type { return fnType(1, 2) }
func (op *colSum) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{in[0].(tensor.Shape)[1]}, nil
}

func (op *colSum) Do(in ...G.Value) (G.Value, error) {
	s := in[0].Shape()
	out := op.out.Get(in[0].Dtype(), s[1])
	if cap(op.acc) < s[1] {
		op.acc = make([]float64, s[1])
	}
	op.acc = op.acc[:s[1]]
	clear(op.acc)
	if in[0].Dtype() == tensor.Float32 {
		colSumKernel(slice[float32](out), slice[float32](in[0]), op.acc)
	} else {
		colSumKernel(slice[float64](out), slice[float64](in[0]), op.acc)
	}
	return out, nil
}

func colSumKernel[T float](dst, x []T, acc []float64) {
	u := len(dst)
	for i, v := range x {
		acc[i%u] += float64(v)
	}
	for j, a := range acc {
		dst[j] = T(a)
	}
}

// noiseSource is the random state of a Set's hard-concrete gates. Gates
// draw from it in the order the machine runs them, which is fixed for a
// graph, so the state alone fixes every sample. It is not safe for
// concurrent use; graphs run ops one at a time.
type noiseSource struct {
	rng rand.PCG
	// frozen makes every gate reuse its last sample instead of drawing,
	// so that repeated runs (finite differences) see one function.
	frozen bool
}

// noiseStream is the second PCG seed word: a fixed constant, so that the
// seed alone fixes the noise.
const noiseStream = 0x68636f6e63726574 // "hconcret"

// uniform returns a uniform draw in the open interval (0, 1): 53 random
// bits centred in their cell, so neither log u nor log(1−u) is infinite.
func (s *noiseSource) uniform() float64 {
	return (float64(s.rng.Uint64()>>11) + 0.5) / (1 << 53)
}

// hardConcrete samples z = min(1, max(0, s̄)) with s̄ = s·(ζ−γ) + γ and
// s = σ((log u − log(1−u) + l)/β), u ~ U(0, 1) (Louizos et al. 2018, §4,
// the hard concrete distribution: a binary concrete stretched to (γ, ζ)
// and clipped, so z is exactly 0 or 1 with positive probability). The
// sample is a differentiable function of the logit l = log α for fixed u
// (reparameterisation, Kingma & Welling 2014), and one u is drawn per
// token and unit on every run.
type hardConcrete struct {
	base
	n, u              int
	scores            bool
	beta, gamma, zeta float64
	src               *noiseSource
	out               buffer
	noise             []float64 // (N·U) logistic noise log u − log(1−u) of the last run
	s                 []float64 // (N·U) s of the last run, for the backward pass
}

func (op *hardConcrete) Arity() int { return 1 + btoi(op.scores) }
func (op *hardConcrete) Type() hm.Type {
	if op.scores {
		return fnType(2, 2, 1)
	}
	return fnType(2, 1)
}
func (op *hardConcrete) DiffWRT(n int) []bool { return slices.Repeat([]bool{true}, n) }
func (op *hardConcrete) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.u}, nil
}

func (op *hardConcrete) Do(in ...G.Value) (G.Value, error) {
	m := op.n * op.u
	if !op.src.frozen || len(op.noise) != m {
		op.noise = grow(op.noise, m)
		for i := range op.noise {
			u := op.src.uniform()
			op.noise[i] = math.Log(u) - math.Log1p(-u)
		}
	}
	op.s = grow(op.s, m)
	dt := in[0].Dtype()
	out := op.out.Get(dt, op.n, op.u)
	if dt == tensor.Float32 {
		hardConcreteFwd[float32](op, slice[float32](out), in)
	} else {
		hardConcreteFwd[float64](op, slice[float64](out), in)
	}
	return out, nil
}

func hardConcreteFwd[T float](op *hardConcrete, z []T, in []G.Value) {
	sc, b := inputs[T](op.scores, in)
	for r := 0; r < op.n; r++ {
		for j := 0; j < op.u; j++ {
			i := r*op.u + j
			s := sigmoid((op.noise[i] + logitAt(sc, b, r, j, op.u)) / op.beta)
			op.s[i] = s
			z[i] = T(min(1, max(0, s*(op.zeta-op.gamma)+op.gamma)))
		}
	}
}

// SymDiff: inside the clip, dz/dl = (ζ−γ)·s(1−s)/β; where the clip is
// active (z exactly 0 or 1) the gradient is 0.
func (op *hardConcrete) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	// out is an input only to order this op after the forward one.
	dl, err := G.ApplyOp(&hardConcreteGrad{base: newBase("HardConcreteGateGrad"), fwd: op}, out, grad)
	if err != nil {
		return nil, err
	}
	return biasGrads(op.scores, dl)
}

// hardConcreteGrad takes (z, dz) and returns dl from the forward op's saved s.
type hardConcreteGrad struct {
	base
	fwd *hardConcrete
	out buffer
}

func (op *hardConcreteGrad) Arity() int    { return 2 }
func (op *hardConcreteGrad) Type() hm.Type { return fnType(2, 2, 2) }
func (op *hardConcreteGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *hardConcreteGrad) Do(in ...G.Value) (G.Value, error) {
	out := op.out.Get(in[0].Dtype(), in[0].Shape()...)
	if in[0].Dtype() == tensor.Float32 {
		hardConcreteBwd(op.fwd, slice[float32](out), slice[float32](in[1]))
	} else {
		hardConcreteBwd(op.fwd, slice[float64](out), slice[float64](in[1]))
	}
	return out, nil
}

func hardConcreteBwd[T float](f *hardConcrete, dl, dz []T) {
	k := (f.zeta - f.gamma) / f.beta
	for i, s := range f.s {
		sbar := s*(f.zeta-f.gamma) + f.gamma
		d := 0.0
		if sbar > 0 && sbar < 1 {
			d = k * s * (1 - s)
		}
		dl[i] = dz[i] * T(d)
	}
}

// grow returns s resized to n, reallocating only when its capacity is short.
func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// btoi is 1 for true and 0 for false.
func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
