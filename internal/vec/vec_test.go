package vec

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Tolerances. A float32 sum of n products, in any order, is within γ_n·Σ|x·y|
// of the exact sum, γ_n = n·u/(1-n·u) with u = 2^-24 (Higham, Accuracy and
// Stability of Numerical Algorithms, §3.1): dot products of every level are
// checked against the float64 sum with that bound, which holds whatever
// blocking and reassociation a kernel uses. An axpy element differs from
// the scalar twin's only by the fused multiply-add's one rounding instead
// of two: |Δ| ≤ u·(|a·x| + |y'|) each side, so 2u·(|a·x| + |y'|) in all.
// The FMA levels (AVX2 and AVX-512) add each row with a fused
// multiply-add in the same order, so their axpy kernels agree bit for bit.
const u32 = 1.0 / (1 << 24)

func gamma(n int) float64 { return float64(n) * u32 / (1 - float64(n)*u32) }

// atLevels runs f at every kernel level this machine supports, with kernel
// set to it; the others are skipped with a message.
func atLevels(t *testing.T, f func(t *testing.T)) {
	defer func(l Level) { kernel = l }(kernel)
	for _, l := range Levels {
		t.Run(l.String(), func(t *testing.T) {
			if !Supported(l) {
				t.Skipf("this CPU lacks %s", l)
			}
			kernel = l
			f(t)
		})
	}
}

// eachLevel calls f at every supported level (fuzz bodies, which take no
// subtests), with kernel set to it.
func eachLevel(f func(l Level)) {
	defer func(l Level) { kernel = l }(kernel)
	for _, l := range Levels {
		if Supported(l) {
			kernel = l
			f(l)
		}
	}
}

// checkDot compares Dot at the current level with the float64 sum.
func checkDot(t testing.TB, x, y []float32) {
	var want, mag float64
	for i := range x {
		p := float64(x[i]) * float64(y[i])
		want, mag = want+p, mag+math.Abs(p)
	}
	if got := Dot(x, y); math.Abs(float64(got)-want) > gamma(len(x))*mag {
		t.Fatalf("%s n %d: Dot %v, want %v ± %.3g", kernel, len(x), got, want, gamma(len(x))*mag)
	}
}

// checkAxpy compares Axpy at the current level with the scalar twin, and
// returns its result.
func checkAxpy(t testing.TB, a float32, x, y []float32) []float32 {
	got, want := append([]float32(nil), y...), append([]float32(nil), y...)
	Axpy(a, x, got)
	axpyGo(a, x, want)
	for i := range got {
		tol := 2 * u32 * (math.Abs(float64(a*x[i])) + math.Abs(float64(want[i])))
		if math.Abs(float64(got[i]-want[i])) > tol {
			t.Fatalf("%s n %d: Axpy[%d] %v, twin %v ± %.3g", kernel, len(x), i, got[i], want[i], tol)
		}
	}
	return got
}

// checkKernels checks Dot and Axpy at every supported level on x and y,
// and that the FMA levels' Axpy agree bit for bit where both use fused
// multiply-adds throughout (32 elements or more; below, AVX2 leaves Axpy
// to the scalar twin).
func checkKernels(t testing.TB, x, y []float32) {
	var fma []float32
	eachLevel(func(l Level) {
		checkDot(t, x, y)
		got := checkAxpy(t, 0.75, x, y)
		if l == Scalar || len(x) < 32 {
			return
		}
		if fma == nil {
			fma = got
			return
		}
		for i := range got {
			if got[i] != fma[i] {
				t.Fatalf("%s n %d: Axpy[%d] %v, the other FMA level %v", l, len(x), i, got[i], fma[i])
			}
		}
	})
}

