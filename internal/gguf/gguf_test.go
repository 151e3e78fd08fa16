package gguf

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sample is a file with one value of every type and a tensor of each
// tensor type.
func sample(t testing.TB) *File {
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]float32, 2*64)
	for i := range vals {
		vals[i] = float32(rng.NormFloat64())
	}
	enc := func(tt TensorType, v []float32, row int) []byte {
		b, err := Encode(tt, v, row)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return &File{
		KV: []KV{
			{"general.architecture", "llama"},
			{"u8", uint8(7)}, {"i8", int8(-7)}, {"u16", uint16(65535)}, {"i16", int16(-300)},
			{"u32", uint32(1 << 31)}, {"i32", int32(-5)}, {"f32", float32(1e-5)}, {"b", true},
			{"u64", uint64(1 << 40)}, {"i64", int64(-1 << 40)}, {"f64", 0.1},
			{"tokens", []string{"a", "", "ß", "<0x0A>"}}, {"types", []int32{1, 2, 3}},
			{"scores", []float32{-1, 0.5}}, {"flags", []bool{true, false}}, {"empty", []uint32{}},
		},
		Tensors: []Tensor{
			{Name: "a.weight", Dims: []uint64{64, 2}, Type: F32, Data: enc(F32, vals, 64)},
			{Name: "b.weight", Dims: []uint64{3}, Type: F16, Data: enc(F16, vals[:3], 3)},
			{Name: "c.weight", Dims: []uint64{64, 2}, Type: Q8_0, Data: enc(Q8_0, vals, 64)},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, align := range []uint32{0, 32, 64} {
		f := sample(t)
		if align != 0 {
			f.KV = append(f.KV, KV{AlignmentKey, align})
		}
		path := filepath.Join(t.TempDir(), "m.gguf")
		if err := WriteFile(path, f); err != nil {
			t.Fatal(err)
		}
		g, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(f, g) {
			t.Fatalf("alignment %d: read back\n%+v\nwant\n%+v", align, g, f)
		}
		// Every tensor's data starts at a multiple of the alignment.
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := g.Alignment()
		for _, tn := range g.Tensors {
			if i := bytes.Index(b, tn.Data); i < 0 || uint64(i)%a != 0 {
				t.Fatalf("alignment %d: tensor %s at byte %d", a, tn.Name, i)
			}
		}
	}
}

// TestHeaderBytes pins the layout of the start of a file byte by byte:
// magic, version 3, counts, then a KV as key length, key, type, value.
func TestHeaderBytes(t *testing.T) {
	var buf bytes.Buffer
	f := &File{KV: []KV{{"k", uint32(9)}}, Tensors: []Tensor{{Name: "t", Dims: []uint64{2}, Type: F32, Data: make([]byte, 8)}}}
	if err := Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	var want []byte
	want = append(want, "GGUF"...)
	want = le.AppendUint32(want, 3)
	want = le.AppendUint64(want, 1) // tensors
	want = le.AppendUint64(want, 1) // KVs
	want = le.AppendUint64(want, 1)
	want = append(want, 'k')
	want = le.AppendUint32(want, uint32(TypeUint32))
	want = le.AppendUint32(want, 9)
	want = le.AppendUint64(want, 1)
	want = append(want, 't')
	want = le.AppendUint32(want, 1) // n_dims
	want = le.AppendUint64(want, 2)
	want = le.AppendUint32(want, uint32(F32))
	want = le.AppendUint64(want, 0) // offset
	for len(want)%32 != 0 {
		want = append(want, 0)
	}
	want = append(want, make([]byte, 32)...) // 8 data bytes padded to 32
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("bytes\n%x\nwant\n%x", buf.Bytes(), want)
	}
}

func TestWriteRejects(t *testing.T) {
	for name, mod := range map[string]func(f *File){
		"dup key":       func(f *File) { f.KV = append(f.KV, KV{"u8", uint8(1)}) },
		"dup tensor":    func(f *File) { f.Tensors = append(f.Tensors, f.Tensors[0]) },
		"bad type":      func(f *File) { f.KV = append(f.KV, KV{"x", 3}) },
		"nil":           func(f *File) { f.KV = append(f.KV, KV{"x", nil}) },
		"short data":    func(f *File) { f.Tensors[0].Data = f.Tensors[0].Data[1:] },
		"q8 row":        func(f *File) { f.Tensors[2].Dims = []uint64{16, 8} },
		"zero dim":      func(f *File) { f.Tensors[1].Dims = []uint64{0} },
		"five dims":     func(f *File) { f.Tensors[1].Dims = []uint64{3, 1, 1, 1, 1} },
		"alignment":     func(f *File) { f.KV = append(f.KV, KV{AlignmentKey, uint32(24)}) },
		"alignment int": func(f *File) { f.KV = append(f.KV, KV{AlignmentKey, int32(32)}) },
	} {
		f := sample(t)
		mod(f)
		if err := Write(&bytes.Buffer{}, f); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func encoded(t testing.TB) []byte {
	var buf bytes.Buffer
	if err := Write(&buf, sample(t)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestReadCorrupt checks that every truncation and a set of targeted
// corruptions give errors with a reason.
func TestReadCorrupt(t *testing.T) {
	b := encoded(t)
	f, err := Read(b)
	if err != nil {
		t.Fatal(err)
	}
	last := f.Tensors[len(f.Tensors)-1].Data
	end := bytes.LastIndex(b, last) + len(last) // the padding after the last tensor may go
	for n := 0; n < end; n++ {
		if _, err := Read(b[:n]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", n, len(b))
		}
	}
	set := func(off int, v uint64, size int) []byte {
		c := bytes.Clone(b)
		for i := 0; i < size; i++ {
			c[off+i] = byte(v >> (8 * i))
		}
		return c
	}
	for name, c := range map[string]struct {
		b    []byte
		want string
	}{
		"magic":     {set(0, 'X', 1), "bad magic"},
		"version":   {set(4, 2, 4), "version 2"},
		"tensors":   {set(8, 1<<60, 8), "more than the file holds"},
		"kvs":       {set(16, 1<<60, 8), "more than the file holds"},
		"key len":   {set(24, 1<<62, 8), "truncated"},
		"val type":  {set(24+8+len("general.architecture"), 99, 4), "unknown"},
		"key utf-8": {set(24+8, 0xff, 1), "UTF-8"},
	} {
		_, err := Read(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, c.want)
		}
	}
}

// FuzzRead: Read never panics, and whatever it accepts writes back to a
// file that reads to the same thing.
func FuzzRead(f *testing.F) {
	f.Add(encoded(f))
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Read(b)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, g); err != nil {
			t.Fatalf("read a file it cannot write: %v", err)
		}
		h, err := Read(buf.Bytes())
		if err != nil {
			t.Fatalf("rewritten file does not read: %v", err)
		}
		if !reflect.DeepEqual(norm(g), norm(h)) {
			t.Fatal("rewritten file reads differently")
		}
	})
}

// norm replaces NaN floats by a marker so DeepEqual can compare them.
func norm(f *File) *File {
	out := *f
	out.KV = nil
	for _, kv := range f.KV {
		if x, ok := kv.Value.(float32); ok && x != x {
			kv.Value = "NaN"
		}
		if x, ok := kv.Value.(float64); ok && math.IsNaN(x) {
			kv.Value = "NaN"
		}
		if _, ok := kv.Value.([]float32); ok {
			kv.Value = "floats"
		}
		if _, ok := kv.Value.([]float64); ok {
			kv.Value = "floats"
		}
		out.KV = append(out.KV, kv)
	}
	return &out
}
