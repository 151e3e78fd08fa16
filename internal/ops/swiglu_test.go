package ops

import (
	"fmt"
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/gradcheck"
)

// swiGLUCase returns gateProj and upProj (n, f), an (n, f/group) gate of
// the given kind, and the matching build function.
func swiGLUCase(n, f, group int, scale float64, kind string) ([]gradcheck.Input, gradcheck.BuildFunc) {
	ins := []gradcheck.Input{
		{Name: "gateProj", Value: gradcheck.Rand(1, scale, n, f), Check: true},
		{Name: "upProj", Value: gradcheck.Rand(2, 1, n, f), Check: true},
	}
	g := gateValue(kind, n, f/group)
	if g == nil {
		return ins, func(_ *G.ExprGraph, in []*G.Node) (*G.Node, error) { return SwiGLU(in[0], in[1], nil, 0) }
	}
	ins = append(ins, gradcheck.Input{Name: "gate", Value: g, Check: true})
	return ins, func(_ *G.ExprGraph, in []*G.Node) (*G.Node, error) { return SwiGLU(in[0], in[1], in[2], group) }
}

func TestSwiGLUValues(t *testing.T) {
	for _, kind := range gateKinds {
		ins, build := swiGLUCase(3, 6, 3, 2, kind)
		res, err := evalGraph(t, tensor.Float64, ins, build, 1)
		if err != nil {
			t.Fatal(err)
		}
		a, c := ins[0].Value.Data().([]float64), ins[1].Value.Data().([]float64)
		for i := range a {
			want := a[i] / (1 + math.Exp(-a[i])) * c[i]
			if kind != "dense" {
				want *= ins[2].Value.Data().([]float64)[i/3]
			}
			if math.Abs(res.out[i]-want) > 1e-15*(1+math.Abs(want)) {
				t.Fatalf("%s: y[%d] = %v, want %v", kind, i, res.out[i], want)
			}
		}
	}
}

func TestSwiGLUGradients(t *testing.T) {
	for _, kind := range gateKinds {
		ins, build := swiGLUCase(3, 8, 4, 2, kind)
		if err := gradcheck.Check(ins, build, gradcheck.Options{}); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
	}
}

func TestSwiGLUFloat32(t *testing.T) {
	for _, kind := range []string{"dense", "partial"} {
		ins, build := swiGLUCase(16, 256, 32, 3, kind)
		checkFloat32(t, ins, build, 2e-6)
	}
}

func TestSwiGLURejectsBadShapes(t *testing.T) {
	g := G.NewGraph()
	a := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 8), G.WithName("a"))
	c := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 4), G.WithName("c"))
	gate := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 2), G.WithName("gate"))
	if _, err := SwiGLU(a, c, nil, 0); err == nil {
		t.Error("gateProj (2, 8) with upProj (2, 4) was accepted")
	}
	if _, err := SwiGLU(a, a, gate, 3); err == nil {
		t.Error("a (2, 2) gate with groups of 3 for F = 8 was accepted")
	}
}

func BenchmarkSwiGLU(b *testing.B) {
	const n, f, group = 1024, 1024, 64
	a, c, dy, gate := benchTensor(1, 1, n, f), benchTensor(2, 1, n, f), benchTensor(3, 1, n, f), benchTensor(4, 1, n, f/group)
	for _, gated := range []bool{false, true} {
		fwd := &swiGLU{base: newBase("bench"), hasGate: gated, group: group}
		in := []G.Value{a, c}
		if gated {
			in = append(in, gate)
		}
		bwd := &swiGLUGrad{base: newBase("bench"), fwd: fwd}
		y, _ := fwd.Do(in...)
		bin := append(append([]G.Value{}, in...), y, dy)
		name := fmt.Sprintf("gated=%v/N=%d,F=%d", gated, n, f)
		b.Run(name+"/fwd", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(3 * 4 * n * f)
			for b.Loop() {
				fwd.Do(in...)
			}
		})
		b.Run(name+"/bwd", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(5 * 4 * n * f)
			for b.Loop() {
				bwd.Do(bin...)
			}
		})
	}
}
