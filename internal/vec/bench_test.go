package vec

import (
	"fmt"
	"testing"
)

// BenchmarkKernels times each kernel at every supported level in one run,
// so that the levels are compared on the same machine state; bytes/s count
// the weights (or x and y) read once.
func BenchmarkKernels(b *testing.B) {
	defer func(l Level) { kernel = l }(kernel)
	type bench struct {
		name  string
		bytes int
		run   func()
	}
	var cases []bench
	for _, n := range []int{64, 512} {
		x, y := vecs(n, 1)
		cases = append(cases,
			bench{fmt.Sprintf("Dot/n=%d", n), 8 * n, func() { Dot(x, y) }},
			bench{fmt.Sprintf("Axpy/n=%d", n), 8 * n, func() { Axpy(1e-3, x, y) }})
	}
	// A decoding step's matrices: 512 columns, from 64 rows (one
	// worker's share of a head, L1/L2-resident) to 2048 (an FFN block, 4 MB).
	for _, m := range []int{64, 512, 2048} {
		const n = 512
		w, _ := vecs(m*n, 2)
		x, y := vecs(n, 3)
		h, o := vecs(m, 4)
		cases = append(cases,
			bench{fmt.Sprintf("GemvN/%dx%d", m, n), 4 * m * n, func() { GemvN(w, x, 0, o) }},
			bench{fmt.Sprintf("GemvT/%dx%d", m, n), 4 * m * n, func() { GemvT(w, h, y) }})
	}
	// Scoring: a group of 32 neurons of width 512 for 48 tokens of 128.
	{
		const toks, used, k, d = 128, 48, 32, 512
		x, acc := vecs(toks*d, 5)
		w, _ := vecs(k*d, 6)
		h, _ := vecs(used*k, 7)
		rows := make([]int, used)
		for i := range rows {
			rows[i] = i * toks / used
		}
		out := make([]float32, used*k)
		cases = append(cases,
			bench{fmt.Sprintf("DotRows/%dx%dx%d", used, k, d), 4 * k * d, func() { DotRows(out, x, rows, w, k) }},
			bench{fmt.Sprintf("AxpyRows/%dx%dx%d", used, k, d), 4 * k * d, func() { AxpyRows(acc, rows, h, w, k) }})
	}
	for _, c := range cases {
		for _, l := range Levels {
			b.Run(c.name+"/"+l.String(), func(b *testing.B) {
				if !Supported(l) {
					b.Skipf("this CPU lacks %s", l)
				}
				kernel = l
				b.SetBytes(int64(c.bytes))
				for b.Loop() {
					c.run()
				}
			})
		}
	}
}
