package data

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// decodeCache parses a cache file (format in cache.go) and checks it against
// key and spec. Every count is bounds-checked before it is used, so no file
// makes it panic or allocate more than the file's size suggests.
func decodeCache(b []byte, key string, spec Spec) (*Dataset, error) {
	if len(b) < len(cacheMagic)+4+cacheTrailer {
		return nil, fmt.Errorf("truncated: %d bytes, shorter than any cache file", len(b))
	}
	if !bytes.Equal(b[:len(cacheMagic)], cacheMagic) {
		return nil, errors.New("not a sparsetune dataset cache file")
	}
	if v := binary.LittleEndian.Uint32(b[len(cacheMagic):]); v != cacheVersion {
		return nil, fmt.Errorf("format version %d, want %d", v, cacheVersion)
	}
	end := len(b) - sha256.Size
	if n := binary.LittleEndian.Uint64(b[end-8 : end]); n != uint64(end) {
		return nil, fmt.Errorf("truncated or extended: %d bytes before the checksum, written with %d", end, n)
	}
	if sum := sha256.Sum256(b[:end]); !bytes.Equal(sum[:], b[end:]) {
		return nil, errors.New("checksum mismatch")
	}
	r := &cacheReader{b: b[len(cacheMagic)+4 : end-8]}
	ds := r.dataset(key, spec)
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d unexpected bytes after the splits", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	return ds, nil
}

// dataset reads the payload written by encodeCachePayload.
func (r *cacheReader) dataset(key string, spec Spec) *Dataset {
	ds := &Dataset{}
	if k := r.str(); r.err == nil && k != key {
		r.fail("written for key %s", k)
	}
	nl := r.count(4)
	for range nl {
		ds.Labels = append(ds.Labels, r.str())
	}
	for _, s := range []*SplitReport{&ds.Report.Train, &ds.Report.Valid, &ds.Report.Test} {
		for _, v := range []*int{&s.Records, &s.Seqs, &s.Tokens, &s.Truncated, &s.DroppedTokens} {
			*v = int(r.u64())
		}
	}
	ds.Report.DerivedIDs = int(r.u64())
	ds.Report.ValidCarved = r.bool()
	names := []string{"train", "valid", "test"}
	ns := r.count(1)
	if r.err == nil && (ns < 2 || ns > 3 || (ns == 3) != (spec.Test != "")) {
		r.fail("%d splits, want %d", ns, 2+min(len(spec.Test), 1))
	}
	splits := []**Split{&ds.Train, &ds.Valid, &ds.Test}
	for i := 0; i < ns && r.err == nil; i++ {
		*splits[i] = r.split(names[i], len(ds.Labels), spec)
	}
	if r.err == nil && (spec.Task == Classification) != (ds.Labels != nil) {
		r.fail("label map does not match the task %q", spec.Task)
	}
	return ds
}

// split reads one split and checks it against the spec.
func (r *cacheReader) split(name string, nLabels int, spec Spec) *Split {
	s := &Split{Name: r.str()}
	if r.err == nil && s.Name != name {
		r.fail("split %q where %q belongs", s.Name, name)
	}
	n := r.count(4)
	lens := make([]int, n)
	total := 0
	for i := range lens {
		lens[i] = int(r.u32())
		if r.err == nil && (lens[i] > spec.SeqLen || spec.Task == CausalLM && lens[i] != spec.SeqLen) {
			r.fail("%s sequence %d has %d tokens with SeqLen %d", name, i, lens[i], spec.SeqLen)
		}
		total += lens[i]
	}
	if r.err != nil || !r.need(4*total) {
		return nil
	}
	flat := make([]int, total) // one allocation for the whole split
	for i := range flat {
		if flat[i] = int(int32(r.u32())); flat[i] < 0 {
			r.fail("negative token id %d", flat[i])
			return nil
		}
	}
	s.Seqs = make([][]int, n)
	for i, l := range lens {
		s.Seqs[i], flat = flat[:l:l], flat[l:] // capped: appending to one never overwrites the next
	}
	if r.bool() {
		if !r.need(4 * n) {
			return nil
		}
		s.Labels = make([]int, n)
		for i := range s.Labels {
			if s.Labels[i] = int(int32(r.u32())); s.Labels[i] < 0 || s.Labels[i] >= nLabels {
				r.fail("label id %d outside the %d labels", s.Labels[i], nLabels)
				return nil
			}
		}
	}
	s.IDs = make([]string, n)
	for i := range s.IDs {
		s.IDs[i] = r.str()
	}
	return s
}

// cacheReader reads little-endian values from a byte slice. The first error
// sticks; after it every read returns zero.
type cacheReader struct {
	b   []byte
	err error
}

func (r *cacheReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

// need reports whether n more bytes are there, failing if not.
func (r *cacheReader) need(n int) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || n > len(r.b) {
		r.fail("ends early: %d bytes needed, %d left", n, len(r.b))
		return false
	}
	return true
}

func (r *cacheReader) take(n int) []byte {
	if !r.need(n) {
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *cacheReader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (r *cacheReader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (r *cacheReader) bool() bool {
	v := r.take(1)
	if v != nil && v[0] > 1 {
		r.fail("boolean byte %d", v[0])
	}
	return v != nil && v[0] == 1
}

func (r *cacheReader) str() string {
	return string(r.take(int(r.u32())))
}

// count reads a u32 count of items that take at least minBytes each and
// rejects counts the remaining bytes cannot hold, before anything is
// allocated for them.
func (r *cacheReader) count(minBytes int) int {
	n := int(r.u32())
	if r.err == nil && n > len(r.b)/minBytes {
		r.fail("count %d exceeds what %d bytes can hold", n, len(r.b))
		return 0
	}
	return n
}
