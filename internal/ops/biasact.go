package ops

import (
	"fmt"
	"math"
	"slices"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/parallel"
)

// BiasAct returns act(x + b) for x (N, F) and bias b (F), optionally
// multiplied by a neuron-group gate: with gate (N, G) and F = G·groupSize,
//
//	y[n, j] = act(x[n, j] + b[j]) · gate[n, j/groupSize]
//
// b nil means no bias; gate nil means dense (groupSize is then ignored).
// This is the FFN nonlinearity after the first projection, fused with the
// bias add that precedes it and the pruning gate that follows it. Gradients
// flow to x, b and gate; a gate of exactly 0 still gets the gradient
// Σ_j dy·act(u) that a router needs.
func BiasAct(x, b *G.Node, act Activation, gate *G.Node, groupSize int) (*G.Node, error) {
	if _, ok := actNames[act]; !ok {
		return nil, shapeErr("BiasAct", "unknown activation %d", int(act))
	}
	xs := x.Shape()
	if len(xs) != 2 {
		return nil, shapeErr("BiasAct", "want 2-D x (N, F), got %v", xs)
	}
	args := G.Nodes{x}
	if b != nil {
		if bs := b.Shape(); len(bs) != 1 || bs[0] != xs[1] {
			return nil, shapeErr("BiasAct", "bias %v does not match x %v: want (%d)", bs, xs, xs[1])
		}
		args = append(args, b)
	}
	if gate != nil {
		if err := checkGate("BiasAct", xs, gate, groupSize); err != nil {
			return nil, err
		}
		args = append(args, gate)
	}
	op := &biasAct{
		base:    newBase(fmt.Sprintf("BiasAct(%v,bias=%v,gate=%v,group=%d)", act, b != nil, gate != nil, groupSize)),
		act:     act,
		hasBias: b != nil,
		hasGate: gate != nil,
		group:   groupSize,
	}
	return G.ApplyOp(op, args...)
}

// checkGate validates a neuron-group gate (N, G) for an (N, F) activation.
func checkGate(op string, xs tensor.Shape, gate *G.Node, groupSize int) error {
	gs := gate.Shape()
	if groupSize < 1 {
		return shapeErr(op, "groupSize %d must be ≥ 1", groupSize)
	}
	if len(gs) != 2 || gs[0] != xs[0] || gs[1]*groupSize != xs[1] {
		return shapeErr(op, "gate %v does not match x %v with groupSize %d: want (%d, %d)", gs, xs, groupSize, xs[0], xs[1]/groupSize)
	}
	return nil
}

type biasAct struct {
	base
	act              Activation
	hasBias, hasGate bool
	group            int
	out              buffer
	aux              buffer // (N, F) the nonlinear factor saved for backward (see actFwd)
	zeros            buffer // (F) stands in for a missing bias
}

func (op *biasAct) Arity() int { return op.gateIndex() + btoi(op.hasGate) }
func (op *biasAct) Type() hm.Type {
	dims := []int{2}
	if op.hasBias {
		dims = append(dims, 1)
	}
	if op.hasGate {
		dims = append(dims, 2)
	}
	return fnType(2, dims...)
}
func (op *biasAct) DiffWRT(n int) []bool { return slices.Repeat([]bool{true}, n) }
func (op *biasAct) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

// gateIndex is the input position of the gate.
func (op *biasAct) gateIndex() int { return 1 + btoi(op.hasBias) }

// btoi is 1 for true and 0 for false.
func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// biasActInputs returns the bias (zeros when absent), the gate (nil when absent)
// and the group size (F when dense).
func biasActInputs[T Float](op *biasAct, in []G.Value, f int) (b, gate []T, group int) {
	if op.hasBias {
		b = slice[T](in[1])
	} else {
		if op.zeros.t == nil || op.zeros.t.Shape()[0] != f || op.zeros.t.Dtype() != in[0].Dtype() {
			op.zeros.zeroed(in[0].Dtype(), f)
		}
		b = slice[T](op.zeros.t)
	}
	group = f
	if op.hasGate {
		gate, group = slice[T](in[op.gateIndex()]), op.group
	}
	return b, gate, group
}

