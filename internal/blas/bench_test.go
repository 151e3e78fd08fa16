package blas

import (
	"fmt"
	"math/rand/v2"
	"testing"
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
