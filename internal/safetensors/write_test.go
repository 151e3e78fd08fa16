package safetensors

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// sample values covering normals, subnormals, overflow and specials in
// every float dtype.
var sample = []float32{0, float32(math.Copysign(0, -1)), 1, -1.5, 1.0 / 3, 3.14159265,
	65504, 70000, 1e-5, 1e-8, 0x1p-24, 1e30, -1e-40, math.MaxFloat32,
	float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}

// sameBits compares float32 slices bit for bit, so -0 and NaN count.
func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool {
		return math.Float32bits(x) == math.Float32bits(y) || math.IsNaN(float64(x)) && math.IsNaN(float64(y))
	})
}

func TestWriteRoundTripFloats(t *testing.T) {
	for _, c := range []struct {
		dtype string
		want  func(float32) float32 // what a value reads back as
	}{
		{"", func(v float32) float32 { return v }}, // default is F32
		{F32, func(v float32) float32 { return v }},
		{F64, func(v float32) float32 { return v }},
		{F16, func(v float32) float32 { return f16ToF32(f32ToF16(v)) }},
		{BF16, func(v float32) float32 { return bf16ToF32(f32ToBF16(v)) }},
	} {
		t.Run("dtype="+c.dtype, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.safetensors")
			in := []*Tensor{
				{Name: "w", Shape: []int{len(sample)}, Data: sample},
				{Name: "scalar", Shape: []int{}, Data: []float32{2.5}},
				{Name: "empty", Shape: []int{3, 0}, Data: []float32{}},
				{Name: "m", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
			}
			meta := map[string]string{"format": "pt"}
			if err := Write(path, in, WriteOptions{DType: c.dtype, Metadata: meta}); err != nil {
				t.Fatal(err)
			}
			f, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			stored := c.dtype
			if stored == "" {
				stored = F32
			}
			if !reflect.DeepEqual(f.Metadata, meta) {
				t.Errorf("Metadata = %v, want %v", f.Metadata, meta)
			}
			if want := []string{"empty", "m", "scalar", "w"}; !slices.Equal(f.Names, want) {
				t.Errorf("Names = %q, want %q", f.Names, want)
			}
			for _, ti := range in {
				got := f.Tensors[ti.Name]
				want := make([]float32, len(ti.Data))
				for i, v := range ti.Data {
					want[i] = c.want(v)
				}
				if got.DType != stored || !slices.Equal(got.Shape, ti.Shape) || !sameBits(got.Data, want) {
					t.Errorf("tensor %q read back as %s %v %v, want %s %v %v", ti.Name, got.DType, got.Shape, got.Data, stored, ti.Shape, want)
				}
			}
			// Values exactly representable in every dtype come back unchanged.
			if got := f.Tensors["m"].Data; !slices.Equal(got, in[3].Data) {
				t.Errorf("small integers read back as %v", got)
			}
		})
	}
}

func TestWriteRoundTripInts(t *testing.T) {
	var in []*Tensor
	for name, d := range dtypes {
		if d.isInt() {
			in = append(in, &Tensor{Name: "t_" + name, DType: name, Shape: []int{1, 3}, Ints: []int64{d.min, d.max, (d.min + d.max) / 2}})
		}
	}
	in = append(in, &Tensor{Name: "w", Shape: []int{1}, Data: []float32{0.25}})
	path := filepath.Join(t.TempDir(), "ids.safetensors")
	if err := Write(path, in, WriteOptions{DType: BF16}); err != nil {
		t.Fatal(err)
	}
	f, err := ReadOptions{Ints: true}.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range in {
		got := f.Tensors[ti.Name]
		want := *ti
		if !ti.IsInt() {
			want.DType = BF16
		}
		if !reflect.DeepEqual(got, &want) {
			t.Errorf("tensor %q read back as %+v, want %+v", ti.Name, got, &want)
		}
	}
}