func (op *biasAct) Do(in ...G.Value) (G.Value, error) {
	s, dt := in[0].Shape(), in[0].Dtype()
	n, f := s[0], s[1]
	out := op.out.get(dt, n, f)
	var aux *tensor.Dense
	if op.act.saves() {
		aux = op.aux.get(dt, n, f)
	}
	if dt == tensor.Float32 {
		biasActFwd[float32](op, out, aux, in, n, f)
	} else {
		biasActFwd[float64](op, out, aux, in, n, f)
	}
	return out, nil
}

func biasActFwd[T Float](op *biasAct, out, aux *tensor.Dense, in []G.Value, n, f int) {
	x, y := slice[T](in[0]), slice[T](out)
	var a []T
	if aux != nil {
		a = slice[T](aux)
	}
	b, gate, group := biasActInputs[T](op, in, f)
	ng := f / group
	parallel.For(n, rowGrain(f), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			for g := 0; g < ng; g++ {
				s := T(1)
				if gate != nil {
					s = gate[r*ng+g]
				}
				o, e := r*f+g*group, r*f+(g+1)*group
				actFwd(op.act, y[o:e], auxSeg(a, o, e), x[o:e], b[g*group:(g+1)*group], s)
			}
		}
	})
}

// SymDiff: with u = x + b, du = dy · gate · act'(u); db = Σ_rows du;
// dgate[n, g] = Σ_{j in group g} dy[n, j] · act(u[n, j]). One op computes
// all three from the saved nonlinear factor.
func (op *biasAct) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g := &biasActGrad{base: newBase("BiasActGrad"), fwd: op}
	// out is an input only to order this op after the forward one.
	args := append(append(G.Nodes{}, in...), out, grad)
	var more []output
	if op.hasBias {
		more = append(more, output{1, in[1].Shape()})
	}
	if op.hasGate {
		more = append(more, output{2, in[op.gateIndex()].Shape()})
	}
	return applyGrad(g, args, more...)
}

// biasActGrad takes the forward inputs, y and dy, and outputs dx, db
// (output 1, when there is a bias) and dgate (output 2, when gated).
type biasActGrad struct {
	base
	fwd  *biasAct
	outs [3]buffer
	acc  []float64 // (F) column sums for db
}

func (op *biasActGrad) Arity() int { return op.fwd.Arity() + 2 }
func (op *biasActGrad) Type() hm.Type {
	dims := []int{2}
	if op.fwd.hasBias {
		dims = append(dims, 1)
	}
	if op.fwd.hasGate {
		dims = append(dims, 2)
	}
	return fnType(2, append(dims, 2, 2)...)
}
func (op *biasActGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op *biasActGrad) output(i int) G.Value { return op.outs[i].t }

// Transient: dx is consumed by the gradients of the op below within the
// run (db and dgate, read after it, have buffers of their own).
func (op *biasActGrad) Transient() bool { return true }

// ShareOutput makes t the dx buffer.
func (op *biasActGrad) ShareOutput(t *tensor.Dense) { op.outs[0].t = t }

func (op *biasActGrad) Do(in ...G.Value) (G.Value, error) {
	s, dt := in[0].Shape(), in[0].Dtype()
	n, f := s[0], s[1]
	dx := op.outs[0].get(dt, n, f)
	if dt == tensor.Float32 {
		biasActBwd[float32](op, in, n, f)
	} else {
		biasActBwd[float64](op, in, n, f)
	}
	return dx, nil
}

func biasActBwd[T Float](op *biasActGrad, in []G.Value, n, f int) {
	fwd := op.fwd
	dt := in[0].Dtype()
	x, dy := slice[T](in[0]), slice[T](in[len(in)-1])
	var a []T
	if fwd.act.saves() {
		a = slice[T](fwd.aux.t)
	}
	dx := slice[T](op.outs[0].t)
	b, gate, group := biasActInputs[T](fwd, in, f)
	ng := f / group
	var dg []T
	if gate != nil {
		dg = slice[T](op.outs[2].get(dt, n, ng))
	}
	parallel.For(n, rowGrain(f), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			for g := 0; g < ng; g++ {
				s := T(1)
				if gate != nil {
					s = gate[r*ng+g]
				}
				o, e := r*f+g*group, r*f+(g+1)*group
				sum := actBwd(fwd.act, dx[o:e], dy[o:e], auxSeg(a, o, e), x[o:e], b[g*group:(g+1)*group], s, dg != nil)
				if dg != nil {
					dg[r*ng+g] = T(sum)
				}
			}
		}
	})
	if fwd.hasBias {
		op.acc = grow(op.acc, f)
		colSums(slice[T](op.outs[1].get(dt, f)), dx, n, f, op.acc)
	}
}

