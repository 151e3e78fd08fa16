package blas_test

import (
	"fmt"
	"os"

	"github.com/sparsetune/sparsetune/internal/blas"
)

// Multiply a 2×3 matrix by the transpose of a 2×3 matrix, both row-major.
func ExampleSgemm() {
	if err := blas.Init(); err != nil {
		fmt.Fprintln(os.Stderr, err) // a forced backend failed; gonum is in use
	}
	a := []float32{ // 2×3
		1, 2, 3,
		4, 5, 6,
	}
	b := []float32{ // 2×3, used as Bᵀ (3×2)
		1, 0, 2,
		0, 1, 3,
	}
	c := make([]float32, 2*2)
	blas.Sgemm(false, true, 2, 2, 3, 1, a, 3, b, 3, 0, c, 2)
	fmt.Println(c)
	// Output: [7 11 16 23]
}
