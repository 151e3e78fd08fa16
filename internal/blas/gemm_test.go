package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// naiveGemm is the triple-loop twin of Sgemm/Dgemm: row-major,
// C = alpha*op(A)*op(B) + beta*C with beta == 0 overwriting C, accumulating
// in float64. It also returns, per element of C, the magnitude
// |alpha|*Σ|a||b| + |beta*c| that bounds the rounding error of any
// summation order.
func naiveGemm[T float32 | float64](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) (bound []float64) {
	bound = make([]float64, m*n)
	for i := range m {
		for j := range n {
			var sum, mag float64
			for l := range k {
				ia, ib := i*lda+l, l*ldb+j // index in A and B as stored
				if transA {
					ia = l*lda + i
				}
				if transB {
					ib = j*ldb + l
				}
				ail, blj := a[ia], b[ib]
				sum += float64(ail) * float64(blj)
				mag += math.Abs(float64(ail) * float64(blj))
			}
			v := float64(alpha) * sum
			bound[i*n+j] = math.Abs(float64(alpha)) * mag
			if beta != 0 {
				v += float64(beta) * float64(c[i*ldc+j])
				bound[i*n+j] += math.Abs(float64(beta) * float64(c[i*ldc+j]))
			}
			c[i*ldc+j] = T(v)
		}
	}
	return bound
}

// testBackend is one backend under test; lib == nil is gonum.
type testBackend struct {
	name string
	lib  *library
}

// openBLASForTest loads OpenBLAS once per test binary, independently of
// SPARSETUNE_BLAS, so that it is compared against the naive twin whenever
// it is installed.
var openBLASForTest = sync.OnceValues(func() (*library, error) { return openKnown(OpenBLAS) })

// skipLogged holds the top-level tests that have logged why OpenBLAS is
// skipped, so that fuzz seeds do not repeat it dozens of times.
var skipLogged sync.Map

// backends lists gonum and every library that can be loaded here, logging
// (once per top-level test) why a library is skipped.
func backends(t testing.TB) []testBackend {
	bs := []testBackend{{Gonum, nil}}
	if l, err := openBLASForTest(); err != nil {
		top, _, _ := strings.Cut(t.Name(), "/")
		if _, done := skipLogged.LoadOrStore(top, true); !done {
			t.Logf("OpenBLAS comparisons skipped: %v", err)
		}
	} else {
		bs = append(bs, testBackend{OpenBLAS, l})
	}
	return bs
}

// gemmCase is one fuzzed call: sizes, flags, extra stride beyond the stored
// row width, and scalars.
type gemmCase struct {
	m, n, k          int
	transA, transB   bool
	padA, padB, padC int
	alpha, beta      float64
	seed             uint64
}

// decode turns raw fuzz inputs into a case of bounded size, or false for
// scalars that are not useful (NaN, Inf, huge) to compare with a tolerance.
func decode(m, n, k uint8, transA, transB bool, pads uint16, alpha, beta float64, seed uint64) (gemmCase, bool) {
	if math.IsNaN(alpha) || math.IsNaN(beta) || math.Abs(alpha) > 1e3 || math.Abs(beta) > 1e3 {
		return gemmCase{}, false
	}
	return gemmCase{
		m: int(m) % 70, n: int(n) % 70, k: int(k) % 70,
		transA: transA, transB: transB,
		padA: int(pads) % 5, padB: int(pads/5) % 5, padC: int(pads/25) % 5,
		alpha: alpha, beta: beta, seed: seed,
	}, true
}

// sentinel fills the stride padding of C; it must survive every call.
const sentinel = -12345.5

