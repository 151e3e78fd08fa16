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
