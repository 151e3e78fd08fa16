package ops

import (
	"math"

	"github.com/sparsetune/sparsetune/internal/parallel"
)

// This file holds the scalar kernels shared by the elementwise, norm and loss
// ops: fast float32 approximations of tanh, exp, sigmoid and erf, applied to
// whole slices so that a row costs one call, and deterministic row and column
// reductions.
//
// Only float32 uses the approximations. float64 runs the math package, so the
// float64 finite-difference checks test the calculus, not the approximation;
// kernels_test.go fuzzes each approximation against math and states its
// error, which stays two orders of magnitude inside the 1e-4 PyTorch parity
// tolerance.

// minChunk is the number of elements below which splitting a loop across
// goroutines costs more than it saves (a few microseconds of work).
const minChunk = 1 << 14

// rowGrain is the parallel.For grain, in rows, for rows of d elements.
func rowGrain(d int) int { return max(1, minChunk/max(d, 1)) }

// Range of exp32s: below expLo the result would be subnormal and is clamped
// to e^expLo ≈ 1.2e-38; above expHi (ln 2.39e38) it saturates, so that the
// power of two 2^n stays a normal float32 (n ≤ 127).
const (
	expLo = -87.33654
	expHi = 88.37
)

// exp32sGo, exp32s's scalar twin, replaces each element of v by its
// exponential, computed with Cephes' expf (S. Moshier, Cephes Math Library, expf.c): x = n·ln2 + r with
// |r| ≤ ln2/2 and ln2 split in two so that n·C1 is exact, a degree-7
// polynomial for e^r, and 2^n built from exponent bits. The polynomial is
// evaluated in Estrin's scheme rather than Cephes' Horner form: its shorter
// dependency chain lets more elements overlap, 15-25% faster here. Error bound:
// expMaxRelErr on [expLo, expHi] (kernels_test.go). NaN propagates. On
// amd64 with AVX2 and FMA, exp32s runs the same steps eight elements at a
// time in assembly (exp_amd64.s), with AVX-512 sixteen at a time
// (exp_avx512_amd64.s), at package vec's kernel level (vec.Kernels).
func exp32sGo(v []float32) {
	for i, x := range v {
		if x > expHi {
			x = expHi
		} else if x < expLo {
			x = expLo
		}
		// Round x·log2(e) to the nearest integer n with the 1.5·2^23
		// trick: the sum's low mantissa bits then hold n, so its bit
		// pattern gives the exponent of 2^n without a conversion.
		t := x*1.44269504088896341 + 12582912
		n := t - 12582912
		r := x - n*0.693359375 - n*-2.12194440e-4
		r2 := r * r
		p := r*1.6666665459e-1 + 5.0000001201e-1 + (r*8.3334519073e-3+4.1665795894e-2)*r2 +
			(r*1.9875691500e-4+1.3981999507e-3)*(r2*r2)
		p = p*r2 + (r + 1)
		v[i] = p * math.Float32frombits((math.Float32bits(t)-0x4B400000+127)<<23)
	}
}

// sigmoid32s replaces each element of v by the logistic 1/(1+e^-x), with
// the exp32s body written out in the loop: SiLU, SwiGLU and the tanh GELU
// (0.5·(1+tanh z) = sigmoid(2z)) spend most of their time here. The result
// keeps exp32s's relative accuracy, in the tails too: sigmoid(-20) is
// 2.06e-9, not 0. Error bound: sigmoidMaxRelErr (kernels_test.go). On
// amd64 with AVX2 and FMA, sigmoid32s runs the same steps eight elements at
// a time in assembly (exp_amd64.s), fused multiply-adds included, with
// AVX-512 sixteen at a time (exp_avx512_amd64.s), and this loop is their
// twin.
func sigmoid32sGo(v []float32) {
	for i, z := range v {
		x := -z
		if x > expHi {
			x = expHi
		} else if x < expLo {
			x = expLo
		}
		t := x*1.44269504088896341 + 12582912 // see exp32s
		n := t - 12582912
		r := x - n*0.693359375 - n*-2.12194440e-4
		r2 := r * r
		p := r*1.6666665459e-1 + 5.0000001201e-1 + (r*8.3334519073e-3+4.1665795894e-2)*r2 +
			(r*1.9875691500e-4+1.3981999507e-3)*(r2*r2)
		p = p*r2 + (r + 1)
		v[i] = 1 / (1 + p*math.Float32frombits((math.Float32bits(t)-0x4B400000+127)<<23))
	}
}

// tanh32s replaces each element of v by its tanh, as 2·sigmoid(2x) - 1.
// Error bound: tanhMaxErr absolute (kernels_test.go), about 1 ulp of 1;
// being absolute, it is large relative to tanh(x) below |x| ≈ 1e-3, which
// no activation here cares about.
func tanh32s(v []float32) {
	for i, x := range v {
		v[i] = 2 * x
	}
	sigmoid32s(v)
	for i, s := range v {
		v[i] = 2*s - 1
	}
}

// erf32s replaces each element of v by its error function, computed with
// Abramowitz & Stegun 7.1.26 (absolute error 1.5e-7 in exact arithmetic)
// and exp32s, extended to negative x by oddness. The exponentials are taken
// 64 at a time into a stack buffer, so the loop makes no call per element.
// Error bound: erfMaxErr (kernels_test.go).
func erf32s(v []float32) {
	var e [64]float32
	for o := 0; o < len(v); o += len(e) {
		c := v[o:min(o+len(e), len(v))]
		for i, x := range c {
			e[i] = -x * x
		}
		exp32s(e[:len(c)])
		for i, x := range c {
			// |x| and the sign by bit masks: branches on random signs
			// would mispredict half the time.
			sign := math.Float32bits(x) & 0x80000000
			a := math.Float32frombits(math.Float32bits(x) &^ 0x80000000)
			t := 1 / (1 + 0.3275911*a)
			p := t*1.061405429 + -1.453152027
			p = t*p + 1.421413741
			p = t*p + -0.284496736
			p = t*p + 0.254829592
			c[i] = math.Float32frombits(math.Float32bits(1-t*p*e[i]) | sign)
		}
	}
}