// runCase runs c on every backend and compares with naiveGemm.
func runCase[T float32 | float64](t *testing.T, c gemmCase, eps float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(c.seed, 0x5eed))
	rowA, colA := c.m, c.k
	if c.transA {
		rowA, colA = c.k, c.m
	}
	rowB, colB := c.k, c.n
	if c.transB {
		rowB, colB = c.n, c.k
	}
	lda, ldb, ldc := max(1, colA+c.padA), max(1, colB+c.padB), max(1, c.n+c.padC)
	a := randSlice[T](rng, rowA*lda)
	b := randSlice[T](rng, rowB*ldb)
	c0 := randSlice[T](rng, c.m*ldc)
	if c.beta == 0 {
		for i := range c0 {
			c0[i] = T(math.NaN()) // beta == 0 must overwrite, not multiply
		}
	}
	for i := range c.m {
		for j := c.n; j < ldc; j++ {
			c0[i*ldc+j] = sentinel
		}
	}
	want := append([]T(nil), c0...)
	alpha, beta := T(c.alpha), T(c.beta)
	bound := naiveGemm(c.transA, c.transB, c.m, c.n, c.k, alpha, a, lda, b, ldb, beta, want, ldc)
	// Any summation order (blocked, FMA) is within k+2 roundings of the
	// exact result, each at most eps relative to the magnitude bound; 2x
	// slack covers the float32 rounding of alpha*sum and the final store.
	tol := 2 * float64(c.k+2) * eps
	for _, be := range backends(t) {
		got := append([]T(nil), c0...)
		gemmOn(be.lib, c.transA, c.transB, c.m, c.n, c.k, alpha, a, lda, b, ldb, beta, got, ldc)
		if err := compare(got, want, bound, c.m, c.n, ldc, tol); err != nil {
			t.Fatalf("%s %+v: %v", be.name, c, err)
		}
	}
	// The public entry point, on whatever SPARSETUNE_BLAS chose.
	got := append([]T(nil), c0...)
	Gemm(c.transA, c.transB, c.m, c.n, c.k, alpha, a, lda, b, ldb, beta, got, ldc)
	if err := compare(got, want, bound, c.m, c.n, ldc, tol); err != nil {
		t.Fatalf("Gemm on %s %+v: %v", Name(), c, err)
	}
}

// compare checks got against want element by element within tol relative
// to bound, and that the stride padding of C still holds the sentinel.
func compare[T float32 | float64](got, want []T, bound []float64, m, n, ldc int, tol float64) error {
	for i := range m {
		for j := range ldc {
			g, w := float64(got[i*ldc+j]), float64(want[i*ldc+j])
			if j >= n {
				if g != sentinel {
					return fmt.Errorf("C[%d][%d] in the stride padding changed to %v", i, j, g)
				}
				continue
			}
			if math.IsNaN(g) || math.Abs(g-w) > tol*bound[i*n+j] {
				return fmt.Errorf("C[%d][%d] = %v, want %v (bound %v, tol %v)", i, j, g, w, bound[i*n+j], tol)
			}
		}
	}
	return nil
}

// TestCompareNegative is the negative control of the fuzz comparison: it
// must reject an error just above its tolerance, a NaN left by beta == 0
// and a write into the stride padding.
func TestCompareNegative(t *testing.T) {
	const tol = 1e-6
	want := []float32{1, 2, sentinel}
	bound := []float64{1, 2}
	for _, got := range [][]float32{
		{1 + 2*tol, 2, sentinel},
		{1, float32(math.NaN()), sentinel},
		{1, 2, 0},
	} {
		if compare(got, want, bound, 1, 2, 3, tol) == nil {
			t.Errorf("compare accepted %v against %v", got, want)
		}
	}
	if err := compare(want, want, bound, 1, 2, 3, tol); err != nil {
		t.Errorf("compare rejected an exact result: %v", err)
	}
}

// gemmOn calls the Sgemm or Dgemm of one backend.
func gemmOn[T float32 | float64](l *library, transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	var zero T
	if _, ok := any(zero).(float32); ok {
		sgemmOn(l, transA, transB, m, n, k, float32(alpha), cast[float32](a), lda, cast[float32](b), ldb, float32(beta), cast[float32](c), ldc)
		return
	}
	dgemmOn(l, transA, transB, m, n, k, float64(alpha), cast[float64](a), lda, cast[float64](b), ldb, float64(beta), cast[float64](c), ldc)
}