// auxSeg returns a[o:e], or nil when nothing was saved.
func auxSeg[T Float](a []T, o, e int) []T {
	if a == nil {
		return nil
	}
	return a[o:e]
}

// Activation is an elementwise nonlinearity of BiasAct.
type Activation int

const (
	// ActIdentity is no nonlinearity (HF "linear").
	ActIdentity Activation = iota
	// ActGELUTanh is the tanh approximation of GELU used by GPT-2
	// (HF "gelu_new"; Hendrycks & Gimpel 2016, §2):
	// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
	ActGELUTanh
	// ActGELU is the exact GELU x·Φ(x) with the normal CDF written with
	// erf (HF "gelu", BERT).
	ActGELU
	// ActReLU is max(x, 0).
	ActReLU
	// ActSiLU is x·sigmoid(x) (HF "silu"/"swish"; Elfwing et al. 2017).
	ActSiLU
	// ActTanh is tanh(x).
	ActTanh
)

var actNames = map[Activation]string{
	ActIdentity: "identity", ActGELUTanh: "gelu_tanh", ActGELU: "gelu",
	ActReLU: "relu", ActSiLU: "silu", ActTanh: "tanh",
}

// hfActivations maps Hugging Face hidden_act names (transformers'
// activations.ACT2FN) to activations. "gelu_fast" is the same tanh formula
// with the product factored differently.
var hfActivations = map[string]Activation{
	"linear": ActIdentity, "gelu_new": ActGELUTanh, "gelu_pytorch_tanh": ActGELUTanh,
	"gelu_fast": ActGELUTanh, "gelu": ActGELU, "relu": ActReLU, "silu": ActSiLU,
	"swish": ActSiLU, "tanh": ActTanh,
}