// asF32 returns v as a []float32 when T is float32.
func asF32[T Float](v []T) ([]float32, bool) {
	f, ok := any(v).([]float32)
	return f, ok
}

// vmap replaces each element x of v by f(x): by fast, the float32 kernel,
// when T is float32, else element by element in float64.
func vmap[T Float](v []T, fast func([]float32), f func(float64) float64) {
	if f32, ok := asF32(v); ok {
		fast(f32)
		return
	}
	for i, x := range v {
		v[i] = T(f(float64(x)))
	}
}

// vtanh replaces each element of v by its hyperbolic tangent.
func vtanh[T Float](v []T) { vmap(v, tanh32s, math.Tanh) }

// vexp replaces each element of v by its exponential.
func vexp[T Float](v []T) { vmap(v, exp32s, math.Exp) }

// vsigmoid replaces each element of v by the logistic 1/(1+e^-v).
func vsigmoid[T Float](v []T) {
	vmap(v, sigmoid32s, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) })
}

// verf replaces each element of v by its error function.
func verf[T Float](v []T) { vmap(v, erf32s, math.Erf) }

// expShiftSum sets dst[j] = exp(src[j] - shift) and returns the sum of dst
// accumulated in float64. dst and src may be the same slice.
func expShiftSum[T Float](dst, src []T, shift T) float64 {
	dst = dst[:len(src)]
	if f, ok := asF32(dst); ok {
		s, _ := asF32(src)
		return expShiftSum32(f, s, float32(shift))
	}
	var a float64
	for j, x := range src {
		e := math.Exp(float64(x - shift))
		dst[j] = T(e)
		a += e
	}
	return a
}

// expShiftSum32 is expShiftSum for float32 with the exp32s body written
// out: softmax rows are the largest exp workload (N·V per step), and the
// fused loop saves two passes over each row.
func expShiftSum32(dst, src []float32, shift float32) float64 {
	dst = dst[:len(src)]
	var a0, a1 float64 // two chains: even and odd elements
	for j, x := range src {
		x -= shift
		if x > expHi {
			x = expHi
		} else if x < expLo {
			x = expLo
		}
		t := x*1.44269504088896341 + 12582912 // see exp32s
		n := t - 12582912
		r := x - n*0.693359375 - n*-2.12194440e-4
		r2 := r * r
		p := r*1.6666665459e-1 + 5.0000001201e-1 + (r*8.3334519073e-3+4.1665795894e-2)*r2 +
			(r*1.9875691500e-4+1.3981999507e-3)*(r2*r2)
		p = p*r2 + (r + 1)
		e := p * math.Float32frombits((math.Float32bits(t)-0x4B400000+127)<<23)
		dst[j] = e
		if j&1 == 0 {
			a0 += float64(e)
		} else {
			a1 += float64(e)
		}
	}
	return a0 + a1
}

// maxOf returns the largest element of a non-empty v; four running maxima
// break the compare chain. With NaN elements the result is NaN or the
// largest of the others: callers subtract it and take exp, which turns any
// NaN element into a NaN sum either way.
func maxOf[T Float](v []T) T {
	m0, m1, m2, m3 := v[0], v[0], v[0], v[0]
	j := 0
	for ; j+3 < len(v); j += 4 {
		if v[j] > m0 {
			m0 = v[j]
		}
		if v[j+1] > m1 {
			m1 = v[j+1]
		}
		if v[j+2] > m2 {
			m2 = v[j+2]
		}
		if v[j+3] > m3 {
			m3 = v[j+3]
		}
	}
	for ; j < len(v); j++ {
		if v[j] > m0 {
			m0 = v[j]
		}
	}
	return max(m0, m1, m2, m3)
}

// sum64 returns the sum of v accumulated in float64 over four chains.
func sum64[T Float](v []T) float64 {
	var a0, a1, a2, a3 float64
	j := 0
	for ; j+3 < len(v); j += 4 {
		a0 += float64(v[j])
		a1 += float64(v[j+1])
		a2 += float64(v[j+2])
		a3 += float64(v[j+3])
	}
	for ; j < len(v); j++ {
		a0 += float64(v[j])
	}
	return (a0 + a1) + (a2 + a3)
}

// colSums sets dst[j] = Σ_r src[r*d+j] over n rows of d, accumulating in
// float64 in acc (len ≥ d). Work is split by columns, so every column is
// summed in row order and the result does not depend on the worker count.
func colSums[T Float](dst, src []T, n, d int, acc []float64) {
	parallel.For(d, colGrain(n, d), func(lo, hi int) {
		a := acc[lo:hi]
		clear(a)
		for r := 0; r < n; r++ {
			row := src[r*d+lo : r*d+hi]
			for j, x := range row {
				a[j] += float64(x)
			}
		}
		for j, x := range a {
			dst[lo+j] = T(x)
		}
	})
}

// colGrain is the parallel.For grain, in columns, for column loops over n
// rows of d: at least minChunk elements and 16 columns (one cache line of
// float32) per chunk.
func colGrain(n, d int) int { return max(16, minChunk/max(n, 1)) }

// grow returns s resized to n, reallocating only when its capacity is short.
// The contents are unspecified.
func grow[E any](s []E, n int) []E {
	if cap(s) < n {
		return make([]E, n)
	}
	return s[:n]
}
