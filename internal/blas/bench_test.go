package blas

import (
	"fmt"
	"math/rand/v2"
	"testing"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// BenchmarkSgemm measures square C = A·B on every available backend and
// reports GFLOPS (2n³ flops per multiply).
func BenchmarkSgemm(b *testing.B) {
	benchGemm[float32](b, []int{256, 512, 1024})
}

// BenchmarkDgemm is BenchmarkSgemm in float64.
func BenchmarkDgemm(b *testing.B) {
	benchGemm[float64](b, []int{256, 512})
}

// BenchmarkSgemmSmall measures the fixed cost of a call, where the purego
// trampoline (reflection, a switch to the system stack) is not negligible.
func BenchmarkSgemmSmall(b *testing.B) {
	benchGemm[float32](b, []int{1, 8, 12, 16, 20, 24, 32, 64})
}

func benchGemm[T float32 | float64](b *testing.B, sizes []int) {
	for _, be := range backends(b) {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("backend=%s/n=%d", be.name, n), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				x, y, z := randSlice[T](rng, n*n), randSlice[T](rng, n*n), make([]T, n*n)
				for b.Loop() {
					gemmOn(be.lib, false, false, n, n, n, 1, x, n, y, n, 0, z, n)
				}
				flops := 2 * float64(n) * float64(n) * float64(n) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}

// BenchmarkSgemv compares gonum's assembly kernels with the library on
// the matrix-vector products of decoding (an FFN's 2048×512 input and
// output projections), plain and transposed.
func BenchmarkSgemv(b *testing.B) {
	m, n := 2048, 512
	a := make([]float32, m*n)
	x, y := make([]float32, max(m, n)), make([]float32, max(m, n))
	for i := range a {
		a[i] = float32(i%7) * 0.1
	}
	for _, trans := range []bool{false, true} {
		b.Run(fmt.Sprintf("library/trans=%v", trans), func(b *testing.B) {
			b.SetBytes(int64(4 * m * n))
			for b.Loop() {
				Sgemv(trans, m, n, 1, a, n, x, 0, y)
			}
		})
		b.Run(fmt.Sprintf("gonum/trans=%v", trans), func(b *testing.B) {
			b.SetBytes(int64(4 * m * n))
			t := gblas.NoTrans
			if trans {
				t = gblas.Trans
			}
			for b.Loop() {
				gonum.Implementation{}.Sgemv(t, m, n, 1, a, n, x, 1, 0, y, 1)
			}
		})
	}
}
