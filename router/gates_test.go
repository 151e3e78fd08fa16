package router

import (
	"fmt"
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/gradcheck"
)

// gateCase is one kind and stage of gate on inputs of one regime.
type gateCase struct {
	kind   Kind
	regime string // "open", "partial" or "closed"
}

// gateInputs returns scores (n, u) (nil for static) and a bias (u) whose
// logits put the gates in the regime: biases ±6 for open and closed,
// 0 with larger scores for partial.
func gateInputs(kind Kind, regime string, n, u int, seed uint64) []gradcheck.Input {
	bias := gradcheck.Rand(seed, 0.5, u)
	shift := map[string]float64{"open": 6, "partial": 0, "closed": -6}[regime]
	d := bias.Data().([]float64)
	for i := range d {
		d[i] += shift
	}
	in := []gradcheck.Input{{Name: "bias", Value: bias, Check: true}}
	if kind == Static {
		return in
	}
	scale := 0.5
	if regime == "partial" {
		scale = 2
	}
	scores := gradcheck.Rand(seed+1, scale, n, u)
	return append([]gradcheck.Input{{Name: "scores", Value: scores, Check: true}}, in...)
}

// buildGate returns a BuildFunc producing the gate (or with prob set, the
// on-probability) of the case's kind in stage.
func buildGate(c Config, stage Stage, n int, prob bool, src *noiseSource) gradcheck.BuildFunc {
	return func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		var scores *G.Node
		bias := in[len(in)-1]
		if len(in) == 2 {
			scores = in[0]
		}
		gate, p, err := gateNodes(c, stage, scores, bias, n, src)
		if prob {
			return p, err
		}
		return gate, err
	}
}

func configOf(k Kind) Config {
	c := DefaultConfig()
	c.Kind = k
	return c
}

// TestGateGradients checks the gradient of every soft gate and
// on-probability against finite differences, with gates open, partly open
// and closed. Hard-concrete gates use one frozen noise sample, so every run
// of the check computes the same function.
func TestGateGradients(t *testing.T) {
	const n, u = 5, 4
	for _, k := range []Kind{Sigmoid, HardConcrete, Static} {
		for _, regime := range []string{"open", "partial", "closed"} {
			for _, prob := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/prob=%v", k, regime, prob)
				t.Run(name, func(t *testing.T) {
					src := &noiseSource{frozen: true}
					src.rng.Seed(11, noiseStream)
					in := gateInputs(k, regime, n, u, 3)
					if err := gradcheck.Check(in, buildGate(configOf(k), Soft, n, prob, src), gradcheck.Options{Seed: 1}); err != nil {
						t.Fatal(err)
					}
				})
			}
		}
	}
}

// runGate evaluates a gate of the case on the inputs in dtype dt and
// returns gate and probability values as float64.
func runGate(t *testing.T, c Config, stage Stage, in []gradcheck.Input, n int, dt tensor.Dtype, src *noiseSource) (gate, prob []float64) {
	t.Helper()
	g := G.NewGraph()
	nodes := make([]*G.Node, len(in))
	for i, x := range in {
		v := convert(x.Value, dt)
		nodes[i] = G.NewTensor(g, dt, v.Dims(), G.WithShape(v.Shape()...), G.WithValue(v), G.WithName(x.Name))
	}
	var scores *G.Node
	if len(nodes) == 2 {
		scores = nodes[0]
	}
	gn, pn, err := gateNodes(c, stage, scores, nodes[len(nodes)-1], n, src)
	if err != nil {
		t.Fatal(err)
	}
	var gv, pv G.Value
	G.Read(gn, &gv)
	G.Read(pn, &pv)
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	return float64s(gv), float64s(pv)
}

func convert(t *tensor.Dense, dt tensor.Dtype) *tensor.Dense {
	src := t.Data().([]float64)
	out := tensor.New(tensor.Of(dt), tensor.WithShape(t.Shape()...))
	switch d := out.Data().(type) {
	case []float32:
		for i, v := range src {
			d[i] = float32(v)
		}
	case []float64:
		copy(d, src)
	}
	return out
}

