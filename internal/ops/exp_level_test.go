package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sparsetune/sparsetune/internal/vec"
)

// The fast exp and sigmoid are checked at every kernel level with the
// bounds of kernels_test.go (expMaxRelErr, sigmoidMaxRelErr, tanhMaxErr
// against the math package). Beyond the bounds, two levels agree exactly
// where they run the same steps: AVX2 and AVX-512 evaluate the same
// fused multiply-adds in the same order, so their vector bodies agree bit
// for bit (AVX2 leaves the last len%8 elements to the scalar twin, whose
// separate multiplies and adds round differently), and the GELU steps use
// no fused multiply-adds at any level, so they equal the scalar loops bit
// for bit.

// atLevels runs f at every kernel level this machine supports, switched to
// it; the others are skipped with a message.
func atLevels(t *testing.T, f func(t *testing.T)) {
	defer vec.SetKernels(vec.Kernels())
	for _, l := range vec.Levels {
		t.Run(l.String(), func(t *testing.T) {
			if _, err := vec.SetKernels(l); err != nil {
				t.Skip(err)
			}
			f(t)
		})
	}
}

// eachLevel calls f at every supported level (fuzz bodies, which take no
// subtests), switched to it.
func eachLevel(f func(l vec.Level)) {
	defer vec.SetKernels(vec.Kernels())
	for _, l := range vec.Levels {
		if _, err := vec.SetKernels(l); err == nil {
			f(l)
		}
	}
}

// FuzzFastMathLevels checks exp, sigmoid and tanh at x at every level, in
// the vector body and in the tail.
func FuzzFastMathLevels(f *testing.F) {
	for _, x := range fastMathSeeds {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float32) {
		eachLevel(func(vec.Level) {
			checkExp32(t, x)
			checkSigmoid32(t, x)
			checkTanh32(t, x)
		})
	})
}

// levelRow returns n random inputs of exp's working range (and some
// beyond it, and a NaN at n > 50) off elements into their array.
func levelRow(n, off int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 11))
	v := make([]float32, off+n)[off:]
	for i := range v {
		v[i] = float32(r.NormFloat64() * 30)
	}
	if n > 50 {
		v[50] = float32(math.NaN())
	}
	return v
}

// TestExpLevels runs exp32s and sigmoid32s at every level on every length
// 0..130 at every offset within a cache line, against the math package,
// and the AVX2 and AVX-512 vector bodies against each other.
func TestExpLevels(t *testing.T) {
	for _, c := range []struct {
		name string
		f    func([]float32)
		want func(float64) float64
		tol  float64 // relative
	}{
		{"exp", exp32s, math.Exp, expMaxRelErr},
		{"sigmoid", sigmoid32s, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }, sigmoidMaxRelErr},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := map[vec.Level][]float32{}
			atLevels(t, func(t *testing.T) {
				var all []float32
				for n := 0; n <= 130; n++ {
					for off := 0; off < 16; off++ {
						in := levelRow(n, off, uint64(n*16+off))
						v := make([]float32, off+n)[off:]
						copy(v, in)
						c.f(v)
						for i, x := range in {
							checkLevelValue(t, c.name, x, v[i], c.want(float64(x)), c.tol)
						}
						all = append(all, v...)
					}
				}
				got[vec.Kernels()] = all
			})
			a, b := got[vec.AVX2], got[vec.AVX512]
			if a == nil || b == nil {
				return
			}
			i := 0
			for n := 0; n <= 130; n++ {
				for off := 0; off < 16; off++ {
					for j := 0; j < n; j, i = j+1, i+1 {
						if j < n&^7 && math.Float32bits(a[i]) != math.Float32bits(b[i]) && !math.IsNaN(float64(a[i])) {
							t.Fatalf("%s n %d: element %d: avx2 %v, avx512 %v", c.name, n, j, a[i], b[i])
						}
					}
				}
			}
		})
	}
}