// The bytes match what the reference writer produces: compact JSON with
// __metadata__ first and fields in dtype, shape, data_offsets order, padded
// with spaces so the data starts at a multiple of 8.
func TestWriteLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	err := Write(path, []*Tensor{
		{Name: "a", Shape: []int{2}, Data: []float32{1, 2}},
		{Name: `b<"&>`, Shape: []int{1, 1}, Data: []float32{-2}},
	}, WriteOptions{DType: F16, Metadata: map[string]string{"z": "1", "format": "pt"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	json := `{"__metadata__":{"format":"pt","z":"1"},` +
		`"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},` +
		`"b<\"&>":{"dtype":"F16","shape":[1,1],"data_offsets":[4,6]}}`
	json += strings.Repeat(" ", (8-len(json)%8)%8)
	want := rawFile(json, le16(0x3c00, 0x4000, 0xc000))
	if !bytes.Equal(got, want) {
		t.Errorf("file bytes:\n%q\nwant\n%q", got, want)
	}
}

func TestWriteNoTensors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.safetensors")
	if err := Write(path, nil, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if want := rawFile("{}      ", nil); !bytes.Equal(got, want) {
		t.Errorf("file = %q, want %q", got, want)
	}
	f, err := Read(path)
	if err != nil || len(f.Names) != 0 || f.Metadata != nil {
		t.Errorf("Read = %+v, %v; want an empty file", f, err)
	}
}

// Tensors larger than the conversion chunk are written in several pieces.
func TestWriteLargeTensor(t *testing.T) {
	data := make([]float32, chunkBytes/2+5) // as F16: a chunk and a half
	for i := range data {
		data[i] = float32(i%2048) - 1024 // exact in F16
	}
	path := filepath.Join(t.TempDir(), "big.safetensors")
	if err := Write(path, []*Tensor{{Name: "w", Shape: []int{len(data)}, Data: data}}, WriteOptions{DType: F16}); err != nil {
		t.Fatal(err)
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Tensors["w"].Data, data) {
		t.Error("large F16 tensor did not round-trip")
	}
}

func TestWriteRejects(t *testing.T) {
	ok := &Tensor{Name: "ok", Shape: []int{1}, Data: []float32{1}}
	for _, c := range []struct {
		name    string
		tensors []*Tensor
		opts    WriteOptions
		want    string
	}{
		{"nil tensor", []*Tensor{ok, nil}, WriteOptions{}, "tensors[1]: tensor is nil"},
		{"empty name", []*Tensor{{Shape: []int{0}}}, WriteOptions{}, "tensors[0]: tensor has an empty name"},
		{"reserved name", []*Tensor{{Name: "__metadata__", Shape: []int{0}}}, WriteOptions{}, `tensor "__metadata__": tensor name "__metadata__" is reserved`},
		{"bad UTF-8 name", []*Tensor{{Name: "a\xff", Shape: []int{0}}}, WriteOptions{}, `name is not valid UTF-8`},
		{"negative dim", []*Tensor{{Name: "a", Shape: []int{-1}}}, WriteOptions{}, `tensor "a": shape [-1] has a negative dimension`},
		{"too few values", []*Tensor{{Name: "a", Shape: []int{2, 3}, Data: make([]float32, 5)}}, WriteOptions{}, `tensor "a": shape [2 3] needs 6 values but there are 5`},
		{"huge shape", []*Tensor{{Name: "a", Shape: []int{math.MaxInt / 2, 4}}}, WriteOptions{}, `tensor "a": shape [4611686018427387903 4] is too large`},
		{"duplicate", []*Tensor{ok, ok}, WriteOptions{}, `tensor "ok": name appears more than once`},
		{"ints on float", []*Tensor{{Name: "a", Shape: []int{1}, Ints: []int64{1}}}, WriteOptions{}, `tensor "a": Ints is set but DType "" is not an integer dtype`},
		{"data on int", []*Tensor{{Name: "a", DType: I64, Shape: []int{1}, Data: []float32{1}}}, WriteOptions{}, `tensor "a": integer dtype I64 but Data is set`},
		{"int out of range", []*Tensor{{Name: "a", DType: I32, Shape: []int{2}, Ints: []int64{0, 1 << 40}}}, WriteOptions{}, `tensor "a": Ints[1] = 1099511627776 is out of range for I32 [-2147483648, 2147483647]`},
		{"bool out of range", []*Tensor{{Name: "m", DType: BOOL, Shape: []int{1}, Ints: []int64{2}}}, WriteOptions{}, `tensor "m": Ints[0] = 2 is out of range for BOOL [0, 1]`},
		{"int opts dtype", []*Tensor{ok}, WriteOptions{DType: I64}, `WriteOptions.DType "I64" is not one of F32, F16, BF16, F64`},
		{"unknown opts dtype", []*Tensor{ok}, WriteOptions{DType: "f16"}, `WriteOptions.DType "f16" is not one of`},
		{"bad UTF-8 metadata", []*Tensor{ok}, WriteOptions{Metadata: map[string]string{"k": "\xff"}}, `metadata "k": key or value is not valid UTF-8`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "m.safetensors")
			err := Write(path, c.tensors, c.opts)
			if err == nil || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant %s: ...%s...", err, path, c.want)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("failed Write left %q behind", names)
			}
		})
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// A failed Write over an existing file leaves the old file, and nothing
// else, in place; a successful one replaces it.
func TestWriteAtomicOverExisting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	old := []*Tensor{{Name: "old", Shape: []int{2}, Data: []float32{1, 2}}}
	if err := Write(path, old, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	oldBytes, _ := os.ReadFile(path)

	// The bad tensor comes after a large good one, so a writer that streamed
	// before validating would already have written megabytes.
	big := &Tensor{Name: "big", Shape: []int{1 << 20}, Data: make([]float32, 1<<20)}
	bad := &Tensor{Name: "bad", Shape: []int{3}, Data: []float32{1}}
	if err := Write(path, []*Tensor{big, bad}, WriteOptions{}); err == nil {
		t.Fatal("Write with a bad tensor succeeded")
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, oldBytes) {
		t.Fatal("failed Write changed the existing file")
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"model.safetensors"}) {
		t.Fatalf("directory holds %q after a failed Write", names)
	}

	if err := Write(filepath.Join(dir, "missing", "m.safetensors"), old, WriteOptions{}); err == nil {
		t.Fatal("Write into a missing directory succeeded")
	}

	if err := Write(path, []*Tensor{big}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if f, err := Read(path); err != nil || !slices.Equal(f.Names, []string{"big"}) {
		t.Fatalf("after replacing: %v, %v", f, err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"model.safetensors"}) {
		t.Fatalf("directory holds %q after a Write", names)
	}
}

// Readers racing a writer that keeps replacing the file always see a whole
// file, old or new, never a partial one.
func TestWriteReadersNeverSeePartialFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ckpt.safetensors")
	versions := [][]*Tensor{
		{{Name: "a", Shape: []int{1 << 16}, Data: make([]float32, 1<<16)}},
		{{Name: "b", Shape: []int{3 << 16}, Data: make([]float32, 3<<16)}},
	}
	if err := Write(path, versions[0], WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		for i := range 20 {
			if err := Write(path, versions[i%2], WriteOptions{}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var readErr error
	for reads := 0; readErr == nil; reads++ {
		select {
		case <-done:
			wg.Wait()
			return
		default:
		}
		f, err := Read(path)
		if err != nil {
			readErr = fmt.Errorf("read %d during rewrites: %v", reads, err)
		} else if n := len(f.Names); n != 1 || f.Names[0] != "a" && f.Names[0] != "b" {
			readErr = fmt.Errorf("read %d saw tensors %q", reads, f.Names)
		}
	}
	wg.Wait() // the writer uses t, so it must finish before the test does
	t.Fatal(readErr)
}

// The files the reference implementation's own serialization tests expect
// (safetensors/src/tensor.rs: test_serialization,
// test_serialization_forced_alignement, test_empty), byte for byte.
func TestWriteMatchesReferenceVectors(t *testing.T) {
	f32s := []float32{0, 1, 2, 3, 4, 5}
	for _, c := range []struct {
		name    string
		tensors []*Tensor
		meta    map[string]string
		header  string // including padding
	}{
		{"serialization", []*Tensor{{Name: "attn.0", Shape: []int{1, 2, 3}, Data: f32s}}, nil,
			`{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`},
		{"forced alignment", []*Tensor{{Name: "attn0", Shape: []int{1, 1, 2, 3}, Data: f32s}}, nil,
			`{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       `},
		{"empty", nil, nil, `{}      `},
		{"empty with metadata", nil, map[string]string{"framework": "pt"}, `{"__metadata__":{"framework":"pt"}}     `},
	} {
		t.Run(c.name, func(t *testing.T) {
			var data []byte
			if c.tensors != nil {
				data = le32(f32s...)
			}
			got := encodeBytes(t, c.tensors, WriteOptions{Metadata: c.meta})
			if want := rawFile(c.header, data); !bytes.Equal(got, want) {
				t.Errorf("bytes:\n%q\nwant\n%q", got, want)
			}
		})
	}
}
