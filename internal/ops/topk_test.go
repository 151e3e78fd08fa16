package ops

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/gradcheck"
)

// TestTopKMaskForward: exactly k ones per row, on the largest logits, ties
// to the lower index, in float32 and float64.
func TestTopKMaskForward(t *testing.T) {
	z := []float64{
		0.5, -1, 2, 0.5, // k=2: units 2 and 0 (0.5 tie: lower index)
		1, 1, 1, 1, // all tied: units 0 and 1
		math.NaN(), -3, math.Inf(-1), 7, // NaN last: 3 and 1
	}
	want := []float64{1, 0, 1, 0, 1, 1, 0, 0, 0, 1, 0, 1}
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		g := G.NewGraph()
		v := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(3, 4), tensor.WithBacking(append([]float64{}, z...)))
		var in *tensor.Dense = v
		if dt == tensor.Float32 {
			f := make([]float32, len(z))
			for i, x := range z {
				f[i] = float32(x)
			}
			in = tensor.New(tensor.WithShape(3, 4), tensor.WithBacking(f))
		}
		x := G.NewMatrix(g, dt, G.WithShape(3, 4), G.WithValue(in), G.WithName("z"))
		m, err := TopKMask(x, 2, false)
		if err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		vm.Close()
		var got []float64
		switch d := m.Value().Data().(type) {
		case []float32:
			for _, x := range d {
				got = append(got, float64(x))
			}
		case []float64:
			got = d
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%v: mask %v, want %v", dt, got, want)
			}
		}
	}
}

// TestTopKMaskGradient: the straight-through backward pass is the
// derivative of σ(z) (checked by finite differences on the surrogate
// forward σ(z), which shares the backward op), with logits spread so that
// some rows are nearly open, some nearly closed and some in between.
func TestTopKMaskGradient(t *testing.T) {
	for _, scale := range []float64{0.5, 3, 8} {
		ins := []gradcheck.Input{{Name: "z", Value: gradcheck.Rand(7, scale, 5, 6), Check: true}}
		err := gradcheck.Check(ins, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			return topKMaskNode(in[0], 3, true, true)
		}, gradcheck.Options{})
		if err != nil {
			t.Fatalf("scale %g: %v", scale, err)
		}
	}
}

// TestTopKMaskGradientNegative: the hard forward pass is piecewise
// constant, so its finite differences are 0 and the checker must reject
// the straight-through gradient there: the check above cannot pass by
// accident.
func TestTopKMaskGradientNegative(t *testing.T) {
	ins := []gradcheck.Input{{Name: "z", Value: gradcheck.Rand(7, 3, 4, 5), Check: true}}
	err := gradcheck.Check(ins, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		return TopKMask(in[0], 2, true)
	}, gradcheck.Options{})
	if err == nil {
		t.Fatal("the straight-through gradient passed as the hard mask's own derivative")
	}
}

// TestTopKMaskFrozenHasNoGradient: a frozen mask refuses differentiation.
func TestTopKMaskFrozenHasNoGradient(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithValue(gradcheck.Rand(1, 1, 2, 3)), G.WithName("z"))
	m, err := TopKMask(x, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	s, err := G.Sum(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(s, x); err == nil {
		t.Fatal("a frozen top-k mask gave a gradient")
	}
}

func TestTopKMaskRejectsBadK(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("z"))
	for _, k := range []int{-1, 4} {
		if _, err := TopKMask(x, k, true); err == nil {
			t.Errorf("k = %d of 3 units was accepted", k)
		}
	}
}

// FuzzTopKRow checks the sorting kernel against its naive definition,
// with ties, NaN and infinities among the values.
func FuzzTopKRow(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint8(3))
	f.Add([]byte{0, 0, 0, 0, 9, 9}, uint8(2))
	f.Add([]byte{255, 0, 254, 1, 128, 128, 3}, uint8(4))
	f.Fuzz(func(t *testing.T, b []byte, k8 uint8) {
		if len(b) == 0 || len(b) > 64 {
			return
		}
		z := make([]float64, len(b))
		for i, c := range b {
			switch c {
			case 255:
				z[i] = math.NaN()
			case 254:
				z[i] = math.Inf(1)
			case 253:
				z[i] = math.Inf(-1)
			default:
				z[i] = float64(c%16) - 8 // few distinct values: many ties
			}
		}
		k := int(k8) % (len(z) + 1)
		want := topKRowNaive(z, k)
		got := make([]bool, len(z))
		for _, i := range TopKRow(nil, z, k) {
			got[i] = true
		}
		for i := range z {
			if got[i] != want[i] {
				t.Fatalf("z %v k %d: kernel %v, definition %v", z, k, got, want)
			}
		}
	})
}

// TestTopKRowRandom compares kernel and definition on random rows.
func TestTopKRowRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var buf [8]byte
	for it := 0; it < 500; it++ {
		u := 1 + rng.IntN(40)
		z := make([]float64, u)
		for i := range z {
			binary.LittleEndian.PutUint64(buf[:], rng.Uint64())
			z[i] = float64(int(buf[0]%8)) + rng.Float64()*float64(buf[1]%2)
		}
		k := rng.IntN(u + 1)
		want := topKRowNaive(z, k)
		on := TopKRow(nil, z, k)
		if len(on) != k {
			t.Fatalf("%d units for k = %d", len(on), k)
		}
		for _, i := range on {
			if !want[i] {
				t.Fatalf("z %v k %d: kernel chose %d", z, k, i)
			}
		}
	}
}
