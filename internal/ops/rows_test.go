package ops

import (
	"fmt"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/gradcheck"
)

func buildSelectRows(stride int) gradcheck.BuildFunc {
	return func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return SelectRows(in[0], stride) }
}

func TestSelectRowsValues(t *testing.T) {
	x := []float64{0, 1, 10, 11, 20, 21, 30, 31, 40, 41, 50, 51}
	res, err := evalGraph(t, tensor.Float64, []gradcheck.Input{{Name: "x", Value: denseValue(x, 6, 2)}}, buildSelectRows(3), 1)
	if err != nil {
		t.Fatal(err)
	}
	if msg := closeTo(res.out, []float64{0, 1, 30, 31}, 0); msg != "" {
		t.Fatal(msg)
	}
}

func TestSelectRowsGradients(t *testing.T) {
	for _, stride := range []int{1, 2, 4} {
		ins := []gradcheck.Input{{Name: "x", Value: gradcheck.Rand(1, 1, 8, 3), Check: true}}
		if err := gradcheck.Check(ins, buildSelectRows(stride), gradcheck.Options{}); err != nil {
			t.Fatalf("stride %d: %v", stride, err)
		}
	}
}

func TestSelectRowsFloat32(t *testing.T) {
	checkFloat32(t, []gradcheck.Input{{Name: "x", Value: gradcheck.Rand(1, 1, 8, 3), Check: true}}, buildSelectRows(4), 1e-7)
}

func TestSelectRowsRejectsBadStride(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(6, 2), G.WithName("x"))
	for _, s := range []int{0, -1, 4} {
		if _, err := SelectRows(x, s); err == nil {
			t.Errorf("stride %d for 6 rows was accepted", s)
		}
	}
}

func BenchmarkSelectRows(b *testing.B) {
	const n, d, stride = 1024, 256, 128
	x, dy := benchTensor(1, 1, n, d), benchTensor(2, 1, n/stride, d)
	idx := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(n/stride))
	for i := 0; i < n/stride; i++ {
		idx.Set(i, float32(i*stride))
	}
	fwd := &gatherRows{base: newBase("bench")}
	bwd := &scatterRows{base: newBase("bench"), shape: tensor.Shape{n, d}}
	b.Run(fmt.Sprintf("N=%d,D=%d,stride=%d/fwd", n, d, stride), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fwd.Do(x, idx)
		}
	})
	b.Run(fmt.Sprintf("N=%d,D=%d,stride=%d/bwd", n, d, stride), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bwd.Do(idx, dy)
		}
	})
}
