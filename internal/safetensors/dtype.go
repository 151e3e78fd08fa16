package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Float dtypes this package converts to and from float32.
const (
	F32  = "F32"  // IEEE 754 binary32
	F16  = "F16"  // IEEE 754 binary16
	BF16 = "BF16" // bfloat16: the top 16 bits of a binary32
	F64  = "F64"  // IEEE 754 binary64; narrowed to float32 on read
)

// Integer dtypes, read into Tensor.Ints when ReadOptions.Ints is set.
const (
	I64  = "I64"
	I32  = "I32"
	I16  = "I16"
	I8   = "I8"
	U64  = "U64"
	U32  = "U32"
	U16  = "U16"
	U8   = "U8"
	BOOL = "BOOL" // one byte, 0 or 1
)

// dtype describes one element type. Exactly one of the float or int
// function pairs is set.
type dtype struct {
	name string
	size int // bytes per element

	toF32   func(dst []float32, src []byte)
	fromF32 func(dst []byte, src []float32)

	toI64   func(dst []int64, src []byte) (bad int, ok bool) // bad: index of a value int64 cannot hold
	min     int64                                            // range of values fromI64 accepts
	max     int64
	fromI64 func(dst []byte, src []int64)
}

func (d *dtype) isInt() bool { return d.toI64 != nil }

var le = binary.LittleEndian

var dtypes = map[string]*dtype{
	F32: {name: F32, size: 4,
		toF32: func(dst []float32, src []byte) {
			for i := range dst {
				dst[i] = math.Float32frombits(le.Uint32(src[4*i:]))
			}
		},
		fromF32: func(dst []byte, src []float32) {
			for i, v := range src {
				le.PutUint32(dst[4*i:], math.Float32bits(v))
			}
		}},
	F16: {name: F16, size: 2,
		toF32: func(dst []float32, src []byte) {
			for i := range dst {
				dst[i] = f16ToF32(le.Uint16(src[2*i:]))
			}
		},
		fromF32: func(dst []byte, src []float32) {
			for i, v := range src {
				le.PutUint16(dst[2*i:], f32ToF16(v))
			}
		}},
	BF16: {name: BF16, size: 2,
		toF32: func(dst []float32, src []byte) {
			for i := range dst {
				dst[i] = bf16ToF32(le.Uint16(src[2*i:]))
			}
		},
		fromF32: func(dst []byte, src []float32) {
			for i, v := range src {
				le.PutUint16(dst[2*i:], f32ToBF16(v))
			}
		}},
	F64: {name: F64, size: 8,
		toF32: func(dst []float32, src []byte) {
			for i := range dst {
				// Go's conversion rounds to nearest even, overflows to ±Inf
				// and keeps NaN.
				dst[i] = float32(math.Float64frombits(le.Uint64(src[8*i:])))
			}
		},
		fromF32: func(dst []byte, src []float32) {
			for i, v := range src {
				le.PutUint64(dst[8*i:], math.Float64bits(float64(v)))
			}
		}},

	I64: intDtype(I64, 8, math.MinInt64, math.MaxInt64,
		func(b []byte) (int64, bool) { return int64(le.Uint64(b)), true },
		func(b []byte, v int64) { le.PutUint64(b, uint64(v)) }),
	I32: intDtype(I32, 4, math.MinInt32, math.MaxInt32,
		func(b []byte) (int64, bool) { return int64(int32(le.Uint32(b))), true },
		func(b []byte, v int64) { le.PutUint32(b, uint32(v)) }),
	I16: intDtype(I16, 2, math.MinInt16, math.MaxInt16,
		func(b []byte) (int64, bool) { return int64(int16(le.Uint16(b))), true },
		func(b []byte, v int64) { le.PutUint16(b, uint16(v)) }),
	I8: intDtype(I8, 1, math.MinInt8, math.MaxInt8,
		func(b []byte) (int64, bool) { return int64(int8(b[0])), true },
		func(b []byte, v int64) { b[0] = byte(v) }),
	U64: intDtype(U64, 8, 0, math.MaxInt64,
		func(b []byte) (int64, bool) { u := le.Uint64(b); return int64(u), u <= math.MaxInt64 },
		func(b []byte, v int64) { le.PutUint64(b, uint64(v)) }),
	U32: intDtype(U32, 4, 0, math.MaxUint32,
		func(b []byte) (int64, bool) { return int64(le.Uint32(b)), true },
		func(b []byte, v int64) { le.PutUint32(b, uint32(v)) }),
	U16: intDtype(U16, 2, 0, math.MaxUint16,
		func(b []byte) (int64, bool) { return int64(le.Uint16(b)), true },
		func(b []byte, v int64) { le.PutUint16(b, uint16(v)) }),
	U8: intDtype(U8, 1, 0, math.MaxUint8,
		func(b []byte) (int64, bool) { return int64(b[0]), true },
		func(b []byte, v int64) { b[0] = byte(v) }),
	BOOL: intDtype(BOOL, 1, 0, 1,
		func(b []byte) (int64, bool) { return int64(b[0]), b[0] <= 1 },
		func(b []byte, v int64) { b[0] = byte(v) }),
}