func float64s(v G.Value) []float64 {
	switch d := v.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return append([]float64(nil), d...)
	}
	panic(fmt.Sprintf("not a float tensor: %T", v.Data()))
}

// TestHardIsThresholdedSoft: stage-2 gates are exactly the soft stage's
// on-probabilities thresholded at τ, for every kind, in float32 and
// float64, and binary.
func TestHardIsThresholdedSoft(t *testing.T) {
	const n, u = 64, 6
	for _, k := range []Kind{Sigmoid, HardConcrete, Static} {
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			c := configOf(k)
			c.Tau = 0.6
			in := gateInputs(k, "partial", n, u, 9)
			_, soft := runGate(t, c, Soft, in, n, dt, &noiseSource{})
			hard, hp := runGate(t, c, Hard, in, n, dt, &noiseSource{})
			on := 0
			for i, p := range soft {
				want := 0.0
				if p > c.Tau {
					want = 1
				}
				if hard[i] != want || hp[i] != hard[i] {
					t.Fatalf("%s %v: element %d: soft p %v, hard gate %v (prob %v), want %v", k, dt, i, p, hard[i], hp[i], want)
				}
				on += int(want)
			}
			if k != Static && (on == 0 || on == len(soft)) {
				t.Errorf("%s %v: %d of %d gates on: the case does not exercise the threshold", k, dt, on, len(soft))
			}
		}
	}
}

// TestHardConcreteLouizosTau: with Tau = LouizosTau, hard-concrete stage-2
// gates keep exactly the units whose deterministic test-time gate
// ẑ = min(1, max(0, σ(log α)(ζ−γ)+γ)) is positive (Louizos et al. 2018, §4).
func TestHardConcreteLouizosTau(t *testing.T) {
	const n, u = 200, 3
	c := configOf(HardConcrete)
	c.Tau = c.LouizosTau()
	if math.Abs(c.Tau-0.3102) > 1e-4 {
		t.Errorf("LouizosTau = %v, want 0.3102 for β = 2/3, γ = −0.1, ζ = 1.1", c.Tau)
	}
	in := gateInputs(HardConcrete, "partial", n, u, 5)
	in[1].Value.Data().([]float64)[0] = -2 // shift one unit down so that both sides of ẑ = 0 occur
	hard, _ := runGate(t, c, Hard, in, n, tensor.Float64, &noiseSource{})
	s, b := in[0].Value.Data().([]float64), in[1].Value.Data().([]float64)
	on := 0
	for i := range hard {
		l := s[i] + b[i%u]
		zhat := min(1, max(0, sigmoid(l)*(c.Zeta-c.Gamma)+c.Gamma))
		want := 0.0
		if zhat > 0 {
			want = 1
		}
		if hard[i] != want {
			t.Fatalf("element %d: logit %v, ẑ = %v, hard gate %v", i, l, zhat, hard[i])
		}
		on += int(want)
	}
	if on == 0 || on == len(hard) {
		t.Errorf("%d of %d units kept: the case does not exercise ẑ = 0", on, len(hard))
	}
}

