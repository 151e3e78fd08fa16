package loss

import (
	"fmt"
	"math"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/gradcheck"
	"github.com/sparsetune/sparsetune/nn"
)

// probInputs returns per-layer on-probabilities (n, cols) in (0, 1),
// including values near 0 and 1, as gradcheck inputs.
func probInputs(prefix string, layers, n, cols int, seed uint64) []gradcheck.Input {
	var in []gradcheck.Input
	for l := 0; l < layers; l++ {
		t := gradcheck.Rand(seed+uint64(l), 2, n, cols)
		d := t.Data().([]float64)
		for i, v := range d {
			d[i] = 1 / (1 + math.Exp(-v))
		}
		d[0], d[len(d)-1] = 1e-6, 1-1e-6
		// Distinct names: gorgonia merges input nodes of equal name and shape.
		in = append(in, gradcheck.Input{Name: fmt.Sprintf("%s.%d", prefix, l), Value: t, Check: true})
	}
	return in
}

// meanRows is the mean over rows of each column of a (n, cols) tensor.
func meanRows(t *tensor.Dense) []float64 {
	s := t.Shape()
	out := make([]float64, s[1])
	for i, v := range t.Data().([]float64) {
		out[i%s[1]] += v / float64(s[0])
	}
	return out
}

// TestExpectedComputeMatchesCost: the node's value equals Cost.Expected of
// the per-unit means over tokens, with both parts routed and with one part
// unrouted, and its gradient agrees with finite differences and with the
// closed form cost_u / (N · Dense).
func TestExpectedComputeMatchesCost(t *testing.T) {
	const n = 5
	c := costConfig(nn.LLaMA)
	cost, err := NewCost(c, 4, 6, 0)
	if err != nil {
		t.Fatal(err)
	}
	groups := c.F / 4
	for _, tc := range []struct {
		name        string
		heads, ffns bool
	}{{"both routed", true, true}, {"FFN only", false, true}, {"heads only", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			var in []gradcheck.Input
			if tc.heads {
				in = append(in, probInputs("head", c.L, n, c.H, 1)...)
			}
			if tc.ffns {
				in = append(in, probInputs("group", c.L, n, groups, 10)...)
			}
			split := func(nodes []*G.Node) (head, group []*G.Node) {
				if tc.heads {
					head, nodes = nodes[:c.L], nodes[c.L:]
				}
				if tc.ffns {
					group = nodes
				}
				return head, group
			}
			build := func(g *G.ExprGraph, nodes []*G.Node) (*G.Node, error) {
				h, gr := split(nodes)
				return ExpectedCompute(cost, h, gr)
			}
			if err := gradcheck.Check(in, build, gradcheck.Options{Seed: 4}); err != nil {
				t.Fatal(err)
			}

			g := G.NewGraph()
			nodes := make([]*G.Node, len(in))
			for i, x := range in {
				nodes[i] = G.NewTensor(g, tensor.Float64, 2, G.WithShape(x.Value.Shape()...), G.WithValue(x.Value), G.WithName(x.Name))
			}
			h, gr := split(nodes)
			cHat, err := ExpectedCompute(cost, h, gr)
			if err != nil {
				t.Fatal(err)
			}
			grads, err := G.Grad(cHat, nodes...)
			if err != nil {
				t.Fatal(err)
			}
			m := G.NewTapeMachine(g)
			defer m.Close()
			m.Reset()
			if err := m.RunAll(); err != nil {
				t.Fatal(err)
			}
			means := func(part []*G.Node) [][]float64 {
				if part == nil {
					return nil
				}
				out := make([][]float64, len(part))
				for l, p := range part {
					out[l] = meanRows(p.Value().(*tensor.Dense))
				}
				return out
			}
			want := cost.Expected(means(h), means(gr))
			if got := cHat.Value().Data().(float64); math.Abs(got-want) > 1e-13 {
				t.Errorf("ĉ = %v, Cost.Expected = %v", got, want)
			}
			// dĉ/dp of layer 1's first unit: cost_u / (N · Dense).
			costs := cost.Group
			if tc.heads {
				costs = cost.Head
			}
			if got, want := grads[1].Value().Data().([]float64)[0], costs[1][0]/(n*cost.Dense()); math.Abs(got-want) > 1e-15 {
				t.Errorf("dĉ/dp = %v, want cost/(N·Dense) = %v", got, want)
			}
		})
	}
}