func randSlice[T float32 | float64](rng *rand.Rand, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = T(rng.Float64()*2 - 1)
	}
	return s
}

// addSeeds puts the corpus that runs in every `go test`: sizes 0, 1, powers
// of two and odd sizes around SIMD widths (8, 16), all transpose combos,
// tight and padded strides, and the scalars with special paths (alpha 0,
// beta 0 and 1).
func addSeeds(f *testing.F) {
	shapes := [][3]uint8{{1, 1, 1}, {7, 9, 13}, {8, 8, 8}, {17, 1, 33}, {1, 64, 3}, {31, 33, 65}, {64, 16, 1}, {0, 5, 5}, {5, 0, 5}, {5, 5, 0}}
	scalars := [][2]float64{{1, 0}, {-0.5, 1}, {2.5, -1.5}, {0, 0.25}, {1, 1}}
	seed := uint64(1)
	for i, s := range shapes {
		for tr := range 4 {
			sc := scalars[(i+tr)%len(scalars)]
			pads := uint16(0)
			if (i+tr)%2 == 1 {
				pads = uint16(1 + 5*3 + 25*2) // padA 1, padB 3, padC 2
			}
			f.Add(s[0], s[1], s[2], tr&1 == 1, tr&2 == 2, pads, sc[0], sc[1], seed)
			seed++
		}
	}
}

// FuzzSgemm compares every available backend's Sgemm with naiveGemm.
func FuzzSgemm(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, m, n, k uint8, transA, transB bool, pads uint16, alpha, beta float64, seed uint64) {
		c, ok := decode(m, n, k, transA, transB, pads, alpha, beta, seed)
		if !ok {
			t.Skip("scalar outside the compared range")
		}
		runCase[float32](t, c, 0x1p-24)
	})
}

// FuzzDgemm compares every available backend's Dgemm with naiveGemm.
func FuzzDgemm(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, m, n, k uint8, transA, transB bool, pads uint16, alpha, beta float64, seed uint64) {
		c, ok := decode(m, n, k, transA, transB, pads, alpha, beta, seed)
		if !ok {
			t.Skip("scalar outside the compared range")
		}
		runCase[float64](t, c, 0x1p-53)
	})
}

// TestLarge covers sizes past the libraries' blocking (k > 256) and
// threading thresholds, which the fuzz shapes (< 70) do not reach.
func TestLarge(t *testing.T) {
	for _, c := range []gemmCase{
		{m: 200, n: 130, k: 300, alpha: 1, beta: 0, seed: 1},
		{m: 129, n: 150, k: 260, transA: true, transB: true, padA: 3, padC: 5, alpha: -1, beta: 0.5, seed: 2},
	} {
		runCase[float32](t, c, 0x1p-24)
		runCase[float64](t, c, 0x1p-53)
	}
}

// TestGemmGeneric checks that Gemm reaches the right width on the chosen
// backend and does not allocate more than the call it forwards to.
func TestGemmGeneric(t *testing.T) {
	a32, b32 := []float32{1, 2, 3, 4}, []float32{5, 6, 7, 8}
	c32 := make([]float32, 4)
	Gemm(false, false, 2, 2, 2, 1, a32, 2, b32, 2, 0, c32, 2)
	a64, b64 := []float64{1, 2, 3, 4}, []float64{5, 6, 7, 8}
	c64 := make([]float64, 4)
	Gemm(false, true, 2, 2, 2, 1, a64, 2, b64, 2, 0, c64, 2)
	want32 := []float32{19, 22, 43, 50}
	want64 := []float64{17, 23, 39, 53} // B transposed
	for i := range 4 {
		if c32[i] != want32[i] || c64[i] != want64[i] {
			t.Fatalf("Gemm: got %v and %v, want %v and %v", c32, c64, want32, want64)
		}
	}
	viaS := testing.AllocsPerRun(20, func() { Sgemm(false, false, 2, 2, 2, 1, a32, 2, b32, 2, 0, c32, 2) })
	viaG := testing.AllocsPerRun(20, func() { Gemm(false, false, 2, 2, 2, 1, a32, 2, b32, 2, 0, c32, 2) })
	if viaG > viaS {
		t.Errorf("Gemm allocates %v times per call, Sgemm %v", viaG, viaS)
	}
}

