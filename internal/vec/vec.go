// Package vec holds the float32 row kernels of batch-1 decoding: dot
// products and axpy over rows of a weight matrix, with AVX2/FMA assembly on
// amd64 machines that have it and plain Go elsewhere. The Go versions are
// the reference the assembly is fuzzed against.
package vec

import "golang.org/x/sys/cpu"

var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// Dot returns Σ x[i]·y[i] over len(x) elements (y at least as long).
func Dot(x, y []float32) float32 {
	y = y[:len(x)]
	if useAVX2 && len(x) >= 32 {
		return dotAVX2(x, y)
	}
	return dotGo(x, y)
}

// Axpy sets y[i] += a·x[i] over len(x) elements (y at least as long).
func Axpy(a float32, x, y []float32) {
	y = y[:len(x)]
	if useAVX2 && len(x) >= 32 {
		axpyAVX2(a, x, y)
		return
	}
	axpyGo(a, x, y)
}

func dotGo(x, y []float32) float32 {
	var s float32
	for i, v := range x {
		s += v * y[i]
	}
	return s
}

func axpyGo(a float32, x, y []float32) {
	for i, v := range x {
		y[i] += a * v
	}
}

// GemvN sets y[r] = Σ_j W[r,j]·x[j] (+ beta·y[r] when beta != 0) for the
// rows of the row-major (len(y), len(x)) matrix w.
func GemvN(w, x []float32, beta float32, y []float32) {
	n := len(x)
	for r := range y {
		d := Dot(x, w[r*n:(r+1)*n])
		if beta != 0 {
			d += beta * y[r]
		}
		y[r] = d
	}
}

// GemvT sets y += Σ_r h[r]·W[r,:] for the rows of the row-major
// (len(h), len(y)) matrix w.
func GemvT(w, h, y []float32) {
	n := len(y)
	for r, a := range h {
		Axpy(a, w[r*n:(r+1)*n], y)
	}
}

// DotRows sets out[i·k+j] = x[rows[i]]·w[j] for every listed row of x and
// the k rows of w (both row-major with d = len(w)/k columns): the products
// of one FFN group's neurons with the tokens that use it, reading the
// tokens' rows where they are instead of gathering them. out holds at least
// len(rows)·k elements.
func DotRows(out, x []float32, rows []int, w []float32, k int) {
	d := len(w) / k
	out = out[:len(rows)*k]
	i := 0
	if useAVX2 && d%8 == 0 && k%4 == 0 && d > 0 {
		for ; i+3 <= len(rows); i += 3 {
			x0, x1, x2 := x[rows[i]*d:][:d], x[rows[i+1]*d:][:d], x[rows[i+2]*d:][:d]
			o := out[i*k : (i+3)*k]
			dotRows3AVX2(&x0[0], &x1[0], &x2[0], &w[0], d, k, &o[0], &o[k], &o[2*k])
		}
	}
	for ; i < len(rows); i++ {
		xr := x[rows[i]*d:][:d]
		for j := 0; j < k; j++ {
			out[i*k+j] = Dot(xr, w[j*d:(j+1)*d])
		}
	}
}

// AxpyRows adds Σ_n h[i·k+n]·w[n] to row rows[i] of acc for every i: the
// output projection of one FFN group for the tokens that use it, added
// where they are instead of scattered from a buffer. w has k rows of d =
// len(w)/k columns, acc rows of d columns; the listed rows must be
// distinct.
func AxpyRows(acc []float32, rows []int, h, w []float32, k int) {
	d := len(w) / k
	h = h[:len(rows)*k]
	i := 0
	if useAVX2 && d%16 == 0 && d > 0 && len(rows) >= 6 {
		// Six tokens at a time, their coefficients of each neuron side
		// by side.
		var buf [6 * maxK6]float32
		hb := buf[:]
		if k > maxK6 {
			hb = make([]float32, 6*k)
		}
		for ; i+6 <= len(rows); i += 6 {
			for t := 0; t < 6; t++ {
				for n, v := range h[(i+t)*k : (i+t+1)*k] {
					hb[6*n+t] = v
				}
			}
			a0, a1, a2 := acc[rows[i]*d:][:d], acc[rows[i+1]*d:][:d], acc[rows[i+2]*d:][:d]
			a3, a4, a5 := acc[rows[i+3]*d:][:d], acc[rows[i+4]*d:][:d], acc[rows[i+5]*d:][:d]
			axpyRows6AVX2(&a0[0], &a1[0], &a2[0], &a3[0], &a4[0], &a5[0], &hb[0], &w[0], d, k)
		}
	}
	for ; i < len(rows); i++ {
		ar := acc[rows[i]*d:][:d]
		for n := 0; n < k; n++ {
			Axpy(h[i*k+n], w[n*d:(n+1)*d], ar)
		}
	}
}

// maxK6 is the most rows of w whose six-token coefficient block AxpyRows
// keeps on the stack.
const maxK6 = 128

// dotRowsGo and axpyRowsGo are DotRows's and AxpyRows's scalar twins.
func dotRowsGo(out, x []float32, rows []int, w []float32, k int) {
	d := len(w) / k
	for i, r := range rows {
		for j := 0; j < k; j++ {
			out[i*k+j] = dotGo(x[r*d:(r+1)*d], w[j*d:(j+1)*d])
		}
	}
}

func axpyRowsGo(acc []float32, rows []int, h, w []float32, k int) {
	d := len(w) / k
	for i, r := range rows {
		for n := 0; n < k; n++ {
			axpyGo(h[i*k+n], w[n*d:(n+1)*d], acc[r*d:(r+1)*d])
		}
	}
}
