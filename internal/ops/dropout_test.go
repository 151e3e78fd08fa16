package ops

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/gradcheck"
)

// dropoutGraph is y = Dropout(x) with loss Σ y⊙w and its gradient dx.
type dropoutGraph struct {
	m          G.VM
	x, w       []float64
	y, dx      *G.Node
	state      *DropoutState
	scale      float64
	xval, wval *tensor.Dense
}

func newDropoutGraph(t *testing.T, n int, p float64, s *DropoutState) *dropoutGraph {
	t.Helper()
	g := G.NewGraph()
	d := &dropoutGraph{state: s, scale: 1 / (1 - p)}
	d.xval, d.wval = gradcheck.Rand(1, 1, n), gradcheck.Rand(2, 1, n)
	d.x, d.w = d.xval.Data().([]float64), d.wval.Data().([]float64)
	x := G.NewTensor(g, tensor.Float64, 1, G.WithShape(n), G.WithValue(d.xval), G.WithName("x"))
	w := G.NewTensor(g, tensor.Float64, 1, G.WithShape(n), G.WithValue(d.wval), G.WithName("w"))
	y, err := DropoutWith(x, p, s)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := G.HadamardProd(y, w)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := G.Sum(prod)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := G.Grad(loss, x)
	if err != nil {
		t.Fatal(err)
	}
	d.y, d.dx = y, grads[0]
	d.m = G.NewTapeMachine(g)
	t.Cleanup(func() { d.m.Close() })
	return d
}

// run runs the graph once and returns the mask (1 kept, 0 dropped), after
// checking that kept values are x/(1-p), dropped ones 0, and dx the same
// mask and scale applied to w.
func (d *dropoutGraph) run(t *testing.T) []float64 {
	t.Helper()
	d.m.Reset()
	if err := d.m.RunAll(); err != nil {
		t.Fatal(err)
	}
	y, dx := d.y.Value().Data().([]float64), d.dx.Value().Data().([]float64)
	mask := make([]float64, len(y))
	for i := range y {
		if y[i] != 0 {
			mask[i] = 1
		}
		scale := d.scale
		if !d.state.Training() {
			scale = 1
		}
		if want := d.x[i] * mask[i] * scale; math.Abs(y[i]-want) > 1e-15 {
			t.Fatalf("y[%d] = %v, want %v", i, y[i], want)
		}
		if want := d.w[i] * mask[i] * scale; math.Abs(dx[i]-want) > 1e-15 {
			t.Fatalf("dx[%d] = %v, want %v (gradient scale must be 1/(1-p))", i, dx[i], want)
		}
	}
	return mask
}

func TestDropoutMaskAndGradient(t *testing.T) {
	const n, p = 100000, 0.3
	d := newDropoutGraph(t, n, p, NewDropoutState(7))
	m1 := d.run(t)
	kept := 0.0
	for _, k := range m1 {
		kept += k
	}
	if sd := math.Sqrt(n * p * (1 - p)); math.Abs(kept-n*(1-p)) > 5*sd {
		t.Fatalf("kept %v of %d, want %v ± %v", kept, n, n*(1-p), 5*sd)
	}
	if m2 := d.run(t); slices.Equal(m1, m2) {
		t.Fatal("two runs drew the same mask")
	}
	// The same seed in a new graph draws the same first mask.
	if m := newDropoutGraph(t, n, p, NewDropoutState(7)).run(t); !slices.Equal(m, m1) {
		t.Fatal("the same seed drew a different mask")
	}
	if m := newDropoutGraph(t, n, p, NewDropoutState(8)).run(t); slices.Equal(m, m1) {
		t.Fatal("seeds 7 and 8 drew the same mask")
	}
}

func TestDropoutStateRestore(t *testing.T) {
	s := NewDropoutState(1)
	d := newDropoutGraph(t, 1000, 0.5, s)
	d.run(t)
	saved, err := s.State()
	if err != nil {
		t.Fatal(err)
	}
	m3 := d.run(t)
	d.run(t)
	if err := s.Restore(saved); err != nil {
		t.Fatal(err)
	}
	if m := d.run(t); !slices.Equal(m, m3) {
		t.Fatal("restored state drew a different mask")
	}
	if err := s.Restore([]byte("junk")); err == nil {
		t.Fatal("junk state was accepted")
	}
}

func TestDropoutEvaluation(t *testing.T) {
	s := NewDropoutState(1)
	s.SetTraining(false)
	d := newDropoutGraph(t, 1000, 0.5, s)
	before, _ := s.State()
	if m := d.run(t); slices.Equal(m, nil) || !allOnes(m) {
		t.Fatal("evaluation mode dropped elements")
	}
	if after, _ := s.State(); !bytes.Equal(before, after) {
		t.Fatal("evaluation mode drew random numbers")
	}
	s.SetTraining(true)
	if m := d.run(t); allOnes(m) {
		t.Fatal("training mode kept all 1000 elements at p = 0.5")
	}
}

// TestDropoutGradientsEval checks the identity gradient with finite
// differences (in training mode each run draws a new mask, which finite
// differences cannot follow; TestDropoutMaskAndGradient checks it exactly).
func TestDropoutGradientsEval(t *testing.T) {
	for _, p := range []float64{0, 0.5} {
		ins := []gradcheck.Input{{Name: "x", Value: gradcheck.Rand(1, 1, 3, 4), Check: true}}
		err := gradcheck.Check(ins, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			s := NewDropoutState(1)
			s.SetTraining(p == 0) // p = 0 is the identity even in training
			return DropoutWith(in[0], p, s)
		}, gradcheck.Options{})
		if err != nil {
			t.Fatalf("p %g: %v", p, err)
		}
	}
}

func TestDropoutFloat32(t *testing.T) {
	// Same seed, same mask in both dtypes: the mask does not depend on them.
	ins := []gradcheck.Input{{Name: "x", Value: gradcheck.Rand(1, 1, 64, 33), Check: true}}
	checkFloat32(t, ins, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		y, _, err := Dropout(in[0], 0.1, 42)
		return y, err
	}, 3e-7)
}

func TestDropoutRejectsBadP(t *testing.T) {
	g := G.NewGraph()
	x := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("x"))
	for _, p := range []float64{-0.1, 1, math.NaN()} {
		if _, _, err := Dropout(x, p, 1); err == nil {
			t.Errorf("p %v was accepted", p)
		}
	}
}

func allOnes(m []float64) bool {
	for _, k := range m {
		if k != 1 {
			return false
		}
	}
	return true
}

func BenchmarkDropout(b *testing.B) {
	const n, d, p = 1024, 256, 0.1
	x, dy := benchTensor(1, 1, n, d), benchTensor(2, 1, n, d)
	fwd := &dropout{base: newBase("bench"), p: p, state: NewDropoutState(1), dims: 2}
	bwd := &dropoutGrad{base: newBase("bench"), fwd: fwd}
	y, _ := fwd.Do(x)
	b.Run(fmt.Sprintf("N=%d,D=%d/fwd", n, d), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fwd.Do(x)
		}
	})
	b.Run(fmt.Sprintf("N=%d,D=%d/bwd", n, d), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bwd.Do(y, dy)
		}
	})
}
