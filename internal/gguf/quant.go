package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Encode returns data, row-major with rows of rowLen values, in the byte
// layout of type t: little-endian float32 (F32), IEEE half precision
// rounded to nearest even (F16), or Q8_0 blocks (QuantizeQ8_0). Q8_0 needs
// rowLen to be a multiple of Q8Block, as ggml does, so that no block
// straddles two rows.
func Encode(t TensorType, data []float32, rowLen int) ([]byte, error) {
	if rowLen <= 0 || len(data)%rowLen != 0 {
		return nil, fmt.Errorf("%d values do not make rows of %d", len(data), rowLen)
	}
	size, err := DataSize(t, uint64(len(data)), uint64(rowLen))
	if err != nil {
		return nil, err
	}
	out := make([]byte, size)
	switch t {
	case F32:
		for i, v := range data {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		}
	case F16:
		for i, v := range data {
			binary.LittleEndian.PutUint16(out[2*i:], F32ToF16(v))
		}
	case Q8_0:
		QuantizeQ8_0(out, data)
	}
	return out, nil
}

// Decode returns the n values that Encode wrote as b with type t.
func Decode(t TensorType, b []byte, n int) ([]float32, error) {
	rowLen := uint64(n)
	if t == Q8_0 {
		rowLen = Q8Block // any multiple will do: blocks do not depend on rows
	}
	size, err := DataSize(t, uint64(n), rowLen)
	if err != nil {
		return nil, err
	}
	if t == Q8_0 && n%Q8Block != 0 {
		return nil, fmt.Errorf("Q8_0 holds multiples of %d values, not %d", Q8Block, n)
	}
	if uint64(len(b)) != size {
		return nil, fmt.Errorf("%s data of %d values needs %d bytes, got %d", t, n, size, len(b))
	}
	out := make([]float32, n)
	switch t {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case F16:
		for i := range out {
			out[i] = F16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case Q8_0:
		DequantizeQ8_0(out, b)
	}
	return out, nil
}

// QuantizeQ8_0 writes x (a multiple of Q8Block values) into dst as Q8_0
// blocks, as ggml's quantize_row_q8_0_ref does: per block of 32, the
// scale d = max|x|/127 stored as float16, and q = round(x/d) (computed as
// x·(1/d), rounding half away from zero, like C's roundf) as int8. An
// all-zero block has d = 0 and q = 0.
func QuantizeQ8_0(dst []byte, x []float32) {
	for b := 0; b < len(x)/Q8Block; b++ {
		blk := x[b*Q8Block:][:Q8Block]
		out := dst[b*q8BlockBytes:][:q8BlockBytes]
		var amax float32
		for _, v := range blk {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(out, F32ToF16(d))
		for i, v := range blk {
			out[2+i] = byte(int8(math.Round(float64(v * id))))
		}
	}
}

// DequantizeQ8_0 writes the values of the Q8_0 blocks src into dst
// (len(dst)/Q8Block blocks): x = d·q with d read back from float16.
func DequantizeQ8_0(dst []float32, src []byte) {
	for b := 0; b < len(dst)/Q8Block; b++ {
		in := src[b*q8BlockBytes:][:q8BlockBytes]
		d := F16ToF32(binary.LittleEndian.Uint16(in))
		for i := range Q8Block {
			dst[b*Q8Block+i] = d * float32(int8(in[2+i]))
		}
	}
}

// F32ToF16 rounds f to the nearest IEEE 754 half-precision value (ties to
// even), as ggml's GGML_FP32_TO_FP16 does: overflow gives ±Inf, values
// below half the smallest subnormal give ±0, NaN stays NaN.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff { // Inf or NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15 // the half's biased exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 { // subnormal half: value = m·2⁻²⁴, m = mant24 >> (14 − e)
		if e < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint(14 - e)
		m := mant >> shift
		rem, half := mant&(1<<shift-1), uint32(1)<<(shift-1)
		if rem > half || (rem == half && m&1 == 1) {
			m++ // may carry into the smallest normal, which is right
		}
		return sign | uint16(m)
	}
	h := uint32(e)<<10 | mant>>13
	if rem := mant & 0x1fff; rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, up to Inf, which is right
	}
	return sign | uint16(h)
}

// F16ToF32 returns the value of the half-precision bits h exactly.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0: // zero or subnormal: mant·2⁻²⁴
		f := float32(mant) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}
