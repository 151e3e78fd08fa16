package loss

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/ops"
)

// ExpectedCompute returns the scalar node
//
//	ĉ = Σ_layers Σ_units mean_tokens(p[n,u]) · cost_u / cost.Dense()
//
// the differentiable form of Cost.Expected: headP[l] (N, H) and groupP[l]
// (N, G) are the on-probabilities of layer l's units per token (the
// router's Probs), their mean over the N rows being the probability that a
// unit is on for a token of the batch, so ĉ is the expected fraction of the
// dense model's routed FLOPs a token uses. A nil slice or a nil entry
// means that part of that layer is not routed (p = 1). Its gradient is
// dĉ/dp[n,u] = cost_u / (N · Dense).
//
// (Every row counts: with padded batches the mean includes padding tokens,
// which a router processes like any other.)
func ExpectedCompute(cost *Cost, headP, groupP []*G.Node) (*G.Node, error) {
	dense := cost.Dense()
	if !(dense > 0) {
		return nil, fmt.Errorf("expected compute: the cost model's routed blocks cost %g FLOPs", dense)
	}
	op := &expectedOp{base: newBase("ExpectedCompute")}
	var in G.Nodes
	add := func(name string, costs [][]float64, ps []*G.Node) error {
		if ps != nil && len(ps) != len(costs) {
			return fmt.Errorf("expected compute: %s has %d layers, the cost model %d", name, len(ps), len(costs))
		}
		for l, row := range costs {
			if ps == nil || ps[l] == nil {
				op.constant += sumOf(row) / dense
				continue
			}
			p := ps[l]
			if s := p.Shape(); len(s) != 2 || s[1] != len(row) || s[0] < 1 {
				return fmt.Errorf("expected compute: %s layer %d is %v, want (N, %d)", name, l, s, len(row))
			}
			if len(in) > 0 && p.Dtype() != in[0].Dtype() {
				return fmt.Errorf("expected compute: %s layer %d is %v, earlier inputs %v", name, l, p.Dtype(), in[0].Dtype())
			}
			w := make([]float64, len(row))
			for u, c := range row {
				w[u] = c / dense
			}
			in = append(in, p)
			op.weights = append(op.weights, w)
		}
		return nil
	}
	if err := add("headP", cost.Head, headP); err != nil {
		return nil, err
	}
	if err := add("groupP", cost.Group, groupP); err != nil {
		return nil, err
	}
	if len(in) == 0 {
		return nil, errors.New("expected compute: no probabilities given: nothing is routed, ĉ is the constant 1")
	}
	return G.ApplyOp(op, in...)
}

