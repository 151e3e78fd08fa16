package router

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Separability returns the scalar regulariser
//
//	S = mean over layers, units and tokens of exp(−(p − τ)² / (2σ²))
//
// of the on-probabilities p of the graph last built (Probs), σ =
// Config.SepWidth. Adding w·S to the stage-1 loss pushes every p away from
// the threshold τ, so that hardening in stage 2 (p → 1[p > τ]) changes the
// model little (LTE, Zheng et al. 2024, §3.2, whose separability loss has
// this purpose).
//
// Why this form. S is a Gaussian bump centred on τ: it is bounded (0 < S ≤
// 1, and S reads as the share of gates that are still undecided, within
// about σ of τ), its gradient −(p−τ)/σ²·bump is largest at |p − τ| = σ and
// vanishes for decided gates, so it does not keep driving decided logits
// towards ±∞ (where σ'(l) → 0 would starve the task loss's gradient to the
// router) and it never fights the compute penalty far from τ. An inverse
// distance 1/(p−τ)² is unbounded at τ and its gradient explodes there; a
// negative squared distance −(p−τ)² pushes hardest on gates that are
// already decided, towards saturation. Like any function of |p − τ| its
// gradient is 0 at p = τ exactly, an unstable point that the noise of
// training leaves at once.
//
// The term applies to the Soft stage's p of every kind (for hard-concrete
// it separates P(z ≠ 0), which stage 2 thresholds); it is an error to ask
// for it after a Hard build, whose gates are already binary.
func (s *Set) Separability() (*G.Node, error) {
	if s.graph == nil {
		return nil, errors.New("router separability: no graph built yet (build the model with GateFunc(Soft) first)")
	}
	if s.Config.Routing == TopK {
		return nil, errors.New("router separability: top-k gates have no threshold to separate from")
	}
	if s.stage != Soft {
		return nil, errors.New("router separability: the last graph was built with Hard gates, which are binary; build with GateFunc(Soft)")
	}
	var ps G.Nodes
	for _, n := range append(append([]*G.Node{}, s.headP...), s.groupP...) {
		if n != nil {
			ps = append(ps, n)
		}
	}
	if len(ps) == 0 {
		return nil, errors.New("router separability: the graph has no gates (did the model call the GateFunc?)")
	}
	return separability(ps, s.Config.Tau, s.Config.SepWidth)
}

// separability builds S over the probability nodes ps, each (N, U).
func separability(ps G.Nodes, tau, sigma float64) (*G.Node, error) {
	count := 0
	for _, p := range ps {
		if p.Dims() != 2 {
			return nil, fmt.Errorf("router separability: probabilities %v are not (N, U)", p.Shape())
		}
		count += p.Shape().TotalSize()
	}
	op := &sepOp{base: newBase(fmt.Sprintf("Separability(tau=%g,sigma=%g)", tau, sigma)), k: len(ps), count: count, tau: tau, sigma: sigma}
	return G.ApplyOp(op, ps...)
}

// sepOp is S over k probability tensors.
type sepOp struct {
	base
	k          int
	count      int
	tau, sigma float64
}

func (op *sepOp) Arity() int                                     { return op.k }
func (op *sepOp) Type() hm.Type                                  { return fnType(0, slices.Repeat([]int{2}, op.k)...) }
func (op *sepOp) DiffWRT(n int) []bool                           { return slices.Repeat([]bool{true}, n) }
func (op *sepOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return tensor.ScalarShape(), nil }

// bump is exp(−(p−τ)²/(2σ²)).
func (op *sepOp) bump(p float64) float64 {
	d := (p - op.tau) / op.sigma
	return math.Exp(-0.5 * d * d)
}

func (op *sepOp) Do(in ...G.Value) (G.Value, error) {
	sum := 0.0
	for _, v := range in {
		switch d := v.Data().(type) {
		case []float32:
			for _, p := range d {
				sum += op.bump(float64(p))
			}
		case []float64:
			for _, p := range d {
				sum += op.bump(p)
			}
		}
	}
	return scalarValue(in[0].Dtype(), sum/float64(op.count)), nil
}

// SymDiff: dS/dp = dy · bump(p) · (−(p−τ)/σ²) / count, one op per input.
func (op *sepOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	res := make(G.Nodes, len(in))
	for i, p := range in {
		var err error
		if res[i], err = G.ApplyOp(&sepGrad{base: newBase("SeparabilityGrad"), fwd: op}, p, grad); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// sepGrad takes (p, dy) and returns dS/dp.
type sepGrad struct {
	base
	fwd *sepOp
	out buffer
}

func (op *sepGrad) Arity() int    { return 2 }
func (op *sepGrad) Type() hm.Type { return fnType(2, 2, 0) }
func (op *sepGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *sepGrad) Do(in ...G.Value) (G.Value, error) {
	out := op.out.Get(in[0].Dtype(), in[0].Shape()...)
	f := op.fwd
	scale := scalarOf(in[1]) / float64(f.count)
	d := func(p float64) float64 { return scale * f.bump(p) * -(p - f.tau) / (f.sigma * f.sigma) }
	if in[0].Dtype() == tensor.Float32 {
		o := slice[float32](out)
		for i, p := range slice[float32](in[0]) {
			o[i] = float32(d(float64(p)))
		}
	} else {
		o := slice[float64](out)
		for i, p := range slice[float64](in[0]) {
			o[i] = d(p)
		}
	}
	return out, nil
}