// TestHardConcreteDistribution draws many samples of units with known
// logits and compares the share of z ≠ 0 with P(z ≠ 0), the probability
// the penalty uses, and the share of z = 1 with its closed form
// σ(l − β·logit((1−γ)/(ζ−γ))).
func TestHardConcreteDistribution(t *testing.T) {
	const n = 20000
	c := configOf(HardConcrete)
	logits := []float64{-3, -1, 0, 1.345, 3}
	bias := gradcheck.Const(logits, len(logits))
	src := &noiseSource{}
	src.rng.Seed(1, noiseStream)
	z, p := runGate(t, c, Soft, []gradcheck.Input{{Name: "logits", Value: bias}}, n, tensor.Float64, src)
	for j, l := range logits {
		var nonzero, one float64
		for r := 0; r < n; r++ {
			v := z[r*len(logits)+j]
			if v < 0 || v > 1 {
				t.Fatalf("sample %v outside [0, 1]", v)
			}
			if v != 0 {
				nonzero++
			}
			if v == 1 {
				one++
			}
		}
		nonzero /= n
		one /= n
		// z ≠ 0 ⇔ s > −γ/(ζ−γ) ⇔ noise > β·logit(−γ/(ζ−γ)) − l, and the
		// logistic noise has CDF σ; likewise z = 1 ⇔ s ≥ (1−γ)/(ζ−γ).
		wantNZ := sigmoid(l - c.Beta*logit(-c.Gamma/(c.Zeta-c.Gamma)))
		wantOne := sigmoid(l - c.Beta*logit((1-c.Gamma)/(c.Zeta-c.Gamma)))
		if math.Abs(p[j]-wantNZ) > 1e-12 {
			t.Errorf("logit %v: P(z≠0) node %v, closed form %v", l, p[j], wantNZ)
		}
		tol := 4 * math.Sqrt(0.25/n) // four standard errors of a proportion
		if math.Abs(nonzero-wantNZ) > tol || math.Abs(one-wantOne) > tol {
			t.Errorf("logit %v: sampled P(z≠0) %.4f, P(z=1) %.4f; want %.4f, %.4f (±%.3f)", l, nonzero, one, wantNZ, wantOne, tol)
		}
	}
	// InitOpen's logit gives P(z ≠ 0) = 0.95.
	if got := sigmoid(c.initLogit() - c.probShift()); math.Abs(got-0.95) > 1e-12 {
		t.Errorf("initial P(z≠0) = %v, want 0.95", got)
	}
}

// TestHardGateHasNoGradient: gorgonia refuses router inputs as gradient
// targets through a hard gate.
func TestHardGateHasNoGradient(t *testing.T) {
	const n, u = 3, 2
	g := G.NewGraph()
	in := gateInputs(Sigmoid, "partial", n, u, 1)
	s := G.NewTensor(g, tensor.Float64, 2, G.WithShape(n, u), G.WithValue(in[0].Value), G.WithName("scores"))
	b := G.NewTensor(g, tensor.Float64, 1, G.WithShape(u), G.WithValue(in[1].Value), G.WithName("bias"))
	gate, _, err := gateNodes(DefaultConfig(), Hard, s, b, n, &noiseSource{})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := G.Sum(gate)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(sum, s, b); err == nil {
		t.Fatal("G.Grad through a hard gate succeeded; stage-2 routers must be frozen")
	}
}

// TestSeparability checks S's value against its formula and its gradient
// against finite differences, with probabilities on both sides of τ.
func TestSeparability(t *testing.T) {
	const tau, sigma = 0.5, 0.1
	a := gradcheck.Const([]float64{0.01, 0.3, 0.45, 0.5, 0.52, 0.7, 0.99, 0.6}, 2, 4)
	b := gradcheck.Const([]float64{0.41, 0.58, 0.2}, 3, 1)
	build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return separability(in, tau, sigma) }
	in := []gradcheck.Input{{Name: "a", Value: a, Check: true}, {Name: "b", Value: b, Check: true}}
	if err := gradcheck.Check(in, build, gradcheck.Options{Seed: 2}); err != nil {
		t.Fatal(err)
	}
	want := 0.0
	all := append(append([]float64{}, a.Data().([]float64)...), b.Data().([]float64)...)
	for _, p := range all {
		want += math.Exp(-(p - tau) * (p - tau) / (2 * sigma * sigma))
	}
	want /= float64(len(all))
	g := G.NewGraph()
	nodes := []*G.Node{
		G.NewTensor(g, tensor.Float64, 2, G.WithShape(2, 4), G.WithValue(a)),
		G.NewTensor(g, tensor.Float64, 2, G.WithShape(3, 1), G.WithValue(b)),
	}
	sep, err := separability(nodes, tau, sigma)
	if err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	if got := scalarOf(sep.Value()); math.Abs(got-want) > 1e-15 {
		t.Errorf("S = %v, want %v", got, want)
	}
}
