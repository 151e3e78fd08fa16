package safetensors

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
)

// encodeBytes is Write without the file: the bytes Write would store.
func encodeBytes(tb testing.TB, tensors []*Tensor, opts WriteOptions) []byte {
	tb.Helper()
	p, err := plan(tensors, opts)
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := p.encode(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzRead feeds arbitrary bytes to the reader behind Read. It must never
// panic; it either returns an error on one line, or tensors whose values
// match their shapes and dtypes, which Write then reproduces exactly.
func FuzzRead(f *testing.F) {
	valid := encodeBytes(f, []*Tensor{
		{Name: "w", Shape: []int{2, 3}, Data: []float32{1, -2, 3.5, 0, 1e-3, -1e4}},
		{Name: "s", Shape: []int{}, Data: []float32{0.5}},
		{Name: "ids", DType: I64, Shape: []int{3}, Ints: []int64{50256, 0, -1}},
		{Name: "m", DType: BOOL, Shape: []int{2}, Ints: []int64{1, 0}},
	}, WriteOptions{DType: F16, Metadata: map[string]string{"format": "pt"}})
	f.Add(valid)
	for _, n := range []int{0, 4, 8, 9, 20, len(valid) - 30, len(valid) - 1} {
		f.Add(valid[:n]) // truncations
	}
	hlen := int(le.Uint64(valid))
	for _, i := range []int{0, 7, 8, 9, 8 + hlen/2, 8 + hlen - 1} {
		b := slices.Clone(valid)
		b[i] ^= 0xff // corrupt the length, the JSON and the padding
		f.Add(b)
	}
	f.Add(bytes.Replace(valid, []byte(`"F16"`), []byte(`"I16"`), 1))
	f.Add(bytes.Replace(valid, []byte(`[2,3]`), []byte(`[3,2]`), 1))
	f.Add(bytes.Replace(valid, []byte(`"data_offsets":[0,`), []byte(`"data_offsets":[2,`), 1))
	for _, c := range badFiles {
		f.Add(c.file)
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		for _, opts := range []ReadOptions{{}, {Ints: true}} {
			file, err := decode(bytes.NewReader(b), int64(len(b)), opts)
			if err != nil {
				if file != nil {
					t.Fatalf("decode returned a file and error %v", err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error spans lines: %q", err)
				}
				continue
			}
			checkConsistent(t, file, opts)
			checkRewrite(t, file)
		}
	})
}

func checkConsistent(t *testing.T, file *File, opts ReadOptions) {
	if !slices.IsSorted(file.Names) || len(file.Names) != len(file.Tensors) {
		t.Fatalf("Names %q do not list the %d tensors in order", file.Names, len(file.Tensors))
	}
	for _, name := range file.Names {
		tn := file.Tensors[name]
		if tn == nil || tn.Name != name {
			t.Fatalf("tensor %q missing or misnamed", name)
		}
		if _, ok := dtypes[tn.DType]; !ok {
			t.Fatalf("tensor %q has dtype %q", name, tn.DType)
		}
		for _, d := range tn.Shape {
			if d < 0 {
				t.Fatalf("tensor %q has shape %v", name, tn.Shape)
			}
		}
		if tn.IsInt() {
			if !opts.Ints || tn.Data != nil || len(tn.Ints) != tn.Numel() {
				t.Fatalf("int tensor %q: shape %v, %d ints, Data %v, opts %+v", name, tn.Shape, len(tn.Ints), tn.Data != nil, opts)
			}
		} else if tn.Ints != nil || len(tn.Data) != tn.Numel() {
			t.Fatalf("float tensor %q: shape %v, %d values, Ints %v", name, tn.Shape, len(tn.Data), tn.Ints != nil)
		}
	}
}

// checkRewrite writes what was read (floats as F32, which holds every value
// exactly) and reads it back unchanged.
func checkRewrite(t *testing.T, file *File) {
	var tensors []*Tensor
	for _, name := range file.Names {
		tensors = append(tensors, file.Tensors[name])
	}
	b := encodeBytes(t, tensors, WriteOptions{Metadata: file.Metadata})
	again, err := decode(bytes.NewReader(b), int64(len(b)), ReadOptions{Ints: true})
	if err != nil {
		t.Fatalf("re-reading what Write wrote: %v", err)
	}
	if !slices.Equal(again.Names, file.Names) || len(again.Metadata) != len(file.Metadata) {
		t.Fatalf("rewrite changed names %q -> %q or metadata %v -> %v", file.Names, again.Names, file.Metadata, again.Metadata)
	}
	for k, v := range file.Metadata {
		if again.Metadata[k] != v {
			t.Fatalf("rewrite changed metadata %q: %q -> %q", k, v, again.Metadata[k])
		}
	}
	for _, name := range file.Names {
		a, b := file.Tensors[name], again.Tensors[name]
		same := slices.Equal(a.Shape, b.Shape) && slices.Equal(a.Ints, b.Ints) &&
			slices.EqualFunc(a.Data, b.Data, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
		if !same {
			t.Fatalf("rewrite changed tensor %q: %+v -> %+v", name, a, b)
		}
	}
}
