package gguf

import (
	"fmt"
)

// Magic is the first four bytes of a GGUF file; Version the version this
// package writes and reads.
const (
	Magic   = "GGUF"
	Version = 3
	// DefaultAlignment is the data alignment when general.alignment is absent.
	DefaultAlignment = 32
	// AlignmentKey is the metadata key that overrides DefaultAlignment.
	AlignmentKey = "general.alignment"
)

// ValueType is the type code of a metadata value (gguf_type in ggml).
type ValueType uint32

// The metadata value types.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

// scalarSize is the encoded size of each fixed-size scalar type.
var scalarSize = map[ValueType]int{
	TypeUint8: 1, TypeInt8: 1, TypeBool: 1,
	TypeUint16: 2, TypeInt16: 2,
	TypeUint32: 4, TypeInt32: 4, TypeFloat32: 4,
	TypeUint64: 8, TypeInt64: 8, TypeFloat64: 8,
}

// KV is one metadata entry. Value is one of uint8, int8, uint16, int16,
// uint32, int32, float32, bool, string, uint64, int64, float64, or a
// slice of one of them (an array). Read returns values of exactly these
// types, so a round trip gives equal KVs.
type KV struct {
	Key   string
	Value any
}

// TensorType is the type code of a tensor's data (ggml_type).
type TensorType uint32

// The tensor types this package encodes.
const (
	F32  TensorType = 0
	F16  TensorType = 1
	Q8_0 TensorType = 8
)

// String names t as ggml does.
func (t TensorType) String() string {
	switch t {
	case F32:
		return "F32"
	case F16:
		return "F16"
	case Q8_0:
		return "Q8_0"
	}
	return fmt.Sprintf("type%d", uint32(t))
}

// ParseTensorType reads a type name as String writes it (case-insensitive
// forms f32, f16, q8_0 included).
func ParseTensorType(s string) (TensorType, error) {
	switch s {
	case "F32", "f32":
		return F32, nil
	case "F16", "f16":
		return F16, nil
	case "Q8_0", "q8_0":
		return Q8_0, nil
	}
	return 0, fmt.Errorf("tensor type %q is not supported (want f32, f16 or q8_0)", s)
}

// Q8Block is the number of values in one Q8_0 block: one float16 scale and
// 32 int8 quants, 34 bytes (ggml's block_q8_0).
const Q8Block = 32

// q8BlockBytes is the encoded size of one Q8_0 block.
const q8BlockBytes = 2 + Q8Block

// DataSize returns the bytes of a tensor of type t with n elements whose
// rows have rowLen elements, or an error when t cannot hold such rows
// (Q8_0 needs rows of a multiple of 32).
func DataSize(t TensorType, n, rowLen uint64) (uint64, error) {
	switch t {
	case F32:
		return 4 * n, nil
	case F16:
		return 2 * n, nil
	case Q8_0:
		if rowLen%Q8Block != 0 {
			return 0, fmt.Errorf("Q8_0 needs rows of a multiple of %d values, got %d", Q8Block, rowLen)
		}
		return n / Q8Block * q8BlockBytes, nil
	}
	return 0, fmt.Errorf("tensor type %d is not supported (want F32, F16 or Q8_0)", uint32(t))
}
