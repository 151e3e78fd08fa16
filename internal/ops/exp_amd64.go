package ops

import (
	"math"

	"github.com/sparsetune/sparsetune/internal/vec"
)

// expConst holds exp32s's and sigmoid32s's constants, each eight times,
// for expAVX2 (expAVX512 broadcasts the first of each); the last row is an
// integer (the exponent bias step).
var expConst = func() (c [14][8]float32) {
	vals := [13]float32{expHi, expLo, 1.44269504088896341, 12582912, 0.693359375, -2.12194440e-4,
		1.6666665459e-1, 5.0000001201e-1, 8.3334519073e-3, 4.1665795894e-2, 1.9875691500e-4, 1.3981999507e-3, 1}
	for i, v := range vals {
		for j := range c[i] {
			c[i][j] = v
		}
	}
	for j := range c[13] {
		c[13][j] = math.Float32frombits(0x4B400000 - 127)
	}
	return c
}()

//go:noescape
func expAVX2(v []float32, c *[14][8]float32, sigmoid bool)

//go:noescape
func expAVX512(v []float32, c *[14][8]float32, sigmoid bool)

// exp32s replaces each element of v by its exponential; see exp32sGo, its
// twin and reference, for the algorithm and the error.
func exp32s(v []float32) {
	switch {
	case vec.Kernels() == vec.AVX512 && len(v) > 0:
		expAVX512(v, &expConst, false)
		return
	case vec.Kernels() >= vec.AVX2 && len(v) >= 8:
		expAVX2(v, &expConst, false)
		v = v[len(v)&^7:]
	}
	exp32sGo(v)
}

// sigmoid32s replaces each element of v by the logistic 1/(1+e^-x); see
// sigmoid32sGo, its twin and reference, for the algorithm and the error.
func sigmoid32s(v []float32) {
	switch {
	case vec.Kernels() == vec.AVX512 && len(v) > 0:
		expAVX512(v, &expConst, true)
		return
	case vec.Kernels() >= vec.AVX2 && len(v) >= 8:
		expAVX2(v, &expConst, true)
		v = v[len(v)&^7:]
	}
	sigmoid32sGo(v)
}

//go:noescape
func geluArgAVX2(a, x, b []float32, k2, c float32)

//go:noescape
func biasMulAVX2(y, x, b, a []float32, s float32)

//go:noescape
func geluArgAVX512(a, x, b []float32, k2, c float32)

//go:noescape
func biasMulAVX512(y, x, b, a []float32, s float32)

// geluArg32 sets a[j] = 2k·u·(1 + c·u²), u = x[j] + b[j]: the tanh GELU's
// sigmoid argument, as actFwd's loop computes it.
func geluArg32(a, x, b []float32) {
	if vec.Kernels() == vec.AVX512 {
		n := len(a)
		geluArgAVX512(a, x[:n], b[:n], 2*geluK, geluC)
		return
	}
	n := 0
	if vec.Kernels() >= vec.AVX2 {
		n = len(a) &^ 7
		geluArgAVX2(a[:n], x[:n], b[:n], 2*geluK, geluC)
	}
	for j := n; j < len(a); j++ {
		u := x[j] + b[j]
		a[j] = 2 * geluK * u * (1 + geluC*u*u)
	}
}

// biasMul32 sets y[j] = (x[j] + b[j])·a[j]·s, as actFwd's loop does.
func biasMul32(y, x, b, a []float32, s float32) {
	if vec.Kernels() == vec.AVX512 {
		n := len(y)
		biasMulAVX512(y, x[:n], b[:n], a[:n], s)
		return
	}
	n := 0
	if vec.Kernels() >= vec.AVX2 {
		n = len(y) &^ 7
		biasMulAVX2(y[:n], x[:n], b[:n], a[:n], s)
	}
	for j := n; j < len(y); j++ {
		y[j] = (x[j] + b[j]) * a[j] * s
	}
}
