package vec

import "math"

// Low-precision weight rows. A BF16 row holds the upper 16 bits of each
// float32 weight (bfloat16: the same exponent range, 8 bits of mantissa).
// An INT8 row holds one int8 per weight in blocks of Q8Block consecutive
// weights, each block with one float32 scale: weight i is q[i]·s[i/Q8Block]
// (llama.cpp's Q8_0, but with a float32 scale and a shorter last block when
// the row length is not a multiple of Q8Block). Blocks restart at every row,
// so a matrix's row r uses scales r·Q8Blocks(n) onward.
//
// The kernels dequantise inside: Dot and Axpy of an float32 vector with one
// such row, reading 2 (BF16) or 1+4/32 (INT8) bytes per weight instead of
// 4. Each has a scalar twin, the Scalar level, that the assembly is fuzzed
// against.

// Q8Block is the number of consecutive weights of an INT8 row that share
// one scale: 32, as in llama.cpp's Q8_0, small enough that one outlier
// coarsens few weights and large enough that the scales cost 1/8 byte per
// weight.
const Q8Block = 32

// Q8Blocks returns the number of scales of an INT8 row of n weights.
func Q8Blocks(n int) int { return (n + Q8Block - 1) / Q8Block }

// BF16 returns the bfloat16 nearest to f (ties to even; NaN stays NaN).
func BF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40 // a quiet NaN
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// FromBF16 widens a bfloat16 exactly.
func FromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// ToBF16 sets dst[i] = BF16(src[i]).
func ToBF16(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = BF16(v)
	}
}

// WidenBF16 sets dst[i] to the float32 of src[i] (exact at every level).
func WidenBF16(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	n := 0
	if kernel >= AVX2 {
		n = len(src) &^ 7
		widenBF16AVX2(dst[:n], src[:n])
	}
	for i, h := range src[n:] {
		dst[n+i] = FromBF16(h)
	}
}

// QuantizeQ8 quantises the row x into q (len(x)) and s (Q8Blocks(len(x))):
// per block, s = max|x|/127 and q = round(x/s) (0 and 0 for a block of
// zeros), so that the largest weight of each block is exact to float32
// rounding and every weight is within s/2. x must be finite.
func QuantizeQ8(q []int8, s []float32, x []float32) {
	q, s = q[:len(x)], s[:Q8Blocks(len(x))]
	for b := range s {
		blk := x[b*Q8Block : min((b+1)*Q8Block, len(x))]
		var m float32
		for _, v := range blk {
			m = max(m, float32(math.Abs(float64(v))))
		}
		s[b] = m / 127
		for i, v := range blk {
			var r float32
			if m > 0 {
				r = float32(math.RoundToEven(float64(v / s[b])))
			}
			q[b*Q8Block+i] = int8(max(-127, min(127, r)))
		}
	}
}

// DequantizeQ8 sets dst[i] = q[i]·s[i/Q8Block] for the row q, rounding
// each product once: the same values at every level.
func DequantizeQ8(dst []float32, q []int8, s []float32) {
	dst = dst[:len(q)]
	b := 0
	if kernel >= AVX2 {
		b = len(q) / Q8Block
		dequantQ8AVX2(dst[:b*Q8Block], q[:b*Q8Block], s[:b])
	}
	for ; b*Q8Block < len(q); b++ {
		sc, lo := s[b], b*Q8Block
		blk, out := q[lo:min(lo+Q8Block, len(q))], dst[lo:]
		out = out[:len(blk)]
		for i, v := range blk {
			out[i] = float32(v) * sc
		}
	}
}

// DotBF16 returns Σ x[i]·w[i] over len(x) elements for the BF16 row w (at
// least as long).
func DotBF16(x []float32, w []uint16) float32 {
	w = w[:len(x)]
	n := 0
	var s float32
	switch {
	case kernel == AVX512 && len(x) >= 16:
		n = len(x) &^ 15
		s = dotBF16AVX512(x[:n], w[:n])
	case kernel >= AVX2 && len(x) >= 8:
		n = len(x) &^ 7
		s = dotBF16AVX2(x[:n], w[:n])
	}
	return s + dotBF16Go(x[n:], w[n:])
}

// AxpyBF16 sets y[i] += a·w[i] over len(w) elements for the BF16 row w (y
// at least as long).
func AxpyBF16(a float32, w []uint16, y []float32) {
	y = y[:len(w)]
	n := 0
	switch {
	case kernel == AVX512 && len(w) >= 16:
		n = len(w) &^ 15
		axpyBF16AVX512(a, w[:n], y[:n])
	case kernel >= AVX2 && len(w) >= 8:
		n = len(w) &^ 7
		axpyBF16AVX2(a, w[:n], y[:n])
	}
	axpyBF16Go(a, w[n:], y[n:])
}

// DotQ8 returns Σ x[i]·q[i]·s[i/Q8Block] over len(x) elements for the
// INT8 row q (as long as x) with its scales s.
func DotQ8(x []float32, q []int8, s []float32) float32 {
	q = q[:len(x)]
	n := 0
	var sum float32
	if kernel >= AVX2 && len(x) >= Q8Block {
		n = len(x) &^ (Q8Block - 1)
		if kernel == AVX512 {
			sum = dotQ8AVX512(x[:n], q[:n], s[:n/Q8Block])
		} else {
			sum = dotQ8AVX2(x[:n], q[:n], s[:n/Q8Block])
		}
	}
	return sum + dotQ8Go(x[n:], q[n:], s[n/Q8Block:])
}

// AxpyQ8 sets y[i] += a·q[i]·s[i/Q8Block] over len(q) elements for the
// INT8 row q with its scales s (y at least as long).
func AxpyQ8(a float32, q []int8, s []float32, y []float32) {
	y = y[:len(q)]
	n := 0
	if kernel >= AVX2 && len(q) >= Q8Block {
		n = len(q) &^ (Q8Block - 1)
		if kernel == AVX512 {
			axpyQ8AVX512(a, q[:n], s[:n/Q8Block], y[:n])
		} else {
			axpyQ8AVX2(a, q[:n], s[:n/Q8Block], y[:n])
		}
	}
	axpyQ8Go(a, q[n:], s[n/Q8Block:], y[n:])
}

// dotBF16Go, axpyBF16Go, dotQ8Go and axpyQ8Go are the scalar twins. The
// INT8 ones sum each block's products before scaling them, as the
// assembly does.
func dotBF16Go(x []float32, w []uint16) float32 {
	var s float32
	for i, v := range x {
		s += v * FromBF16(w[i])
	}
	return s
}

func axpyBF16Go(a float32, w []uint16, y []float32) {
	for i, h := range w {
		y[i] += a * FromBF16(h)
	}
}

func dotQ8Go(x []float32, q []int8, s []float32) float32 {
	var sum float32
	for b := 0; b*Q8Block < len(x); b++ {
		var blk float32
		for i := b * Q8Block; i < min((b+1)*Q8Block, len(x)); i++ {
			blk += x[i] * float32(q[i])
		}
		sum += s[b] * blk
	}
	return sum
}

func axpyQ8Go(a float32, q []int8, s []float32, y []float32) {
	for b := 0; b*Q8Block < len(q); b++ {
		c := a * s[b]
		for i := b * Q8Block; i < min((b+1)*Q8Block, len(q)); i++ {
			y[i] += c * float32(q[i])
		}
	}
}