// String returns the activation's name.
func (a Activation) String() string {
	if s, ok := actNames[a]; ok {
		return s
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// ParseActivation returns the activation named by a Hugging Face config's
// hidden_act (or hidden_activation, activation_function) value.
func ParseActivation(hfName string) (Activation, error) {
	if a, ok := hfActivations[hfName]; ok {
		return a, nil
	}
	names := make([]string, 0, len(hfActivations))
	for k := range hfActivations {
		names = append(names, k)
	}
	slices.Sort(names)
	return 0, fmt.Errorf("unsupported activation %q: sparsetune knows %v", hfName, names)
}

// saves reports whether the activation keeps a per-element factor for the
// backward pass: sigmoid(2z) = 0.5·(1+tanh z) for the tanh GELU, Φ(u) for
// GELU, sigmoid(u) for SiLU, tanh(u) for tanh. Identity and ReLU need only u, which the backward pass recomputes
// from x and b.
func (a Activation) saves() bool {
	return a == ActGELUTanh || a == ActGELU || a == ActSiLU || a == ActTanh
}

// Constants of the tanh GELU (Hendrycks & Gimpel 2016, §2).
const (
	geluK = 0.7978845608028654 // √(2/π)
	geluC = 0.044715

	invSqrt2Pi = 0.3989422804014327 // 1/√(2π), the normal density at 0
)

// actFwd sets y = act(x + b)·s over one gate group and stores the saved
// factor in a.
func actFwd[T Float](act Activation, y, a, x, b []T, s T) {
	b, y = b[:len(x)], y[:len(x)]
	switch act {
	case ActIdentity:
		for j, v := range x {
			y[j] = (v + b[j]) * s
		}
	case ActReLU:
		for j, v := range x {
			y[j] = max(v+b[j], 0) * s
		}
	case ActGELUTanh:
		// 0.5·(1 + tanh z) = sigmoid(2z): one exp and one division.
		a = a[:len(x)]
		if f, ok := asF32(x); ok { // the same steps, vectorised where the CPU can
			af, _ := asF32(a)
			bf, _ := asF32(b)
			yf, _ := asF32(y)
			geluArg32(af, f, bf)
			sigmoid32s(af)
			biasMul32(yf, f, bf, af, float32(s))
			return
		}
		for j, v := range x {
			u := v + b[j]
			a[j] = 2 * geluK * u * (1 + geluC*u*u)
		}
		vsigmoid(a)
		for j, v := range x {
			y[j] = (v + b[j]) * a[j] * s
		}
	case ActGELU:
		a = a[:len(x)]
		for j, v := range x {
			a[j] = (v + b[j]) * math.Sqrt2 / 2
		}
		verf(a)
		for j, v := range x {
			u, phi := v+b[j], 0.5*(1+a[j])
			a[j] = phi
			y[j] = u * phi * s
		}
	case ActSiLU:
		a = a[:len(x)]
		for j, v := range x {
			a[j] = v + b[j]
		}
		vsigmoid(a)
		for j, v := range x {
			y[j] = (v + b[j]) * a[j] * s
		}
	case ActTanh:
		a = a[:len(x)]
		for j, v := range x {
			a[j] = v + b[j]
		}
		vtanh(a)
		for j := range x {
			y[j] = a[j] * s
		}
	}
}

// actBwd sets dx = dy·s·act'(u) over one gate group, u = x + b, and, when
// wantSum is set, returns Σ dy·act(u) (the gate's gradient) in float64.
func actBwd[T Float](act Activation, dx, dy, a, x, b []T, s T, wantSum bool) float64 {
	b, dx, dy = b[:len(x)], dx[:len(x)], dy[:len(x)]
	var sum float64
	switch act {
	case ActIdentity:
		for j, v := range x {
			dx[j] = dy[j] * s
			if wantSum {
				sum += float64(dy[j] * (v + b[j]))
			}
		}
	case ActReLU:
		// Indexing {0, 1} by u > 0 compiles to a flag set, not a branch that
		// random signs would mispredict half the time (10x slower).
		step := [2]T{0, 1}
		for j, v := range x {
			u := v + b[j]
			k := step[btoi(u > 0)]
			dx[j] = dy[j] * s * k
			if wantSum {
				sum += float64(dy[j] * u * k)
			}
		}
	case ActGELUTanh:
		a = a[:len(x)]
		for j, v := range x {
			// With σ = sigmoid(2z), z = k·(u + c·u³): act = u·σ and
			// act' = σ + u·2σ(1-σ)·k·(1+3c·u²) (2σ(1-σ)·2 = 1-tanh² z).
			u, sg := v+b[j], a[j]
			dx[j] = dy[j] * s * (sg + 2*u*sg*(1-sg)*geluK*(1+3*geluC*u*u))
			if wantSum {
				sum += float64(dy[j] * u * sg)
			}
		}
	case ActGELU:
		a = a[:len(x)]
		for j, v := range x {
			u := v + b[j]
			dx[j] = -0.5 * u * u
		}
		vexp(dx) // e^{-u²/2}
		for j, v := range x {
			// d/du u·Φ(u) = Φ(u) + u·φ(u), φ(u) = e^{-u²/2}/√(2π)
			u, phi := v+b[j], a[j]
			dx[j] = dy[j] * s * (phi + u*dx[j]*invSqrt2Pi)
			if wantSum {
				sum += float64(dy[j] * u * phi)
			}
		}
	case ActSiLU:
		a = a[:len(x)]
		for j, v := range x {
			u, sg := v+b[j], a[j]
			dx[j] = dy[j] * s * sg * (1 + u*(1-sg))
			if wantSum {
				sum += float64(dy[j] * u * sg)
			}
		}
	case ActTanh:
		a = a[:len(x)]
		for j := range x {
			t := a[j]
			dx[j] = dy[j] * s * (1 - t*t)
			if wantSum {
				sum += float64(dy[j] * t)
			}
		}
	}
	return sum
}