// checkLevelValue checks one result within a relative tolerance of want,
// NaN for NaN, and within 1e-37 absolute where want is below it (exp
// clamps below expLo, and kernels_test.go bounds the sigmoid so there).
func checkLevelValue(t *testing.T, name string, x, got float32, want, tol float64) {
	t.Helper()
	switch {
	case math.IsNaN(want):
		if !math.IsNaN(float64(got)) {
			t.Fatalf("%s %s(NaN) = %v", vec.Kernels(), name, got)
		}
	case want < 1e-37:
		if got < 0 || math.Abs(float64(got)-want) > 1e-37 {
			t.Fatalf("%s %s(%v) = %v, want %v", vec.Kernels(), name, x, got, want)
		}
	case want > math.MaxFloat32/2:
		// Saturated (exp above expHi); the bound checks of
		// kernels_test.go pin the value.
	default:
		if math.Abs(float64(got)-want) > tol*want {
			t.Fatalf("%s %s(%v) = %v, want %v (relative error %.3g > %g)", vec.Kernels(), name, x, got, want, math.Abs(float64(got)-want)/want, tol)
		}
	}
}

// TestGELUStepsAtLevels: the vectorised steps of the float32 tanh GELU
// equal the scalar loops bit for bit at every level, every length 0..130
// and every offset within a cache line.
func TestGELUStepsAtLevels(t *testing.T) {
	atLevels(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for n := 0; n <= 130; n++ {
			for off := 0; off < 16; off++ {
				mk := func() []float32 { return make([]float32, off+n+1)[off : off+n] }
				x, b, a, y := mk(), mk(), mk(), mk()
				for j := range x {
					x[j], b[j] = float32(r.NormFloat64()*3), float32(r.NormFloat64())
				}
				geluArg32(a, x, b)
				const s = 0.7
				biasMul32(y, x, b, a, s)
				for j := range x {
					u := x[j] + b[j]
					if want := 2 * geluK * u * (1 + geluC*u*u); a[j] != want {
						t.Fatalf("n %d off %d: argument[%d] = %v, loop %v", n, off, j, a[j], want)
					}
					if want := (x[j] + b[j]) * a[j] * s; y[j] != want {
						t.Fatalf("n %d off %d: product[%d] = %v, loop %v", n, off, j, y[j], want)
					}
				}
				// The element past the row must be untouched (masked tails).
				if a[:n+1][n] != 0 || y[:n+1][n] != 0 {
					t.Fatalf("n %d off %d: wrote past the row", n, off)
				}
			}
		}
	})
}

// BenchmarkFastMathLevels times exp, sigmoid and the GELU steps at every
// supported level in one run, on rows of a decoding step's sizes.
func BenchmarkFastMathLevels(b *testing.B) {
	defer vec.SetKernels(vec.Kernels())
	for _, n := range []int{128, 2048} {
		src := levelRow(n, 0, 1)
		for j := range src { // no NaN, few results in the subnormal range
			src[j] = src[j] / 5
		}
		src[min(50, n-1)] = 0
		x, bias := levelRow(n, 0, 2), levelRow(n, 0, 3)
		for j := range x { // pre-activations of a trained layer's scale
			x[j], bias[j] = x[j]/10, bias[j]/30
		}
		v, a, y := make([]float32, n), make([]float32, n), make([]float32, n)
		for _, c := range []struct {
			name string
			f    func()
		}{
			{"exp", func() { copy(v, src); exp32s(v) }},
			{"sigmoid", func() { copy(v, src); sigmoid32s(v) }},
			{"gelu-steps", func() { geluArg32(a, x, bias); sigmoid32s(a); biasMul32(y, x, bias, a, 1) }},
		} {
			for _, l := range vec.Levels {
				b.Run(fmt.Sprintf("%s/n=%d/%s", c.name, n, l), func(b *testing.B) {
					if _, err := vec.SetKernels(l); err != nil {
						b.Skip(err)
					}
					for b.Loop() {
						c.f()
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
				})
			}
		}
	}
}
