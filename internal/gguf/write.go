package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"

	"github.com/sparsetune/sparsetune/internal/atomicfile"
)

// MaxDims is the most dimensions a tensor has (GGML_MAX_DIMS).
const MaxDims = 4

// Tensor is one tensor of a File.
type Tensor struct {
	Name string
	Dims []uint64 // innermost first: Dims[0] is the row length
	Type TensorType
	Data []byte // the encoded values (Encode), DataSize(Type, ∏Dims, Dims[0]) bytes
}

// Elems returns the number of values of t.
func (t *Tensor) Elems() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// File is a GGUF file: metadata in order, then tensors in order.
type File struct {
	KV      []KV
	Tensors []Tensor
}

// Get returns the value of metadata key and whether it is present.
func (f *File) Get(key string) (any, bool) {
	for _, kv := range f.KV {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// Alignment returns the data alignment: general.alignment (a uint32, a
// power of two) or DefaultAlignment.
func (f *File) Alignment() (uint64, error) {
	v, ok := f.Get(AlignmentKey)
	if !ok {
		return DefaultAlignment, nil
	}
	a, ok := v.(uint32)
	if !ok || a == 0 || a&(a-1) != 0 {
		return 0, fmt.Errorf("%s must be a uint32 power of two, got %v (%T)", AlignmentKey, v, v)
	}
	return uint64(a), nil
}

// Check reports the first thing in f that Write cannot write or a reader
// would reject: duplicate keys or tensor names, a value of an unsupported
// Go type, a bad alignment, tensors with no or too many dims, a zero dim,
// or data of the wrong size for the type and dims.
func (f *File) Check() error {
	if _, err := f.Alignment(); err != nil {
		return err
	}
	keys := map[string]bool{}
	for _, kv := range f.KV {
		if keys[kv.Key] {
			return fmt.Errorf("metadata key %q appears twice", kv.Key)
		}
		keys[kv.Key] = true
		if _, err := valueType(kv.Value); err != nil {
			return fmt.Errorf("metadata %q: %w", kv.Key, err)
		}
	}
	names := map[string]bool{}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if names[t.Name] {
			return fmt.Errorf("tensor %q appears twice", t.Name)
		}
		names[t.Name] = true
		if len(t.Dims) == 0 || len(t.Dims) > MaxDims {
			return fmt.Errorf("tensor %q has %d dims (want 1 to %d)", t.Name, len(t.Dims), MaxDims)
		}
		for _, d := range t.Dims {
			if d == 0 {
				return fmt.Errorf("tensor %q has a zero dim %v", t.Name, t.Dims)
			}
		}
		size, err := DataSize(t.Type, t.Elems(), t.Dims[0])
		if err != nil {
			return fmt.Errorf("tensor %q %v: %w", t.Name, t.Dims, err)
		}
		if uint64(len(t.Data)) != size {
			return fmt.Errorf("tensor %q %v %s needs %d bytes of data, has %d", t.Name, t.Dims, t.Type, size, len(t.Data))
		}
	}
	return nil
}

// WriteFile writes f to path atomically (internal/atomicfile).
func WriteFile(path string, f *File) error {
	if err := f.Check(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.Write(path, func(w io.Writer) error { return Write(w, f) })
}

// Write writes f in GGUF version 3 after checking it (Check).
func Write(w io.Writer, f *File) error {
	if err := f.Check(); err != nil {
		return err
	}
	align, _ := f.Alignment()
	bw := &writer{w: bufio.NewWriterSize(w, 1<<20)}
	bw.bytes([]byte(Magic))
	bw.u32(Version)
	bw.u64(uint64(len(f.Tensors)))
	bw.u64(uint64(len(f.KV)))
	for _, kv := range f.KV {
		bw.str(kv.Key)
		bw.value(kv.Value)
	}
	var off uint64
	for i := range f.Tensors {
		t := &f.Tensors[i]
		bw.str(t.Name)
		bw.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			bw.u64(d)
		}
		bw.u32(uint32(t.Type))
		bw.u64(off)
		off = alignUp(off+uint64(len(t.Data)), align)
	}
	bw.pad(align)
	bw.n = 0 // offsets count from the start of the data
	for i := range f.Tensors {
		bw.bytes(f.Tensors[i].Data)
		bw.pad(align)
	}
	if bw.err != nil {
		return bw.err
	}
	return bw.w.Flush()
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// writer writes little-endian values and remembers the first error.
type writer struct {
	w   *bufio.Writer
	n   uint64 // bytes written (since the data section started, once it has)
	err error
	buf [8]byte
}

func (w *writer) bytes(b []byte) {
	if w.err == nil {
		_, w.err = w.w.Write(b)
		w.n += uint64(len(b))
	}
}

func (w *writer) pad(align uint64) {
	for w.n%align != 0 {
		w.bytes([]byte{0})
	}
}

func (w *writer) u16(v uint16) { binary.LittleEndian.PutUint16(w.buf[:], v); w.bytes(w.buf[:2]) }
func (w *writer) u32(v uint32) { binary.LittleEndian.PutUint32(w.buf[:], v); w.bytes(w.buf[:4]) }
func (w *writer) u64(v uint64) { binary.LittleEndian.PutUint64(w.buf[:], v); w.bytes(w.buf[:8]) }
func (w *writer) str(s string) { w.u64(uint64(len(s))); w.bytes([]byte(s)) }

// value writes a metadata value with its type code (and, for an array, its
// element type and count).
func (w *writer) value(v any) {
	t, _ := valueType(v) // checked by Check
	w.u32(uint32(t))
	if t != TypeArray {
		w.scalar(v)
		return
	}
	rv := reflect.ValueOf(v)
	et, _ := valueType(reflect.Zero(rv.Type().Elem()).Interface())
	w.u32(uint32(et))
	w.u64(uint64(rv.Len()))
	for i := 0; i < rv.Len(); i++ {
		w.scalar(rv.Index(i).Interface())
	}
}

func (w *writer) scalar(v any) {
	switch x := v.(type) {
	case uint8:
		w.bytes([]byte{x})
	case int8:
		w.bytes([]byte{byte(x)})
	case bool:
		b := byte(0)
		if x {
			b = 1
		}
		w.bytes([]byte{b})
	case uint16:
		w.u16(x)
	case int16:
		w.u16(uint16(x))
	case uint32:
		w.u32(x)
	case int32:
		w.u32(uint32(x))
	case float32:
		w.u32(math.Float32bits(x))
	case uint64:
		w.u64(x)
	case int64:
		w.u64(uint64(x))
	case float64:
		w.u64(math.Float64bits(x))
	case string:
		w.str(x)
	}
}

// valueType returns the GGUF type of a Go metadata value.
func valueType(v any) (ValueType, error) {
	switch v.(type) {
	case uint8:
		return TypeUint8, nil
	case int8:
		return TypeInt8, nil
	case uint16:
		return TypeUint16, nil
	case int16:
		return TypeInt16, nil
	case uint32:
		return TypeUint32, nil
	case int32:
		return TypeInt32, nil
	case float32:
		return TypeFloat32, nil
	case bool:
		return TypeBool, nil
	case string:
		return TypeString, nil
	case uint64:
		return TypeUint64, nil
	case int64:
		return TypeInt64, nil
	case float64:
		return TypeFloat64, nil
	case []uint8, []int8, []uint16, []int16, []uint32, []int32, []float32, []bool, []string, []uint64, []int64, []float64:
		return TypeArray, nil
	}
	if v == nil {
		return 0, errors.New("value is nil")
	}
	return 0, fmt.Errorf("value of Go type %T has no GGUF type", v)
}
