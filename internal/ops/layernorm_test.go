package ops

import (
	"fmt"
	"math"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/gradcheck"
)

// naiveLayerNorm is the definition, in float64, one row at a time.
func naiveLayerNorm(x, w, b []float64, n, d int, eps float64) []float64 {
	y := make([]float64, n*d)
	for r := range n {
		row := x[r*d : (r+1)*d]
		var m, v float64
		for _, a := range row {
			m += a
		}
		m /= float64(d)
		for _, a := range row {
			v += (a - m) * (a - m)
		}
		v /= float64(d)
		for j, a := range row {
			y[r*d+j] = (a-m)/math.Sqrt(v+eps)*w[j] + b[j]
		}
	}
	return y
}

func layerNormInputs(n, d int) []gradcheck.Input {
	return []gradcheck.Input{
		{Name: "x", Value: gradcheck.Rand(1, 2, n, d), Check: true},
		{Name: "w", Value: gradcheck.Rand(2, 1, d), Check: true},
		{Name: "b", Value: gradcheck.Rand(3, 1, d), Check: true},
	}
}

func buildLayerNorm(eps float64) gradcheck.BuildFunc {
	return func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return LayerNorm(in[0], in[1], in[2], eps) }
}

// TestLayerNormValues checks [1, 2, 3] by hand: mean 2, biased variance 2/3,
// so with w = 1, b = 0 the output is ±1/sqrt(2/3+eps) and 0; a second row
// checks w, b and a large offset against the naive definition.
func TestLayerNormValues(t *testing.T) {
	const eps = 1e-5
	x := []float64{1, 2, 3, 1e4 + 1, 1e4 - 2, 1e4 + 4}
	w, b := []float64{1, 1, 1}, []float64{0, 0, 0}
	ins := []gradcheck.Input{{Name: "x", Value: denseValue(x, 2, 3)}, {Name: "w", Value: denseValue(w, 3)}, {Name: "b", Value: denseValue(b, 3)}}
	res, err := evalGraph(t, tensor.Float64, ins, buildLayerNorm(eps), 1)
	if err != nil {
		t.Fatal(err)
	}
	s := 1 / math.Sqrt(2.0/3+eps)
	if msg := closeTo(res.out[:3], []float64{-s, 0, s}, 1e-15); msg != "" {
		t.Fatalf("LayerNorm([1 2 3]): %s", msg)
	}
	if msg := closeTo(res.out, naiveLayerNorm(x, w, b, 2, 3, eps), 1e-12); msg != "" {
		t.Fatalf("LayerNorm vs naive: %s", msg)
	}
	ins = layerNormInputs(5, 7)
	res, err = evalGraph(t, tensor.Float64, ins, buildLayerNorm(1e-12), 1)
	if err != nil {
		t.Fatal(err)
	}
	want := naiveLayerNorm(ins[0].Value.Data().([]float64), ins[1].Value.Data().([]float64), ins[2].Value.Data().([]float64), 5, 7, 1e-12)
	if msg := closeTo(res.out, want, 1e-13); msg != "" {
		t.Fatalf("LayerNorm vs naive: %s", msg)
	}
}

func TestLayerNormGradients(t *testing.T) {
	for _, eps := range []float64{1e-5, 0.5} {
		if err := gradcheck.Check(layerNormInputs(4, 9), buildLayerNorm(eps), gradcheck.Options{}); err != nil {
			t.Fatalf("eps %g: %v", eps, err)
		}
	}
}

func TestLayerNormFloat32(t *testing.T) {
	checkFloat32(t, layerNormInputs(33, 96), buildLayerNorm(1e-5), 1e-5)
}

func TestLayerNormRejectsBadShapes(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("x"))
	w3 := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("w3"))
	w4 := G.NewVector(g, tensor.Float64, G.WithShape(4), G.WithName("w4"))
	for name, err := range map[string]error{
		"weight": func() error { _, err := LayerNorm(x, w4, w3, 1e-5); return err }(),
		"bias":   func() error { _, err := LayerNorm(x, w3, w4, 1e-5); return err }(),
		"eps":    func() error { _, err := LayerNorm(x, w3, w3, -1); return err }(),
		"rank":   func() error { _, err := LayerNorm(w3, w3, w3, 1e-5); return err }(),
	} {
		if err == nil || !strings.Contains(err.Error(), "LayerNorm") {
			t.Errorf("%s: got error %v", name, err)
		}
	}
}

func BenchmarkLayerNorm(b *testing.B) {
	const n, d = 1024, 256
	x, w, bias, dy := benchTensor(1, 1, n, d), benchTensor(2, 1, d), benchTensor(3, 1, d), benchTensor(4, 1, n, d)
	fwd := &layerNorm{base: newBase("bench"), eps: 1e-5}
	bwd := &layerNormGrad{base: newBase("bench"), fwd: fwd}
	y, _ := fwd.Do(x, w, bias)
	b.Run(fmt.Sprintf("N=%d,D=%d/fwd", n, d), func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(2 * 4 * n * d)
		for b.Loop() {
			fwd.Do(x, w, bias)
		}
	})
	b.Run(fmt.Sprintf("N=%d,D=%d/bwd", n, d), func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(3 * 4 * n * d)
		for b.Loop() {
			bwd.Do(x, w, y, dy)
		}
	})
}