func sumOf(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

// expectedOp is ĉ over its inputs; weights[i][u] = cost_u/Dense for input
// i, constant the share of the unrouted parts.
type expectedOp struct {
	base
	weights  [][]float64
	constant float64
}

func (op *expectedOp) Arity() int { return len(op.weights) }
func (op *expectedOp) Type() hm.Type {
	return lossFnType(0, slices.Repeat([]int{2}, len(op.weights))...)
}
func (op *expectedOp) DiffWRT(n int) []bool { return slices.Repeat([]bool{true}, n) }
func (op *expectedOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}

func (op *expectedOp) Do(in ...G.Value) (G.Value, error) {
	c := op.constant
	for i, v := range in {
		w, s := op.weights[i], 0.0
		switch d := v.Data().(type) {
		case []float32:
			for j, p := range d {
				s += float64(p) * w[j%len(w)]
			}
		case []float64:
			for j, p := range d {
				s += p * w[j%len(w)]
			}
		}
		c += s / float64(v.Shape()[0])
	}
	return scalarOfDtype(in[0].Dtype(), c), nil
}

// SymDiff: dĉ/dp[n,u] = dy · cost_u / (N · Dense), one op per input.
func (op *expectedOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	res := make(G.Nodes, len(in))
	for i, p := range in {
		var err error
		g := &expectedGrad{base: newBase("ExpectedComputeGrad"), w: op.weights[i]}
		if res[i], err = G.ApplyOp(g, p, grad); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// expectedGrad takes (p, dy) and returns dy·w[u]/N in p's shape.
type expectedGrad struct {
	base
	w   []float64
	out *tensor.Dense
}

func (op *expectedGrad) Arity() int    { return 2 }
func (op *expectedGrad) Type() hm.Type { return lossFnType(2, 2, 0) }
func (op *expectedGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *expectedGrad) Do(in ...G.Value) (G.Value, error) {
	s, dt := in[0].Shape(), in[0].Dtype()
	if op.out == nil || op.out.Dtype() != dt || !op.out.Shape().Eq(s) {
		op.out = tensor.New(tensor.Of(dt), tensor.WithShape(s...))
	}
	scale := scalarFloat(in[1]) / float64(s[0])
	switch d := op.out.Data().(type) {
	case []float32:
		for j := range d {
			d[j] = float32(scale * op.w[j%len(op.w)])
		}
	case []float64:
		for j := range d {
			d[j] = scale * op.w[j%len(op.w)]
		}
	}
	return op.out, nil
}

// Lagrangian turns the expected compute ĉ into the penalty
//
//	λ1·(ĉ − t) + λ2·(ĉ − t)²
//
// towards a target t, with multipliers that rise while ĉ misses the target
// (Wang et al. 2020, "Structured Pruning of Large Language Models"; CoFi,
// Xia et al. 2022, "Structured Pruning Learns Compact and Accurate
// Models", §3, with the expected model size in place of ĉ). The model minimises the penalty; the multipliers maximise it, by the
// explicit gradient ascent step of Update (dL/dλ1 = ĉ − t, dL/dλ2 =
// (ĉ − t)²), not by a negative learning rate hidden in an optimizer. It is
// an equality constraint: when ĉ falls below t, λ1 falls too and, once
// negative, pushes compute back up instead of letting the model lose
// accuracy to sparsity nobody asked for.
//
// The multipliers are graph inputs, so one graph serves every step: build
// it with Penalty, call Feed before each run and Update after it.
type Lagrangian struct {
	Lambda1, Lambda2 float64 // current multipliers; CoFi starts both at 0
	LR               float64 // ascent step size of Update

	fixed bool
	// Inputs of the graph built by the last Penalty call.
	lam1, lam2, target *G.Node
}

// FixedWeight returns a controller whose penalty is w·ĉ (LTE's efficiency
// loss, a fixed trade-off with no target; Zheng et al. 2024, §3.2): λ1 = w,
// λ2 = 0, t = 0 whatever Feed is given, and Update does nothing. It is the
// comparison point for the Lagrangian.
func FixedWeight(w float64) *Lagrangian { return &Lagrangian{Lambda1: w, fixed: true} }

// Fixed reports whether l is a FixedWeight controller.
func (l *Lagrangian) Fixed() bool { return l.fixed }

// Penalty builds the penalty node on the scalar ĉ (ExpectedCompute) in
// ĉ's graph, with λ1, λ2 and t as scalar inputs of ĉ's dtype. Gradients
// flow to ĉ only: dP/dĉ = λ1 + 2λ2·(ĉ − t).
func (l *Lagrangian) Penalty(cHat *G.Node) (*G.Node, error) {
	if !cHat.IsScalar() {
		return nil, fmt.Errorf("lagrangian penalty: ĉ is %v, want a scalar", cHat.Shape())
	}
	g, dt := cHat.Graph(), cHat.Dtype()
	op := &penaltyOp{base: newBase("LagrangianPenalty")}
	in := func(name string) *G.Node {
		// The op's id in the name keeps two penalties' inputs apart:
		// gorgonia merges input nodes of equal name and type.
		n := fmt.Sprintf("lagrangian%d.%s", op.ID(), name)
		return G.NewScalar(g, dt, G.WithName(n), G.WithValue(scalarOfDtype(dt, 0)))
	}
	l.lam1, l.lam2, l.target = in("lambda1"), in("lambda2"), in("target")
	if err := l.Feed(1); err != nil {
		return nil, err
	}
	return G.ApplyOp(op, cHat, l.lam1, l.lam2, l.target)
}

// Feed sets the penalty graph's inputs to the current multipliers and the
// target t of the coming step.
func (l *Lagrangian) Feed(t float64) error {
	if l.lam1 == nil {
		return errors.New("lagrangian: Feed before Penalty built the graph")
	}
	if l.fixed {
		t = 0
	}
	dt := l.lam1.Dtype()
	for _, kv := range []struct {
		n *G.Node
		v float64
	}{{l.lam1, l.Lambda1}, {l.lam2, l.Lambda2}, {l.target, t}} {
		if err := G.Let(kv.n, scalarOfDtype(dt, kv.v)); err != nil {
			return fmt.Errorf("lagrangian: feeding %s: %w", kv.n.Name(), err)
		}
	}
	return nil
}

// Update takes one gradient ascent step on the multipliers with the
// step's ĉ and target t: λ1 += LR·(ĉ − t), λ2 += LR·(ĉ − t)². A non-finite
// ĉ is an error and leaves the multipliers unchanged. A FixedWeight
// controller does nothing.
func (l *Lagrangian) Update(cHat, t float64) error {
	if math.IsNaN(cHat) || math.IsInf(cHat, 0) {
		return fmt.Errorf("lagrangian: expected compute is %g", cHat)
	}
	if l.fixed {
		return nil
	}
	d := cHat - t
	l.Lambda1 += l.LR * d
	l.Lambda2 += l.LR * d * d
	return nil
}

// Target is the compute target at step: it falls linearly from 1 (dense)
// at step 0 to goal at step warmup and stays there (a Lagrangian warm-up,
// which ramps the target from the dense model so that the model is
// not asked for the final sparsity at once; CoFi and Sheared-LLaMA warm
// their targets up this way). warmup ≤ 0 means goal from
// the start.
func Target(step, warmup int, goal float64) float64 {
	if warmup <= 0 || step >= warmup {
		return goal
	}
	if step <= 0 {
		return 1
	}
	return 1 - (1-goal)*float64(step)/float64(warmup)
}

// penaltyOp is λ1·(ĉ−t) + λ2·(ĉ−t)² on four scalars (ĉ, λ1, λ2, t).
type penaltyOp struct{ base }

func (op *penaltyOp) Arity() int    { return 4 }
func (op *penaltyOp) Type() hm.Type { return lossFnType(0, 0, 0, 0, 0) }

// DiffWRT: only ĉ; the multipliers are updated by ascent, not descent.
func (op *penaltyOp) DiffWRT(int) []bool { return []bool{true, false, false, false} }
func (op *penaltyOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}

func (op *penaltyOp) Do(in ...G.Value) (G.Value, error) {
	c, l1, l2, t := scalarFloat(in[0]), scalarFloat(in[1]), scalarFloat(in[2]), scalarFloat(in[3])
	d := c - t
	return scalarOfDtype(in[0].Dtype(), l1*d+l2*d*d), nil
}

// SymDiff: dP/dĉ = dy·(λ1 + 2λ2·(ĉ − t)).
func (op *penaltyOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&penaltyGrad{base: newBase("LagrangianPenaltyGrad")}, in[0], in[1], in[2], in[3], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, nil, nil, nil}, nil
}

type penaltyGrad struct{ base }

func (op *penaltyGrad) Arity() int    { return 5 }
func (op *penaltyGrad) Type() hm.Type { return lossFnType(0, 0, 0, 0, 0, 0) }
func (op *penaltyGrad) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}

func (op *penaltyGrad) Do(in ...G.Value) (G.Value, error) {
	c, l1, l2, t, dy := scalarFloat(in[0]), scalarFloat(in[1]), scalarFloat(in[2]), scalarFloat(in[3]), scalarFloat(in[4])
	return scalarOfDtype(in[0].Dtype(), dy*(l1+2*l2*(c-t))), nil
}

// The ops here use internal/ops' framework.

type base = ops.Base

func newBase(name string) base                         { return ops.NewBase("loss." + name) }
func lossFnType(out int, ins ...int) hm.Type           { return ops.FnType(out, ins...) }
func scalarFloat(v G.Value) float64                    { return ops.Scalar(v) }
func scalarOfDtype(dt tensor.Dtype, x float64) G.Value { return ops.ScalarValue(dt, x) }
