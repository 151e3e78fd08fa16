package ops

import (
	"fmt"
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/gradcheck"
)

func buildRMSNorm(eps float64) gradcheck.BuildFunc {
	return func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return RMSNorm(in[0], in[1], eps) }
}

// TestRMSNormValues checks [1, 2, 3] by hand: mean(x²) = 14/3, so y =
// w·x/sqrt(14/3 + eps); the second row (with a weight) against the formula.
func TestRMSNormValues(t *testing.T) {
	const eps = 1e-6
	x, w := []float64{1, 2, 3, -4, 0.5, 2}, []float64{1, 1, 1}
	ins := []gradcheck.Input{{Name: "x", Value: denseValue(x, 2, 3)}, {Name: "w", Value: denseValue(w, 3)}}
	res, err := evalGraph(t, tensor.Float64, ins, buildRMSNorm(eps), 1)
	if err != nil {
		t.Fatal(err)
	}
	r0, r1 := 1/math.Sqrt(14.0/3+eps), 1/math.Sqrt((16+0.25+4)/3+eps)
	want := []float64{r0, 2 * r0, 3 * r0, -4 * r1, 0.5 * r1, 2 * r1}
	if msg := closeTo(res.out, want, 1e-15); msg != "" {
		t.Fatal(msg)
	}
	ins[1].Value = denseValue([]float64{2, -1, 0.5}, 3)
	res, err = evalGraph(t, tensor.Float64, ins, buildRMSNorm(eps), 1)
	if err != nil {
		t.Fatal(err)
	}
	want = []float64{2 * r0, -2 * r0, 1.5 * r0, -8 * r1, -0.5 * r1, r1}
	if msg := closeTo(res.out, want, 1e-15); msg != "" {
		t.Fatal(msg)
	}
}

func rmsNormInputs(n, d int) []gradcheck.Input {
	return []gradcheck.Input{
		{Name: "x", Value: gradcheck.Rand(1, 2, n, d), Check: true},
		{Name: "w", Value: gradcheck.Rand(2, 1, d), Check: true},
	}
}

func TestRMSNormGradients(t *testing.T) {
	for _, eps := range []float64{1e-6, 0.5} {
		if err := gradcheck.Check(rmsNormInputs(4, 9), buildRMSNorm(eps), gradcheck.Options{}); err != nil {
			t.Fatalf("eps %g: %v", eps, err)
		}
	}
}

func TestRMSNormFloat32(t *testing.T) {
	checkFloat32(t, rmsNormInputs(33, 96), buildRMSNorm(1e-6), 1e-5)
}

func TestRMSNormRejectsBadShapes(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("x"))
	w := G.NewVector(g, tensor.Float64, G.WithShape(2), G.WithName("w"))
	if _, err := RMSNorm(x, w, 1e-6); err == nil {
		t.Fatal("a (2) weight for (2, 3) x was accepted")
	}
	if _, err := RMSNorm(x, x, math.NaN()); err == nil {
		t.Fatal("eps NaN was accepted")
	}
}

func BenchmarkRMSNorm(b *testing.B) {
	const n, d = 1024, 256
	x, w, dy := benchTensor(1, 1, n, d), benchTensor(2, 1, d), benchTensor(4, 1, n, d)
	fwd := &rmsNorm{base: newBase("bench"), eps: 1e-6}
	bwd := &rmsNormGrad{base: newBase("bench"), fwd: fwd}
	y, _ := fwd.Do(x, w)
	b.Run(fmt.Sprintf("N=%d,D=%d/fwd", n, d), func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(2 * 4 * n * d)
		for b.Loop() {
			fwd.Do(x, w)
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
