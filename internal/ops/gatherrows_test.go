package ops

import (
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/sparsetune/sparsetune/internal/gradcheck"
)

func TestGatherRowsGradient(t *testing.T) {
	ins := []gradcheck.Input{
		{Name: "x", Value: gradcheck.Rand(1, 1, 6, 3), Check: true},
		{Name: "idx", Value: gradcheck.Const([]float64{5, 0, 5}, 3)}, // a repeated row accumulates
	}
	err := gradcheck.Check(ins, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		return GatherRows(in[0], in[1])
	}, gradcheck.Options{})
	if err != nil {
		t.Fatal(err)
	}
}

func TestGatherRowsRejectsBadIndex(t *testing.T) {
	ins := []gradcheck.Input{
		{Name: "x", Value: gradcheck.Rand(1, 1, 4, 2), Check: true},
		{Name: "idx", Value: gradcheck.Const([]float64{4}, 1)},
	}
	err := gradcheck.Check(ins, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		return GatherRows(in[0], in[1])
	}, gradcheck.Options{})
	if err == nil {
		t.Fatal("row 4 of a 4-row input was accepted")
	}
}
