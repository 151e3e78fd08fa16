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

// checkRows compares DotRows and AxpyRows with their scalar twins on n
// tokens, m of which (a random subset, in random order) use a group of k
// rows of width d.
func checkRows(t testing.TB, n, m, k, d int, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 7))
	x, _ := vecs(n*d, seed)
	w, _ := vecs(k*d, seed+1)
	rows := r.Perm(n)[:m]
	got, want := make([]float32, m*k+3), make([]float32, m*k+3)
	DotRows(got, x, rows, w, k)
	dotRowsGo(want, x, rows, w, k)
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-4*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("n %d m %d k %d d %d: DotRows[%d] = %v, twin %v", n, m, k, d, i, got[i], want[i])
		}
	}
	h, _ := vecs(m*k, seed+2)
	acc1, _ := vecs(n*d, seed+3)
	acc2 := append([]float32(nil), acc1...)
	AxpyRows(acc1, rows, h, w, k)
	axpyRowsGo(acc2, rows, h, w, k)
	for i := range acc2 {
		if math.Abs(float64(acc1[i]-acc2[i])) > 1e-4*(1+math.Abs(float64(acc2[i]))) {
			t.Fatalf("n %d m %d k %d d %d: AxpyRows[%d] = %v, twin %v", n, m, k, d, i, acc1[i], acc2[i])
		}
	}
}

// TestRowsMatchTwins covers the blockings (3 and 6 tokens, 4 rows, 8 and
// 16 columns) and the shapes the assembly leaves to Go.
func TestRowsMatchTwins(t *testing.T) {
	for _, s := range [][4]int{{10, 10, 4, 16}, {20, 7, 8, 32}, {50, 31, 32, 64}, {9, 5, 3, 12}, {8, 8, 6, 40}, {12, 0, 4, 16}, {130, 97, 32, 512}, {140, 13, 130, 16}, {64, 64, 64, 512}} {
		checkRows(t, s[0], s[1], s[2], s[3], uint64(s[0]*s[3]))
	}
}

func FuzzRows(f *testing.F) {
	f.Add(uint8(20), uint8(13), uint8(8), uint16(64), uint64(1))
	f.Add(uint8(7), uint8(7), uint8(5), uint16(24), uint64(2))
	f.Fuzz(func(t *testing.T, n, m, k uint8, d uint16, seed uint64) {
		nn, kk, dd := int(n)%64+1, int(k)%40+1, int(d)%300+1
		checkRows(t, nn, int(m)%(nn+1), kk, dd, seed)
	})
}