// vecs returns two random vectors of n elements that start off elements
// into their backing arrays (off < 16: every alignment of a 64-byte line).
func vecs(n int, seed uint64, off ...int) (x, y []float32) {
	o := 0
	if len(off) > 0 {
		o = off[0]
	}
	r := rand.New(rand.NewPCG(seed, 1))
	x, y = make([]float32, o+n)[o:], make([]float32, o+n)[o:]
	for i := range x {
		x[i], y[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	return
}

// TestKernelsMatchNaive covers every length around the 64/32/16/8
// blockings and the masked tails, at every offset within a cache line.
func TestKernelsMatchNaive(t *testing.T) {
	atLevels(t, func(t *testing.T) {
		for n := 0; n <= 130; n++ {
			for off := 0; off < 16; off++ {
				x, y := vecs(n, uint64(n*16+off), off)
				checkDot(t, x, y)
				checkAxpy(t, 0.75, x, y)
			}
		}
	})
}

// FuzzKernels fuzzes every level's Dot and Axpy against the float64 sum
// and the scalar twin.
func FuzzKernels(f *testing.F) {
	f.Add(uint16(33), uint64(1), uint8(0))
	f.Add(uint16(512), uint64(2), uint8(3))
	f.Add(uint16(15), uint64(3), uint8(1))
	f.Add(uint16(79), uint64(4), uint8(9))
	f.Fuzz(func(t *testing.T, n uint16, seed uint64, off uint8) {
		x, y := vecs(int(n%2048), seed, int(off%16))
		checkKernels(t, x, y)
	})
}

// gemvShapes are (rows, columns) around the four-row and 16/32-column
// blockings.
var gemvShapes = [][2]int{{0, 8}, {1, 1}, {3, 40}, {4, 16}, {5, 17}, {6, 40}, {7, 33}, {8, 64}, {9, 100}, {12, 512}, {13, 130}}

func TestGemv(t *testing.T) {
	atLevels(t, func(t *testing.T) {
		for _, s := range gemvShapes {
			m, n := s[0], s[1]
			w, _ := vecs(m*n, uint64(m*n), m%16)
			x, _ := vecs(n, uint64(n)+1, n%16)
			y := make([]float32, m)
			GemvN(w, x, 0, y)
			for r := range y {
				want, mag := 0.0, 0.0
				for j := range x {
					p := float64(x[j]) * float64(w[r*n+j])
					want, mag = want+p, mag+math.Abs(p)
				}
				if math.Abs(float64(y[r])-want) > gamma(n)*mag {
					t.Fatalf("%dx%d: GemvN row %d = %v, want %v", m, n, r, y[r], want)
				}
			}
			h, _ := vecs(m, uint64(m)+2)
			z, _ := vecs(n, uint64(n)+3)
			want, mag := make([]float64, n), make([]float64, n)
			for i, v := range z {
				want[i], mag[i] = float64(v), math.Abs(float64(v))
				for r := range h {
					p := float64(h[r]) * float64(w[r*n+i])
					want[i], mag[i] = want[i]+p, mag[i]+math.Abs(p)
				}
			}
			GemvT(w, h, z)
			for i := range z {
				if math.Abs(float64(z[i])-want[i]) > gamma(m+1)*mag[i] {
					t.Fatalf("%dx%d: GemvT[%d] = %v, want %v", m, n, i, z[i], want[i])
				}
			}
		}
	})
}

// TestFMALevelsAgree: where every element goes through fused
// multiply-adds at both FMA levels (rows of 32 columns or more), GemvT and
// AxpyRows add the same products in the same order at AVX2 and AVX-512,
// and agree bit for bit.
func TestFMALevelsAgree(t *testing.T) {
	if !Supported(AVX2) || !Supported(AVX512) {
		t.Skip("this CPU lacks avx2 or avx512")
	}
	defer func(l Level) { kernel = l }(kernel)
	for _, s := range [][2]int{{5, 32}, {12, 512}, {13, 130}, {8, 48}, {33, 64}} {
		m, n := s[0], s[1]
		w, h := vecs(m*n, uint64(m*n), 3)
		var z [2][]float32
		var acc [2][]float32
		rows := rand.New(rand.NewPCG(uint64(m), 2)).Perm(m)
		for i, l := range []Level{AVX2, AVX512} {
			kernel = l
			z[i], _ = vecs(n, 9)
			GemvT(w, h[:m], z[i])
			// AxpyRows over m tokens of a group of 4 rows (of n columns).
			acc[i], _ = vecs(m*n, 10)
			AxpyRows(acc[i], rows, h[:4*m], w[:4*n], 4)
		}
		for j := range z[0] {
			if z[0][j] != z[1][j] {
				t.Fatalf("%dx%d: GemvT[%d]: avx2 %v, avx512 %v", m, n, j, z[0][j], z[1][j])
			}
		}
		for j := range acc[0] {
			if acc[0][j] != acc[1][j] {
				t.Fatalf("%dx%d: AxpyRows[%d]: avx2 %v, avx512 %v", m, n, j, acc[0][j], acc[1][j])
			}
		}
	}
}

// checkRows compares DotRows and AxpyRows at the current level with float64
// sums (the scalar twins' definitions) on n tokens, m of which (a random
// subset, in random order) use a group of k rows of width d, the operands
// off elements into their arrays.
func checkRows(t testing.TB, n, m, k, d, off int, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 7))
	x, _ := vecs(n*d, seed, off)
	w, _ := vecs(k*d, seed+1, off)
	rows := r.Perm(n)[:m]
	got := make([]float32, m*k+3)
	DotRows(got, x, rows, w, k)
	for i, row := range rows {
		for j := 0; j < k; j++ {
			want, mag := 0.0, 0.0
			for c := 0; c < d; c++ {
				p := float64(x[row*d+c]) * float64(w[j*d+c])
				want, mag = want+p, mag+math.Abs(p)
			}
			if e := math.Abs(float64(got[i*k+j]) - want); e > gamma(d)*mag {
				t.Fatalf("%s n %d m %d k %d d %d: DotRows[%d] = %v, want %v", kernel, n, m, k, d, i*k+j, got[i*k+j], want)
			}
		}
	}
	if got[m*k] != 0 {
		t.Fatalf("%s n %d m %d k %d d %d: DotRows wrote past its output", kernel, n, m, k, d)
	}
	h, _ := vecs(m*k, seed+2, off)
	acc, _ := vecs(n*d, seed+3, off)
	want, mag := make([]float64, len(acc)), make([]float64, len(acc))
	for i, v := range acc {
		want[i], mag[i] = float64(v), math.Abs(float64(v))
	}
	for i, row := range rows {
		for j := 0; j < k; j++ {
			for c := 0; c < d; c++ {
				p := float64(h[i*k+j]) * float64(w[j*d+c])
				want[row*d+c], mag[row*d+c] = want[row*d+c]+p, mag[row*d+c]+math.Abs(p)
			}
		}
	}
	AxpyRows(acc, rows, h, w, k)
	for i := range acc {
		if math.Abs(float64(acc[i])-want[i]) > gamma(k+1)*mag[i] {
			t.Fatalf("%s n %d m %d k %d d %d: AxpyRows[%d] = %v, want %v", kernel, n, m, k, d, i, acc[i], want[i])
		}
	}
}

