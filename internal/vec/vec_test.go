package vec

import (
	"math"
	"math/rand/v2"
	"testing"
)

func check(t testing.TB, x, y []float32) {
	want := float64(0)
	for i := range x {
		want += float64(x[i]) * float64(y[i])
	}
	if got := Dot(x, y); math.Abs(float64(got)-want) > 1e-4*(1+math.Abs(want)) {
		t.Fatalf("n %d: Dot %v, want %v", len(x), got, want)
	}
	y1, y2 := append([]float32(nil), y...), append([]float32(nil), y...)
	Axpy(0.75, x, y1)
	axpyGo(0.75, x, y2)
	for i := range y1 {
		if math.Abs(float64(y1[i]-y2[i])) > 1e-6*(1+math.Abs(float64(y2[i]))) {
			t.Fatalf("n %d: Axpy[%d] %v, naive %v", len(x), i, y1[i], y2[i])
		}
	}
}

func vecs(n int, seed uint64) (x, y []float32) {
	r := rand.New(rand.NewPCG(seed, 1))
	x, y = make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], y[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	return
}

// TestKernelsMatchNaive covers every length around the 32/8 blocking.
func TestKernelsMatchNaive(t *testing.T) {
	for n := 0; n < 200; n++ {
		x, y := vecs(n, uint64(n))
		check(t, x, y)
	}
}

// FuzzKernels fuzzes the assembly against the Go twins.
func FuzzKernels(f *testing.F) {
	f.Add(uint16(33), uint64(1))
	f.Add(uint16(512), uint64(2))
	f.Fuzz(func(t *testing.T, n uint16, seed uint64) {
		x, y := vecs(int(n%2048), seed)
		check(t, x, y)
	})
}

func TestGemv(t *testing.T) {
	w, _ := vecs(6*40, 3)
	x, _ := vecs(40, 4)
	y := make([]float32, 6)
	GemvN(w, x, 0, y)
	for r := range y {
		if d := math.Abs(float64(y[r] - dotGo(x, w[r*40:(r+1)*40]))); d > 1e-4 {
			t.Fatalf("GemvN row %d off by %g", r, d)
		}
	}
	h, _ := vecs(6, 5)
	z, want := make([]float32, 40), make([]float32, 40)
	GemvT(w, h, z)
	for r := range h {
		axpyGo(h[r], w[r*40:(r+1)*40], want)
	}
	for i := range z {
		if d := math.Abs(float64(z[i] - want[i])); d > 1e-4 {
			t.Fatalf("GemvT[%d] off by %g", i, d)
		}
	}
}
