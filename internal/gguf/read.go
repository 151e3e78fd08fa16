package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"unicode/utf8"
)

// ReadFile reads the GGUF file at path (Read).
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Read(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Read parses a GGUF version 3 file. Tensor data is sliced from b, not
// copied. Any input that is not a well-formed file of the tensor types
// this package knows (truncated, a bad magic or version, an unknown value
// or tensor type, a count, length or offset past the end, overlapping or
// misaligned tensor data, invalid UTF-8 in a string) gives an error that
// names what is wrong; Read never panics.
func Read(b []byte) (*File, error) {
	r := &reader{b: b}
	if string(r.take(4)) != Magic {
		return nil, errors.New("not a GGUF file (bad magic)")
	}
	if v := r.u32(); r.err == nil && v != Version {
		return nil, fmt.Errorf("GGUF version %d is not supported (want %d)", v, Version)
	}
	nt, nkv := r.u64(), r.u64()
	if r.err != nil {
		return nil, fmt.Errorf("header: %w", r.err)
	}
	// Every KV takes at least 12 bytes (an empty key and a type), every
	// tensor info at least 24: counts beyond what is left are corrupt.
	if nkv > uint64(r.left())/12 || nt > uint64(r.left())/24 {
		return nil, fmt.Errorf("header counts %d tensors and %d metadata entries, more than the file holds", nt, nkv)
	}
	f := &File{KV: make([]KV, 0, nkv), Tensors: make([]Tensor, 0, nt)}
	for i := uint64(0); i < nkv; i++ {
		kv := KV{Key: r.str()}
		kv.Value = r.value()
		if r.err != nil {
			return nil, fmt.Errorf("metadata entry %d (%q): %w", i, kv.Key, r.err)
		}
		f.KV = append(f.KV, kv)
	}
	offsets := make([]uint64, nt)
	for i := uint64(0); i < nt; i++ {
		t := Tensor{Name: r.str()}
		nd := r.u32()
		if r.err == nil && (nd == 0 || nd > MaxDims) {
			return nil, fmt.Errorf("tensor %q has %d dims (want 1 to %d)", t.Name, nd, MaxDims)
		}
		for j := uint32(0); j < nd && r.err == nil; j++ {
			t.Dims = append(t.Dims, r.u64())
		}
		t.Type = TensorType(r.u32())
		offsets[i] = r.u64()
		if r.err != nil {
			return nil, fmt.Errorf("tensor info %d (%q): %w", i, t.Name, r.err)
		}
		f.Tensors = append(f.Tensors, t)
	}
	align, err := f.Alignment()
	if err != nil {
		return nil, err
	}
	start := alignUp(uint64(r.off), align)
	if start > uint64(len(b)) {
		return nil, errors.New("truncated before the tensor data")
	}
	data := b[start:]
	var end uint64 // where the previous tensor's data ended
	for i := range f.Tensors {
		t := &f.Tensors[i]
		n := uint64(1)
		for _, d := range t.Dims {
			if d == 0 || n > math.MaxUint64/d || n*d > uint64(len(data)) {
				return nil, fmt.Errorf("tensor %q: dims %v are zero or larger than the file", t.Name, t.Dims)
			}
			n *= d
		}
		size, err := DataSize(t.Type, n, t.Dims[0])
		if err != nil {
			return nil, fmt.Errorf("tensor %q %v: %w", t.Name, t.Dims, err)
		}
		off := offsets[i]
		switch {
		case off%align != 0:
			return nil, fmt.Errorf("tensor %q: data offset %d is not a multiple of the alignment %d", t.Name, off, align)
		case off < end:
			return nil, fmt.Errorf("tensor %q: data offset %d overlaps the previous tensor (which ends at %d)", t.Name, off, end)
		case off > uint64(len(data)) || size > uint64(len(data))-off:
			return nil, fmt.Errorf("tensor %q: %d bytes of data at offset %d run past the end of the file (%d bytes of data)", t.Name, size, off, len(data))
		}
		t.Data = data[off : off+size]
		end = off + size
	}
	if err := f.Check(); err != nil { // duplicate keys or names
		return nil, err
	}
	return f, nil
}

// reader reads little-endian values from b and remembers the first error;
// after one every read returns zero values.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) take(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(r.left()) {
		r.err = fmt.Errorf("truncated: %d bytes needed at offset %d, %d left", n, r.off, r.left())
		return nil
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return s
}