// TestRowsMatchTwins covers the blockings (3 and 6 tokens, 4 rows, 8, 16
// and 32 columns, masked tails) and the shapes the assembly leaves to Go.
func TestRowsMatchTwins(t *testing.T) {
	atLevels(t, func(t *testing.T) {
		for i, s := range [][4]int{{10, 10, 4, 16}, {20, 7, 8, 32}, {50, 31, 32, 64}, {9, 5, 3, 12}, {8, 8, 6, 40},
			{12, 0, 4, 16}, {130, 97, 32, 512}, {140, 13, 130, 16}, {64, 64, 64, 512}, {14, 13, 5, 17}, {7, 6, 4, 48}, {9, 9, 8, 130}} {
			checkRows(t, s[0], s[1], s[2], s[3], i%16, uint64(s[0]*s[3]))
		}
	})
}

// FuzzRows fuzzes every level's DotRows and AxpyRows against float64 sums.
func FuzzRows(f *testing.F) {
	f.Add(uint8(20), uint8(13), uint8(8), uint16(64), uint64(1), uint8(0))
	f.Add(uint8(7), uint8(7), uint8(5), uint16(24), uint64(2), uint8(5))
	f.Add(uint8(12), uint8(12), uint8(4), uint16(96), uint64(3), uint8(1))
	f.Fuzz(func(t *testing.T, n, m, k uint8, d uint16, seed uint64, off uint8) {
		nn, kk, dd := int(n)%64+1, int(k)%40+1, int(d)%300+1
		eachLevel(func(Level) {
			checkRows(t, nn, int(m)%(nn+1), kk, dd, int(off%16), seed)
		})
	})
}
