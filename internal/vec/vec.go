package vec

// Dot returns Σ x[i]·y[i] over len(x) elements (y at least as long).
func Dot(x, y []float32) float32 {
	y = y[:len(x)]
	switch {
	case kernel == AVX512 && len(x) >= 16:
		return dotAVX512(x, y)
	case kernel >= AVX2 && len(x) >= 32:
		return dotAVX2(x, y)
	}
	return dotGo(x, y)
}

// Axpy sets y[i] += a·x[i] over len(x) elements (y at least as long).
func Axpy(a float32, x, y []float32) {
	y = y[:len(x)]
	switch {
	case kernel == AVX512 && len(x) >= 16:
		axpyAVX512(a, x, y)
	case kernel >= AVX2 && len(x) >= 32:
		axpyAVX2(a, x, y)
	default:
		axpyGo(a, x, y)
	}
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
	if kernel == AVX512 && beta == 0 && n > 0 {
		gemvN512(y, w[:len(y)*n], x)
		return
	}
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
	if kernel == AVX512 && n > 0 {
		gemvT512(w[:len(h)*n], h, y)
		return
	}
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
	if kernel == Scalar {
		dotRowsGo(out, x, rows, w, k)
		return
	}
	i := 0
	if kernel == AVX512 && d > 0 {
		if d%16 == 0 && k%4 == 0 {
			for ; i+3 <= len(rows); i += 3 {
				x0, x1, x2 := x[rows[i]*d:][:d], x[rows[i+1]*d:][:d], x[rows[i+2]*d:][:d]
				o := out[i*k : (i+3)*k]
				dotRows3AVX512(&x0[0], &x1[0], &x2[0], &w[0], d, k, &o[0], &o[k], &o[2*k])
			}
		}
		for ; i < len(rows); i++ {
			gemvN512(out[i*k:(i+1)*k], w[:k*d], x[rows[i]*d:][:d])
		}
		return
	}
	if kernel >= AVX2 && d%8 == 0 && k%4 == 0 && d > 0 {
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
	if kernel == Scalar {
		axpyRowsGo(acc, rows, h, w, k)
		return
	}
	i := 0
	if kernel == AVX512 && d > 0 {
		if d%32 == 0 && len(rows) >= 6 {
			i = axpyRows6(acc, rows, h, w, k, AVX512)
		}
		for ; i < len(rows); i++ {
			gemvT512(w[:k*d], h[i*k:(i+1)*k], acc[rows[i]*d:][:d])
		}
		return
	}
	if kernel >= AVX2 && d%16 == 0 && d > 0 && len(rows) >= 6 {
		i = axpyRows6(acc, rows, h, w, k, AVX2)
	}
	for ; i < len(rows); i++ {
		ar := acc[rows[i]*d:][:d]
		for n := 0; n < k; n++ {
			Axpy(h[i*k+n], w[n*d:(n+1)*d], ar)
		}
	}
}

// axpyRows6 runs AxpyRows six tokens at a time, their coefficients of each
// neuron side by side, with the assembly of level l (AVX2: d a multiple of
// 16; AVX512: of 32), and returns how many of rows it did.
func axpyRows6(acc []float32, rows []int, h, w []float32, k int, l Level) int {
	d := len(w) / k
	var buf [6 * maxK6]float32
	hb := buf[:]
	if k > maxK6 {
		hb = make([]float32, 6*k)
	}
	i := 0
	for ; i+6 <= len(rows); i += 6 {
		for t := 0; t < 6; t++ {
			for n, v := range h[(i+t)*k : (i+t+1)*k] {
				hb[6*n+t] = v
			}
		}
		a0, a1, a2 := acc[rows[i]*d:][:d], acc[rows[i+1]*d:][:d], acc[rows[i+2]*d:][:d]
		a3, a4, a5 := acc[rows[i+3]*d:][:d], acc[rows[i+4]*d:][:d], acc[rows[i+5]*d:][:d]
		if l == AVX512 {
			axpyRows6AVX512(&a0[0], &a1[0], &a2[0], &a3[0], &a4[0], &a5[0], &hb[0], &w[0], d, k)
		} else {
			axpyRows6AVX2(&a0[0], &a1[0], &a2[0], &a3[0], &a4[0], &a5[0], &hb[0], &w[0], d, k)
		}
	}
	return i
}

// gemvN512 sets y = W·x for the row-major (len(y), len(x)) matrix w with
// the AVX-512 kernels: four rows at a time, the rest one by one.
func gemvN512(y, w, x []float32) {
	n, k := len(x), len(y)&^3
	if k > 0 {
		gemvNAVX512(&w[0], &x[0], n, k, &y[0])
	}
	for r := k; r < len(y); r++ {
		y[r] = dotAVX512(x, w[r*n:(r+1)*n])
	}
}

// gemvT512 sets y += Σ_r h[r]·W[r,:] for the row-major (len(h), len(y))
// matrix w with the AVX-512 kernels: four rows at a time, the rest one by
// one, in row order either way.
func gemvT512(w, h, y []float32) {
	n, k := len(y), len(h)&^3
	if k > 0 {
		gemvTAVX512(&w[0], &h[0], k, n, &y[0])
	}
	for r := k; r < len(h); r++ {
		axpyAVX512(h[r], w[r*n:(r+1)*n], y)
	}
}

// maxK6 is the most rows of w whose six-token coefficient block AxpyRows
// keeps on the stack.
const maxK6 = 128

// dotRowsGo and axpyRowsGo are DotRows's and AxpyRows's scalar twins, the
// Scalar level.
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