func (r *reader) u8() uint8 {
	if s := r.take(1); s != nil {
		return s[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if s := r.take(2); s != nil {
		return binary.LittleEndian.Uint16(s)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if s := r.take(4); s != nil {
		return binary.LittleEndian.Uint32(s)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if s := r.take(8); s != nil {
		return binary.LittleEndian.Uint64(s)
	}
	return 0
}

func (r *reader) str() string {
	n := r.u64()
	s := r.take(n)
	if r.err == nil && !utf8.Valid(s) {
		r.err = fmt.Errorf("string at offset %d is not valid UTF-8", r.off-len(s))
	}
	return string(s)
}

// value reads a type code and the value of that type.
func (r *reader) value() any {
	t := ValueType(r.u32())
	if r.err != nil {
		return nil
	}
	if t != TypeArray {
		return r.scalar(t)
	}
	et, n := ValueType(r.u32()), r.u64()
	if r.err != nil {
		return nil
	}
	min := uint64(8) // a string element takes at least its length
	if s, ok := scalarSize[et]; ok {
		min = uint64(s)
	} else if et != TypeString {
		r.err = fmt.Errorf("array of value type %d is not supported", et)
		return nil
	}
	if n > uint64(r.left())/min {
		r.err = fmt.Errorf("array of %d elements is longer than the file", n)
		return nil
	}
	return readArray(r, et, int(n))
}

func readArray(r *reader, t ValueType, n int) any {
	switch t {
	case TypeUint8:
		return arrayOf(r, n, (*reader).u8)
	case TypeInt8:
		return arrayOf(r, n, func(r *reader) int8 { return int8(r.u8()) })
	case TypeBool:
		return arrayOf(r, n, (*reader).boolean)
	case TypeUint16:
		return arrayOf(r, n, (*reader).u16)
	case TypeInt16:
		return arrayOf(r, n, func(r *reader) int16 { return int16(r.u16()) })
	case TypeUint32:
		return arrayOf(r, n, (*reader).u32)
	case TypeInt32:
		return arrayOf(r, n, func(r *reader) int32 { return int32(r.u32()) })
	case TypeFloat32:
		return arrayOf(r, n, func(r *reader) float32 { return math.Float32frombits(r.u32()) })
	case TypeUint64:
		return arrayOf(r, n, (*reader).u64)
	case TypeInt64:
		return arrayOf(r, n, func(r *reader) int64 { return int64(r.u64()) })
	case TypeFloat64:
		return arrayOf(r, n, func(r *reader) float64 { return math.Float64frombits(r.u64()) })
	}
	return arrayOf(r, n, (*reader).str)
}

func arrayOf[T any](r *reader, n int, read func(*reader) T) []T {
	out := make([]T, n)
	for i := range out {
		if out[i] = read(r); r.err != nil {
			return nil
		}
	}
	return out
}

func (r *reader) boolean() bool {
	v := r.u8()
	if v > 1 && r.err == nil {
		r.err = fmt.Errorf("bool value %d at offset %d is neither 0 nor 1", v, r.off-1)
	}
	return v == 1
}

func (r *reader) scalar(t ValueType) any {
	switch t {
	case TypeUint8:
		return r.u8()
	case TypeInt8:
		return int8(r.u8())
	case TypeBool:
		return r.boolean()
	case TypeUint16:
		return r.u16()
	case TypeInt16:
		return int16(r.u16())
	case TypeUint32:
		return r.u32()
	case TypeInt32:
		return int32(r.u32())
	case TypeFloat32:
		return math.Float32frombits(r.u32())
	case TypeUint64:
		return r.u64()
	case TypeInt64:
		return int64(r.u64())
	case TypeFloat64:
		return math.Float64frombits(r.u64())
	case TypeString:
		return r.str()
	}
	r.err = fmt.Errorf("value type %d is unknown", t)
	return nil
}
