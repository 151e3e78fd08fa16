package parallel_test

import (
	"fmt"

	"github.com/sparsetune/sparsetune/internal/parallel"
)

// Scale a vector in place, in chunks of at least 4096 elements.
func ExampleFor() {
	x := make([]float32, 10000)
	for i := range x {
		x[i] = float32(i)
	}
	parallel.For(len(x), 4096, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x[i] *= 2
		}
	})
	fmt.Println(x[9999])
	// Output: 19998
}
