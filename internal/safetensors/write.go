package safetensors

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/sparsetune/sparsetune/internal/atomicfile"
)

// WriteOptions controls writing. The zero value writes float tensors as F32
// with no metadata.
type WriteOptions struct {
	// DType is the dtype for every float tensor: F32 (default, ""), F16,
	// BF16 or F64. Narrowing rounds to nearest, ties to even.
	DType string
	// DTypes overrides DType for the float tensors it names (F32, F16,
	// BF16 or F64 each), so that one file can mix them.
	DTypes map[string]string
	// Metadata is written as the header's __metadata__ (keys sorted).
	// Hugging Face loaders expect {"format": "pt"}.
	Metadata map[string]string
}

// Write atomically replaces the file at path (see package atomicfile) with
// the tensors, in the given order, in safetensors format.
//
// A float tensor (DType not an integer dtype; Tensor.DType is otherwise
// ignored) must have Numel values in Data and is stored as opts.DType. An
// integer tensor (DType I64, I32, ... BOOL) must have Numel values in Ints,
// each in the dtype's range, and is stored as its DType. Names must be
// non-empty, unique, valid UTF-8 and not "__metadata__". Everything is
// validated before the file is touched; an error names path and the tensor.
//
// As the reference implementation does, the header is compact JSON with
// __metadata__ first, padded with spaces to a multiple of 8 bytes so that the
// data buffer is 8-byte aligned. Unlike it, Write keeps the caller's tensor
// order instead of sorting by dtype and name; readers do not care.
func Write(path string, tensors []*Tensor, opts WriteOptions) error {
	p, err := plan(tensors, opts)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.Write(path, p.encode) // its errors name path
}

// layout is a validated write: the header bytes and what follows them.
type layout struct {
	header   []byte // 8-byte length prefix and padded JSON
	tensors  []*Tensor
	dtypes   []*dtype
	dataSize int64
}

// plan validates tensors and builds the header.
func plan(tensors []*Tensor, opts WriteOptions) (*layout, error) {
	floatDT := F32
	if opts.DType != "" {
		floatDT = opts.DType
	}
	fdt, ok := dtypes[floatDT]
	if !ok || fdt.isInt() {
		return nil, fmt.Errorf("WriteOptions.DType %q is not one of F32, F16, BF16, F64", opts.DType)
	}
	p := &layout{tensors: tensors}
	hdr := []byte{'{'}
	if len(opts.Metadata) > 0 {
		hdr = appendJSONString(hdr, metadataKey)
		hdr = append(hdr, ":{"...)
		for i, k := range slices.Sorted(maps.Keys(opts.Metadata)) {
			v := opts.Metadata[k]
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, fmt.Errorf("metadata %q: key or value is not valid UTF-8", k)
			}
			if i > 0 {
				hdr = append(hdr, ',')
			}
			hdr = appendJSONString(hdr, k)
			hdr = append(hdr, ':')
			hdr = appendJSONString(hdr, v)
		}
		hdr = append(hdr, '}')
	}
	seen := make(map[string]bool, len(tensors))
	for i, t := range tensors {
		tdt := fdt
		if t != nil && opts.DTypes[t.Name] != "" {
			if tdt, ok = dtypes[opts.DTypes[t.Name]]; !ok || tdt.isInt() {
				return nil, fmt.Errorf("tensor %q: WriteOptions.DTypes %q is not one of F32, F16, BF16, F64", t.Name, opts.DTypes[t.Name])
			}
		}
		dt, n, err := checkTensor(t, tdt)
		if err != nil {
			if t == nil || t.Name == "" {
				return nil, fmt.Errorf("tensors[%d]: %w", i, err)
			}
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("tensor %q: name appears more than once", t.Name)
		}
		seen[t.Name] = true
		p.dtypes = append(p.dtypes, dt)
		if len(hdr) > 1 {
			hdr = append(hdr, ',')
		}
		hdr = appendEntry(hdr, t.Name, dt.name, t.Shape, p.dataSize, p.dataSize+n)
		p.dataSize += n
	}
	hdr = append(hdr, '}')
	for len(hdr)%8 != 0 {
		hdr = append(hdr, ' ')
	}
	if len(hdr) > maxHeaderLen {
		return nil, fmt.Errorf("header is %d bytes, over the %d-byte limit readers accept", len(hdr), maxHeaderLen)
	}
	p.header = le.AppendUint64(nil, uint64(len(hdr)))
	p.header = append(p.header, hdr...)
	return p, nil
}

// checkTensor validates one tensor and returns its stored dtype and byte
// size.
func checkTensor(t *Tensor, floatDT *dtype) (*dtype, int64, error) {
	if t == nil {
		return nil, 0, errors.New("tensor is nil")
	}
	switch {
	case t.Name == "":
		return nil, 0, errors.New("tensor has an empty name")
	case t.Name == metadataKey:
		return nil, 0, fmt.Errorf("tensor name %q is reserved for metadata", metadataKey)
	case !utf8.ValidString(t.Name):
		return nil, 0, errors.New("name is not valid UTF-8")
	}
	for _, d := range t.Shape {
		if d < 0 {
			return nil, 0, fmt.Errorf("shape %v has a negative dimension", t.Shape)
		}
	}
	dt := floatDT
	have := len(t.Data)
	if t.IsInt() {
		dt, have = dtypes[t.DType], len(t.Ints)
		if t.Data != nil {
			return nil, 0, fmt.Errorf("integer dtype %s but Data is set; integer values go in Ints", t.DType)
		}
	} else if t.Ints != nil {
		return nil, 0, fmt.Errorf("Ints is set but DType %q is not an integer dtype (I64, I32, ...)", t.DType)
	}
	n, ok := byteSize(t.Shape, dt)
	if !ok {
		return nil, 0, fmt.Errorf("shape %v is too large", t.Shape)
	}
	if want := n / int64(dt.size); int64(have) != want {
		return nil, 0, fmt.Errorf("shape %v needs %d values but there are %d", t.Shape, want, have)
	}
	for i, v := range t.Ints {
		if v < dt.min || v > dt.max {
			return nil, 0, fmt.Errorf("Ints[%d] = %d is out of range for %s [%d, %d]", i, v, dt.name, dt.min, dt.max)
		}
	}
	return dt, n, nil
}

// appendEntry appends a tensor record, with fields in the order the
// reference writer uses.
func appendEntry(dst []byte, name, dtype string, shape []int, begin, end int64) []byte {
	dst = appendJSONString(dst, name)
	dst = append(dst, `:{"dtype":`...)
	dst = appendJSONString(dst, dtype)
	dst = append(dst, `,"shape":[`...)
	for i, d := range shape {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendInt(dst, int64(d), 10)
	}
	dst = append(dst, `],"data_offsets":[`...)
	dst = strconv.AppendInt(dst, begin, 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, end, 10)
	return append(dst, "]}"...)
}

// encode writes the planned file to w, converting in chunks so memory stays
// flat however large the tensors are.
func (p *layout) encode(w io.Writer) error {
	if _, err := w.Write(p.header); err != nil {
		return err
	}
	scratch := make([]byte, chunkBytes)
	for i, t := range p.tensors {
		dt := p.dtypes[i]
		per := chunkBytes / dt.size
		n := len(t.Data)
		if dt.isInt() {
			n = len(t.Ints)
		}
		for j := 0; j < n; j += per {
			k := min(per, n-j)
			b := scratch[:k*dt.size]
			if dt.isInt() {
				dt.fromI64(b, t.Ints[j:j+k])
			} else {
				dt.fromF32(b, t.Data[j:j+k])
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
	}
	return nil
}