// TestZeroSizes checks that empty products never reach a library (nil
// slices would make &a[0] panic) and still apply beta when k == 0.
func TestZeroSizes(t *testing.T) {
	for _, be := range backends(t) {
		sgemmOn(be.lib, false, false, 0, 3, 3, 1, nil, 3, make([]float32, 9), 3, 0, nil, 3)
		sgemmOn(be.lib, true, true, 3, 0, 3, 1, make([]float32, 9), 3, nil, 3, 0, make([]float32, 1), 1)
		c := []float32{float32(math.NaN()), 2, float32(math.NaN()), 4}
		sgemmOn(be.lib, false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0, c, 2)
		if c[0] != 0 || c[1] != 0 || c[2] != 0 || c[3] != 0 {
			t.Errorf("%s: k=0, beta=0 gave C = %v, want zeros", be.name, c)
		}
		d := []float64{1, 2, 3, 4}
		dgemmOn(be.lib, false, false, 2, 2, 0, 1, nil, 1, nil, 2, 3, d, 2)
		if d[0] != 3 || d[3] != 12 {
			t.Errorf("%s: k=0, beta=3 gave C = %v, want [3 6 9 12]", be.name, d)
		}
	}
}

// TestBadArguments checks that bad calls panic with gonum's message on every
// backend, before a library could read or write out of bounds.
func TestBadArguments(t *testing.T) {
	a, b, c := make([]float32, 6), make([]float32, 6), make([]float32, 4)
	for _, be := range backends(t) {
		for _, tc := range []struct {
			want string
			call func()
		}{
			{mLT0, func() { sgemmOn(be.lib, false, false, -1, 2, 3, 1, a, 3, b, 2, 0, c, 2) }},
			{badLdA, func() { sgemmOn(be.lib, false, false, 2, 2, 3, 1, a, 2, b, 2, 0, c, 2) }},
			{badLdA, func() { sgemmOn(be.lib, true, false, 2, 2, 3, 1, a, 1, b, 2, 0, c, 2) }},
			{badLdB, func() { sgemmOn(be.lib, false, true, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2) }},
			{badLdC, func() { sgemmOn(be.lib, false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 1) }},
			{shortA, func() { sgemmOn(be.lib, false, false, 2, 2, 3, 1, a[:5], 3, b, 2, 0, c, 2) }},
			{shortB, func() { sgemmOn(be.lib, false, false, 2, 2, 3, 1, a, 3, b[:5], 2, 0, c, 2) }},
			{shortC, func() { sgemmOn(be.lib, false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c[:3], 2) }},
		} {
			func() {
				defer func() {
					if r := recover(); r != tc.want {
						t.Errorf("%s: recovered %v, want %q", be.name, r, tc.want)
					}
				}()
				tc.call()
			}()
		}
	}
}

// TestConcurrent multiplies on several goroutines at once, as kernels run
// under parallel.For do, and checks every result.
func TestConcurrent(t *testing.T) {
	const n, goroutines, reps = 96, 4, 5
	rng := rand.New(rand.NewPCG(7, 7))
	a, b := randSlice[float32](rng, n*n), randSlice[float32](rng, n*n)
	want := make([]float32, n*n)
	bound := naiveGemm(false, true, n, n, n, 1, a, n, b, n, 0, want, n)
	for _, be := range backends(t) {
		errs := make([]error, goroutines)
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for range reps {
					c := make([]float32, n*n)
					sgemmOn(be.lib, false, true, n, n, n, 1, a, n, b, n, 0, c, n)
					if err := compare(c, want, bound, n, n, n, 2*(n+2)*0x1p-24); err != nil {
						errs[g] = err
						return
					}
				}
			})
		}
		wg.Wait()
		for g, err := range errs {
			if err != nil {
				t.Errorf("%s, goroutine %d: %v", be.name, g, err)
			}
		}
	}
}
