package ops

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/sparsetune/sparsetune/internal/gradcheck"
)

func TestDistillKLGradient(t *testing.T) {
	for _, temp := range []float64{1, 2.5} {
		ins := []gradcheck.Input{
			{Name: "student", Value: gradcheck.Rand(1, 2, 4, 5), Check: true},
			{Name: "teacher", Value: gradcheck.Rand(2, 2, 4, 5)},
			{Name: "weights", Value: gradcheck.Const([]float64{1, 0, 1, 1}, 4)},
		}
		err := gradcheck.Check(ins, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			return DistillKL(in[0], in[1], in[2], temp)
		}, gradcheck.Options{})
		if err != nil {
			t.Fatalf("τ %g: %v", temp, err)
		}
	}
}

// TestDistillKLValues: zero when student equals teacher, and the textbook
// value on a hand-computed row.
func TestDistillKLValues(t *testing.T) {
	run := func(s, tt []float64, temp float64) float64 {
		g := G.NewGraph()
		sn := G.NewTensor(g, gradcheck.Const(s, 1, len(s)).Dtype(), 2, G.WithShape(1, len(s)), G.WithValue(gradcheck.Const(s, 1, len(s))), G.WithName("s"))
		tn := G.NewTensor(g, sn.Dtype(), 2, G.WithShape(1, len(s)), G.WithValue(gradcheck.Const(tt, 1, len(s))), G.WithName("t"))
		wn := G.NewTensor(g, sn.Dtype(), 1, G.WithShape(1), G.WithValue(gradcheck.Const([]float64{1}, 1)), G.WithName("w"))
		out, err := DistillKL(sn, tn, wn, temp)
		if err != nil {
			t.Fatal(err)
		}
		m := G.NewTapeMachine(g)
		defer m.Close()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		return out.Value().Data().(float64)
	}
	if v := run([]float64{1, 2, 3}, []float64{1, 2, 3}, 2); math.Abs(v) > 1e-12 {
		t.Fatalf("KL of equal distributions = %g", v)
	}
	// Student uniform over 2 classes, teacher (e^1, e^0)/Z at τ = 1:
	// KL = Σ pt log(pt/0.5).
	pt0 := math.E / (math.E + 1)
	want := pt0*math.Log(pt0/0.5) + (1-pt0)*math.Log((1-pt0)/0.5)
	if v := run([]float64{0, 0}, []float64{1, 0}, 1); math.Abs(v-want) > 1e-12 {
		t.Fatalf("KL = %.12f, want %.12f", v, want)
	}
}