func TestExpectedComputeRejects(t *testing.T) {
	c := costConfig(nn.GPT2)
	cost, err := NewCost(c, 4, 6, 0)
	if err != nil {
		t.Fatal(err)
	}
	g := G.NewGraph()
	p := func(cols int) *G.Node { return G.NewMatrix(g, tensor.Float64, G.WithShape(3, cols)) }
	for _, tc := range []struct {
		name        string
		head, group []*G.Node
		want        string
	}{
		{"nothing routed", nil, nil, "nothing is routed"},
		{"layers", []*G.Node{p(c.H)}, nil, "layers"},
		{"heads", []*G.Node{p(c.H), p(c.H + 1)}, nil, "want (N, 3)"},
		{"groups", nil, []*G.Node{p(6), p(5)}, "groupP layer 1"},
	} {
		if _, err := ExpectedCompute(cost, tc.head, tc.group); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	// A nil entry leaves one layer unrouted.
	if _, err := ExpectedCompute(cost, []*G.Node{nil, p(c.H)}, nil); err != nil {
		t.Errorf("one routed layer: %v", err)
	}
}

// penaltyAt builds the penalty on a scalar input ĉ and returns the
// penalty's value and dP/dĉ at c.
func penaltyAt(t *testing.T, l *Lagrangian, dt tensor.Dtype, c, target float64) (float64, float64) {
	t.Helper()
	g := G.NewGraph()
	cHat := G.NewScalar(g, dt, G.WithName("c_hat"), G.WithValue(scalarOfDtype(dt, c)))
	pen, err := l.Penalty(cHat)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Feed(target); err != nil {
		t.Fatal(err)
	}
	grads, err := G.Grad(pen, cHat)
	if err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	return scalarFloat(pen.Value()), scalarFloat(grads[0].Value())
}

// TestLagrangianPenalty checks P = λ1(ĉ−t) + λ2(ĉ−t)² and dP/dĉ against
// the formula and a central finite difference, in float64 and float32.
func TestLagrangianPenalty(t *testing.T) {
	const l1, l2, target = 0.8, 3.0, 0.4
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, c := range []float64{0.9, 0.4, 0.1} {
			l := &Lagrangian{Lambda1: l1, Lambda2: l2}
			p, d := penaltyAt(t, l, dt, c, target)
			want, wantD := l1*(c-target)+l2*(c-target)*(c-target), l1+2*l2*(c-target)
			tol := 1e-12
			if dt == tensor.Float32 {
				tol = 1e-6
			}
			if math.Abs(p-want) > tol || math.Abs(d-wantD) > tol {
				t.Errorf("%v ĉ=%v: P = %v, dP/dĉ = %v; want %v, %v", dt, c, p, d, want, wantD)
			}
			if dt == tensor.Float64 {
				const eps = 1e-6
				pp, _ := penaltyAt(t, l, dt, c+eps, target)
				pm, _ := penaltyAt(t, l, dt, c-eps, target)
				if num := (pp - pm) / (2 * eps); math.Abs(num-d) > 1e-7 {
					t.Errorf("ĉ=%v: dP/dĉ = %v, finite difference %v", c, d, num)
				}
			}
		}
	}
}

