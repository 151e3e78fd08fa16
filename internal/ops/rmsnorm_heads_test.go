package ops

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/gradcheck"
)

func buildRMSNormHeads(eps float64) gradcheck.BuildFunc {
	return func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return RMSNormHeads(in[0], in[1], eps) }
}

// TestRMSNormHeadsValues checks that each S-wide head of a row is
// normalised on its own: the same numbers through RMSNorm on the (N·K, S)
// view must come out identical.
func TestRMSNormHeadsValues(t *testing.T) {
	const eps = 1e-6
	x := []float64{1, 2, 3, -4, 0.5, 2, 7, -1, 0, 3, 3, 3}
	w := []float64{2, -1, 0.5}
	heads, err := evalGraph(t, tensor.Float64, []gradcheck.Input{{Name: "x", Value: denseValue(x, 2, 6)}, {Name: "w", Value: denseValue(w, 3)}}, buildRMSNormHeads(eps), 1)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := evalGraph(t, tensor.Float64, []gradcheck.Input{{Name: "x", Value: denseValue(x, 4, 3)}, {Name: "w", Value: denseValue(w, 3)}}, buildRMSNorm(eps), 1)
	if err != nil {
		t.Fatal(err)
	}
	if msg := closeTo(heads.out, rows.out, 0); msg != "" {
		t.Fatal(msg)
	}
	// A whole-row RMSNorm differs: the heads really are separate.
	whole, err := evalGraph(t, tensor.Float64, []gradcheck.Input{{Name: "x", Value: denseValue(x, 2, 6)}, {Name: "w", Value: denseValue(append(append([]float64{}, w...), w...), 6)}}, buildRMSNorm(eps), 1)
	if err != nil {
		t.Fatal(err)
	}
	if msg := closeTo(whole.out, rows.out, 1e-6); msg == "" {
		t.Fatal("per-head and whole-row RMSNorm agree: the test does not tell them apart")
	}
}

func TestRMSNormHeadsGradients(t *testing.T) {
	ins := []gradcheck.Input{
		{Name: "x", Value: gradcheck.Rand(1, 2, 4, 12), Check: true},
		{Name: "w", Value: gradcheck.Rand(2, 1, 3), Check: true},
	}
	if err := gradcheck.Check(ins, buildRMSNormHeads(1e-6), gradcheck.Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestRMSNormHeadsRejectsBadShapes(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 6), G.WithName("x"))
	w := G.NewVector(g, tensor.Float64, G.WithShape(4), G.WithName("w"))
	if _, err := RMSNormHeads(x, w, 1e-6); err == nil {
		t.Fatal("a (4) weight for (2, 6) x was accepted")
	}
}