// unsupported are dtypes the safetensors format defines that this package
// cannot convert (8-bit and sub-byte floats, complex), so that a file using
// them gets "not supported" rather than "unknown".
var unsupported = []string{"F8_E5M2", "F8_E4M3", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64"}

func intDtype(name string, size int, lo, hi int64, get func([]byte) (int64, bool), put func([]byte, int64)) *dtype {
	return &dtype{name: name, size: size, min: lo, max: hi,
		toI64: func(dst []int64, src []byte) (int, bool) {
			for i := range dst {
				v, ok := get(src[size*i:])
				if !ok {
					return i, false
				}
				dst[i] = v
			}
			return 0, true
		},
		fromI64: func(dst []byte, src []int64) {
			for i, v := range src {
				put(dst[size*i:], v)
			}
		}}
}

// lookupDtype resolves a dtype name from a header, explaining a rejection.
func lookupDtype(name string) (*dtype, error) {
	if d, ok := dtypes[name]; ok {
		return d, nil
	}
	if slices.Contains(unsupported, name) {
		return nil, fmt.Errorf("dtype %s is not supported (supported: %s)", name, supportedList())
	}
	return nil, fmt.Errorf("unknown dtype %q (supported: %s)", name, supportedList())
}

func supportedList() string {
	names := make([]string, 0, len(dtypes))
	for n := range dtypes {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// f16ToF32 widens an IEEE 754 binary16 exactly: every half value, subnormals
// included, is representable in binary32. NaN payloads are kept.
func f16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal: rebias 15 -> 127
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// Subnormal: mant * 2^-24. Shift until the implicit bit appears,
	// lowering the exponent once per shift.
	e := uint32(127 - 15 + 1)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// f32ToF16 narrows to binary16, rounding to nearest with ties to even (as
// IEEE 754, numpy and PyTorch do). Values beyond 65504 round to ±Inf, tiny
// values to subnormals or signed zero; NaN stays NaN.
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		// Keep the payload's top bits, as numpy does, so every half NaN
		// round-trips; if they are all zero, set the quiet bit so the NaN
		// does not turn into Inf.
		h := uint16(mant >> 13)
		if h == 0 {
			h = 0x200
		}
		return sign | 0x7c00 | h
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Half subnormal: the result counts units of 2^-24. The 24-bit
		// significand (implicit bit included) is value * 2^(23-(exp-127)),
		// so shifting right by 14-e gives units of 2^-24.
		if e < -10 {
			return sign // below half the smallest subnormal: rounds to zero
		}
		mant |= 0x800000
		shift := uint(14 - e)
		return sign | uint16(roundShift(mant, shift))
	}
	// A carry out of the mantissa correctly bumps the exponent, up to Inf.
	return sign | uint16(roundShift(uint32(e)<<23|mant, 13))
}

// roundShift returns v >> shift rounded to nearest, ties to even.
func roundShift(v uint32, shift uint) uint32 {
	q := v >> shift
	rem := v & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rem > half || rem == half && q&1 == 1 {
		q++
	}
	return q
}

// bf16ToF32 widens a bfloat16 exactly: it is the top half of a binary32.
func bf16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// f32ToBF16 narrows to bfloat16 with round to nearest, ties to even, as
// PyTorch does; NaN stays NaN.
func f32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		// Truncate, keeping the payload; quiet it if nothing of it is left.
		h := uint16(b >> 16)
		if h&0x7f == 0 {
			h |= 0x40
		}
		return h
	}
	return uint16(roundShift(b, 16))
}