// TestLagrangianRefeed: one graph serves every step; Feed changes the
// multipliers and target the next run uses.
func TestLagrangianRefeed(t *testing.T) {
	g := G.NewGraph()
	cHat := G.NewScalar(g, tensor.Float64, G.WithName("c_hat"), G.WithValue(G.NewF64(0.7)))
	l := &Lagrangian{Lambda1: 1}
	pen, err := l.Penalty(cHat)
	if err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	for _, step := range []struct{ l1, l2, target, want float64 }{
		{1, 0, 0.5, 0.2}, {2, 10, 0.6, 2*0.1 + 10*0.01}, {-1, 0, 0.9, 0.2},
	} {
		l.Lambda1, l.Lambda2 = step.l1, step.l2
		if err := l.Feed(step.target); err != nil {
			t.Fatal(err)
		}
		m.Reset()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		if got := scalarFloat(pen.Value()); math.Abs(got-step.want) > 1e-12 {
			t.Errorf("λ=(%v, %v), t=%v: P = %v, want %v", step.l1, step.l2, step.target, got, step.want)
		}
	}
}

// TestLagrangianUpdate: explicit ascent raises λ1 while ĉ is above the
// target and lowers it below; λ2 only rises; FixedWeight never moves.
func TestLagrangianUpdate(t *testing.T) {
	l := &Lagrangian{LR: 0.5}
	if err := l.Update(0.9, 0.5); err != nil {
		t.Fatal(err)
	}
	if math.Abs(l.Lambda1-0.2) > 1e-15 || math.Abs(l.Lambda2-0.08) > 1e-15 {
		t.Errorf("after ĉ=0.9, t=0.5: λ = (%v, %v), want (0.2, 0.08)", l.Lambda1, l.Lambda2)
	}
	if err := l.Update(0.1, 0.5); err != nil {
		t.Fatal(err)
	}
	if math.Abs(l.Lambda1-0) > 1e-15 || math.Abs(l.Lambda2-0.16) > 1e-15 {
		t.Errorf("after ĉ=0.1, t=0.5: λ = (%v, %v), want (0, 0.16)", l.Lambda1, l.Lambda2)
	}
	if err := l.Update(math.NaN(), 0.5); err == nil || l.Lambda1 != 0 {
		t.Errorf("NaN ĉ: err = %v, λ1 = %v; want an error and λ unchanged", err, l.Lambda1)
	}
	f := FixedWeight(0.3)
	if err := f.Update(0.9, 0.1); err != nil || f.Lambda1 != 0.3 || f.Lambda2 != 0 || !f.Fixed() {
		t.Errorf("fixed weight moved: λ = (%v, %v), err %v", f.Lambda1, f.Lambda2, err)
	}
}

// TestFixedWeight: the fixed-weight penalty is w·ĉ whatever target is fed.
func TestFixedWeight(t *testing.T) {
	p, d := penaltyAt(t, FixedWeight(0.3), tensor.Float64, 0.8, 0.5)
	if math.Abs(p-0.24) > 1e-15 || math.Abs(d-0.3) > 1e-15 {
		t.Errorf("P = %v, dP/dĉ = %v; want 0.24, 0.3", p, d)
	}
}

func TestLagrangianRejects(t *testing.T) {
	l := &Lagrangian{}
	if err := l.Feed(0.5); err == nil {
		t.Error("Feed before Penalty succeeded")
	}
	g := G.NewGraph()
	v := G.NewVector(g, tensor.Float64, G.WithShape(2))
	if _, err := l.Penalty(v); err == nil {
		t.Error("a vector ĉ was accepted")
	}
}

func TestTarget(t *testing.T) {
	for _, tc := range []struct {
		step, warmup int
		goal, want   float64
	}{
		{0, 100, 0.4, 1}, {-5, 100, 0.4, 1}, {50, 100, 0.4, 0.7}, {100, 100, 0.4, 0.4},
		{1000, 100, 0.4, 0.4}, {0, 0, 0.4, 0.4}, {3, -1, 0.25, 0.25},
	} {
		if got := Target(tc.step, tc.warmup, tc.goal); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("Target(%d, %d, %v) = %v, want %v", tc.step, tc.warmup, tc.goal, got, tc.want)
		}
	}
}
