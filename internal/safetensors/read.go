package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// Tensor is one named array. Float tensors hold their values in Data;
// integer tensors (DType one of the integer constants, only with
// ReadOptions.Ints or when writing) hold them in Ints. The other slice is
// nil.
type Tensor struct {
	Name  string
	DType string    // dtype as stored in the file, e.g. "BF16"; see Write for how it is used there
	Shape []int     // row-major; empty for a scalar
	Data  []float32 // (Numel) values of a float tensor, converted to float32
	Ints  []int64   // (Numel) values of an integer tensor
}

// Numel returns the number of elements, the product of Shape (1 for a
// scalar).
func (t *Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// IsInt reports whether DType is an integer dtype, that is whether the
// values live in Ints rather than Data.
func (t *Tensor) IsInt() bool {
	d, ok := dtypes[t.DType]
	return ok && d.isInt()
}

// File is the contents of a safetensors file or of a sharded model
// directory.
type File struct {
	Path     string             // the file read, as given; for a sharded model, the index
	Metadata map[string]string  // the header's __metadata__; nil if absent
	Tensors  map[string]*Tensor // by name
	Names    []string           // tensor names, sorted
}

// Lookup returns the named tensor, or an error naming the file and tensor.
func (f *File) Lookup(name string) (*Tensor, error) {
	t, ok := f.Tensors[name]
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %q", f.Path, name)
	}
	return t, nil
}

// Floats returns the values of the named float tensor.
func (f *File) Floats(name string) ([]float32, error) {
	t, err := f.Lookup(name)
	if err != nil {
		return nil, err
	}
	if t.IsInt() {
		return nil, fmt.Errorf("%s: tensor %q has integer dtype %s; use Ints", f.Path, name, t.DType)
	}
	return t.Data, nil
}

// Ints returns the values of the named integer tensor (token ids, masks),
// which Read only loads with ReadOptions.Ints set.
func (f *File) Ints(name string) ([]int64, error) {
	t, err := f.Lookup(name)
	if err != nil {
		return nil, err
	}
	if !t.IsInt() {
		return nil, fmt.Errorf("%s: tensor %q has float dtype %s; use Floats", f.Path, name, t.DType)
	}
	return t.Ints, nil
}

// ReadOptions controls reading. The zero value reads float tensors only.
type ReadOptions struct {
	// Ints loads integer tensors (I64, I32, I16, I8, U64, U32, U16, U8,
	// BOOL) into Tensor.Ints. Without it a file holding one is rejected,
	// because model weights are never integers and silently converting
	// token ids to float32 would lose values above 2^24.
	Ints bool
}

// Read reads the safetensors file at path, converting F32, F16, BF16 and
// F64 tensors to float32 (F16 and BF16 exactly; F64 rounds to nearest). A
// file with integer tensors is an error; use ReadOptions{Ints: true}.Read.
func Read(path string) (*File, error) { return ReadOptions{}.Read(path) }

// Read reads the safetensors file at path with these options. Every
// problem with the file is an error that names path and, where there is
// one, the tensor.
func (o ReadOptions) Read(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s: is a directory; use ReadModelDir", path)
	}
	file, err := decode(f, fi.Size(), o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	file.Path = path
	return file, nil
}

// decode parses a whole safetensors file of the given size from r. Errors
// name the tensor but not the file, which the caller adds.
func decode(r io.ReaderAt, size int64, opts ReadOptions) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("file is %d bytes, too short for the 8-byte header length (not a safetensors file?)", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, readErr(err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > uint64(size-8) {
		return nil, fmt.Errorf("header length %d exceeds the %d bytes after it (truncated, or not a safetensors file?)", n, size-8)
	}
	if n > maxHeaderLen {
		return nil, fmt.Errorf("header length %d is over the %d-byte limit (not a safetensors file?)", n, maxHeaderLen)
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, readErr(err)
	}
	meta, entries, err := parseHeader(hdr, opts)
	if err != nil {
		return nil, err
	}
	dataStart := 8 + int64(n)
	if err := checkLayout(entries, size-dataStart); err != nil {
		return nil, err
	}
	file := &File{Metadata: meta, Tensors: make(map[string]*Tensor, len(entries))}
	// checkLayout sorted entries by offset, so this reads the file in order.
	sr := io.NewSectionReader(r, dataStart, size-dataStart)
	scratch := make([]byte, min(chunkBytes, size-dataStart))
	for _, e := range entries {
		t, err := readTensor(sr, e, scratch)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", e.name, err)
		}
		file.Tensors[e.name] = t
		file.Names = append(file.Names, e.name)
	}
	slices.Sort(file.Names)
	return file, nil
}

// chunkBytes bounds the scratch buffer for converting tensor bytes, so a
// reader never holds a tensor's raw bytes and its float32 copy at once. A
// multiple of every element size.
const chunkBytes = 1 << 20

// readTensor reads e's bytes, which start at r's current position.
func readTensor(r io.Reader, e entry, scratch []byte) (*Tensor, error) {
	t := &Tensor{Name: e.name, DType: e.dt.name, Shape: e.shape}
	numel := int((e.end - e.begin) / int64(e.dt.size))
	if e.dt.isInt() {
		t.Ints = make([]int64, numel)
	} else {
		t.Data = make([]float32, numel)
	}
	per := len(scratch) / e.dt.size // elements per chunk
	for i := 0; i < numel; i += per {
		k := min(per, numel-i)
		b := scratch[:k*e.dt.size]
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, readErr(err)
		}
		if t.Data != nil {
			e.dt.toF32(t.Data[i:i+k], b)
			continue
		}
		if bad, ok := e.dt.toI64(t.Ints[i:i+k], b); !ok {
			if e.dt.name == BOOL {
				return nil, fmt.Errorf("BOOL element %d is not 0 or 1", i+bad)
			}
			return nil, fmt.Errorf("%s element %d does not fit in int64", e.dt.name, i+bad)
		}
	}
	return t, nil
}

// readErr explains a short read of a file whose size was checked: the file
// shrank while being read.
func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("file ended early (truncated while being read?): %w", err)
	}
	return err
}
