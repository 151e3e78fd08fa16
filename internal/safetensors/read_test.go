package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// rawFile assembles a file from a header and data buffer by hand, the way
// a foreign writer would, without going through Write.
func rawFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// writeRaw stores b as dir/model.safetensors and returns the path.
func writeRaw(t *testing.T, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.safetensors")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// le32 encodes float32 values, le16 raw 16-bit patterns, for fixtures.
func le32(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func le16(vs ...uint16) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint16(b, v)
	}
	return b
}

func cat(bs ...[]byte) []byte { return slices.Concat(bs...) }

// TestReadHandBuiltFixture reads a file laid out by hand: header order
// differs from offset order, the header is space-padded, and it mixes dtypes,
// a scalar and an empty tensor.
func TestReadHandBuiltFixture(t *testing.T) {
	header := `{"b": {"dtype": "F16", "shape": [3], "data_offsets": [24, 30]},
	 "__metadata__": {"format": "pt", "note": "<&>"},
	 "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
	 "empty": {"dtype": "F32", "shape": [0, 5], "data_offsets": [16, 16]},
	 "s": {"dtype": "F64", "shape": [], "data_offsets": [16, 24]},
	 "c": {"dtype": "BF16", "shape": [1], "data_offsets": [30, 32]}}    `
	data := cat(
		le32(1, -2, 0.5, 3),
		binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.1)),
		le16(0x3c00, 0x0001, 0xfc00), // 1, 2^-24, -Inf
		le16(0x4049),                 // 3.140625
	)
	path := writeRaw(t, rawFile(header, data))
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != path {
		t.Errorf("Path = %q, want %q", f.Path, path)
	}
	if want := []string{"a", "b", "c", "empty", "s"}; !slices.Equal(f.Names, want) {
		t.Errorf("Names = %q, want %q", f.Names, want)
	}
	if want := map[string]string{"format": "pt", "note": "<&>"}; !reflect.DeepEqual(f.Metadata, want) {
		t.Errorf("Metadata = %v, want %v", f.Metadata, want)
	}
	want := map[string]*Tensor{
		"a":     {Name: "a", DType: F32, Shape: []int{2, 2}, Data: []float32{1, -2, 0.5, 3}},
		"b":     {Name: "b", DType: F16, Shape: []int{3}, Data: []float32{1, 0x1p-24, float32(math.Inf(-1))}},
		"c":     {Name: "c", DType: BF16, Shape: []int{1}, Data: []float32{3.140625}},
		"empty": {Name: "empty", DType: F32, Shape: []int{0, 5}, Data: []float32{}},
		"s":     {Name: "s", DType: F64, Shape: []int{}, Data: []float32{0.1}},
	}
	for name, w := range want {
		if got := f.Tensors[name]; !reflect.DeepEqual(got, w) {
			t.Errorf("tensor %q = %+v, want %+v", name, got, w)
		}
	}
	if n := f.Tensors["s"].Numel(); n != 1 {
		t.Errorf("scalar Numel = %d, want 1", n)
	}
	if n := f.Tensors["empty"].Numel(); n != 0 {
		t.Errorf("empty Numel = %d, want 0", n)
	}
}

func TestReadInts(t *testing.T) {
	header := `{"ids": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]},
	 "mask": {"dtype": "BOOL", "shape": [2], "data_offsets": [16, 18]},
	 "small": {"dtype": "I32", "shape": [1], "data_offsets": [18, 22]},
	 "w": {"dtype": "F32", "shape": [1], "data_offsets": [22, 26]}}`
	data := cat(
		binary.LittleEndian.AppendUint64(nil, 1<<40),
		binary.LittleEndian.AppendUint64(nil, math.MaxUint64), // -1
		[]byte{1, 0},
		binary.LittleEndian.AppendUint32(nil, 0x80000000), // MinInt32
		le32(7),
	)
	path := writeRaw(t, rawFile(header, data))

	if _, err := Read(path); err == nil || !strings.Contains(err.Error(), `tensor "ids": has integer dtype I64; read it with ReadOptions{Ints: true}`) {
		t.Fatalf("Read without Ints: err = %v", err)
	}
	f, err := ReadOptions{Ints: true}.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]int64{
		"ids":   {1 << 40, -1},
		"mask":  {1, 0},
		"small": {math.MinInt32},
	} {
		got, err := f.Ints(name)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Ints(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	if _, err := f.Ints("w"); err == nil || !strings.Contains(err.Error(), `tensor "w" has float dtype F32; use Floats`) {
		t.Errorf("Ints on a float tensor: err = %v", err)
	}
	if _, err := f.Floats("ids"); err == nil || !strings.Contains(err.Error(), `tensor "ids" has integer dtype I64; use Ints`) {
		t.Errorf("Floats on an int tensor: err = %v", err)
	}
	if got, err := f.Floats("w"); err != nil || !slices.Equal(got, []float32{7}) {
		t.Errorf("Floats(w) = %v, %v", got, err)
	}
	if _, err := f.Lookup("nope"); err == nil || err.Error() != path+`: no tensor "nope"` {
		t.Errorf("Lookup(nope): err = %v", err)
	}
}

// The example message from the design brief, verbatim.
func TestReadSizeMismatchMessage(t *testing.T) {
	header := `{"h.0.attn.c_attn.weight":{"dtype":"F32","shape":[10,20],"data_offsets":[0,400]}}`
	path := writeRaw(t, rawFile(header, make([]byte, 400)))
	_, err := Read(path)
	want := path + `: tensor "h.0.attn.c_attn.weight": data_offsets [0, 400] give 400 bytes but shape [10 20] of F32 needs 800`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

// ent is one header entry in compact JSON.
func ent(name, dtype, shape string, begin, end int) string {
	return fmt.Sprintf(`%q:{"dtype":%q,"shape":%s,"data_offsets":[%d,%d]}`, name, dtype, shape, begin, end)
}

// hdr joins entries into a header object.
func hdr(entries ...string) string { return "{" + strings.Join(entries, ",") + "}" }

// badFiles are hand-built files that Read must reject, with a fragment of
// the one-line error each must give (after "<path>: ").
var badFiles = []struct {
	name string
	file []byte
	ints bool // read with ReadOptions{Ints: true}
	want string
}{
	{"empty file", nil, false, "file is 0 bytes, too short for the 8-byte header length"},
	{"shorter than 8 bytes", []byte("abc"), false, "file is 3 bytes, too short"},
	{"header length past end", cat(binary.LittleEndian.AppendUint64(nil, 1000), []byte("{}")), false,
		"header length 1000 exceeds the 2 bytes after it"},
	{"header length huge", binary.LittleEndian.AppendUint64(nil, math.MaxUint64), false,
		"header length 18446744073709551615 exceeds the 0 bytes after it"},
	{"header not JSON", rawFile(`{"a": `, nil), false, "header not valid JSON: unexpected end of JSON input"},
	{"header trailing garbage", rawFile(`{} x`, nil), false, "header not valid JSON: invalid character 'x' after top-level value (at byte 4)"},
	{"header NUL padded", rawFile("{}\x00\x00", nil), false, "header not valid JSON"},
	{"header not object", rawFile(`[1, 2]`, nil), false, "header is a JSON array, want an object"},
	{"header string", rawFile(`"x"`, nil), false, "header is a JSON string, want an object"},
	{"header not UTF-8", rawFile("{\"\xff\": 1}", nil), false, "header is not valid UTF-8"},
	{"entry not object", rawFile(`{"a": [1, 2,   3]}`, nil), false, `tensor "a": header entry is [1, 2, 3], want an object`},
	{"missing dtype", rawFile(`{"a": {"shape": [1], "data_offsets": [0, 4]}}`, make([]byte, 4)), false, `tensor "a": header entry has no dtype`},
	{"null dtype", rawFile(`{"a": {"dtype": null, "shape": [1], "data_offsets": [0, 4]}}`, make([]byte, 4)), false, `tensor "a": header entry has no dtype`},
	{"missing shape", rawFile(`{"a": {"dtype": "F32", "data_offsets": [0, 4]}}`, make([]byte, 4)), false, `tensor "a": header entry has no shape`},
	{"missing offsets", rawFile(`{"a": {"dtype": "F32", "shape": [1]}}`, make([]byte, 4)), false, `tensor "a": header entry has no data_offsets`},
	{"dtype not string", rawFile(`{"a": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}}`, make([]byte, 4)), false, `tensor "a": dtype is 4, want a string`},
	{"unknown dtype", rawFile(hdr(ent("a", "F33", "[1]", 0, 4)), make([]byte, 4)), false, `tensor "a": unknown dtype "F33" (supported: BF16, BOOL, F16, F32, F64, I16, I32, I64, I8, U16, U32, U64, U8)`},
	{"unsupported dtype", rawFile(hdr(ent("a", "F8_E4M3", "[1]", 0, 1)), make([]byte, 1)), false, `tensor "a": dtype F8_E4M3 is not supported`},
	{"int without option", rawFile(hdr(ent("ids", "I64", "[1]", 0, 8)), make([]byte, 8)), false, `tensor "ids": has integer dtype I64; read it with ReadOptions{Ints: true}`},
	{"negative dim", rawFile(hdr(ent("a", "F32", "[2, -1]", 0, 0)), nil), false, `tensor "a": shape [2 -1] has invalid dimension -1`},
	{"fractional dim", rawFile(hdr(ent("a", "F32", "[1.5]", 0, 4)), make([]byte, 4)), false, `tensor "a": shape is [1.5], want an array of integers`},
	{"shape not array", rawFile(hdr(ent("a", "F32", `"2"`, 0, 4)), make([]byte, 4)), false, `tensor "a": shape is "2", want an array of integers`},
	{"offsets not ints", rawFile(`{"a": {"dtype": "F32", "shape": [1], "data_offsets": "0-4"}}`, make([]byte, 4)), false, `tensor "a": data_offsets is "0-4", want [begin, end]`},
	{"field case differs", rawFile(`{"a": {"DTYPE": "F32", "shape": [1], "data_offsets": [0, 4]}}`, make([]byte, 4)), false, `tensor "a": header entry has no dtype`},
	{"field twice", rawFile(`{"a": {"dtype": "F32", "dtype": "F16", "shape": [1], "data_offsets": [0, 4]}}`, make([]byte, 4)), false, `tensor "a": header entry has dtype more than once`},
	{"one offset", rawFile(`{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4]}}`, make([]byte, 4)), false, `tensor "a": data_offsets [4] must be [begin, end]`},
	{"offsets reversed", rawFile(hdr(ent("a", "F32", "[0]", 4, 0)), make([]byte, 4)), false, `tensor "a": data_offsets [4, 0] must satisfy 0 <= begin <= end`},
	{"negative offset", rawFile(hdr(ent("a", "F32", "[1]", -4, 0)), nil), false, `tensor "a": data_offsets [-4, 0] must satisfy`},
	{"size mismatch", rawFile(hdr(ent("a", "F16", "[3]", 0, 4)), make([]byte, 4)), false, `tensor "a": data_offsets [0, 4] give 4 bytes but shape [3] of F16 needs 6`},
	{"shape overflow", rawFile(hdr(ent("a", "F32", "[4611686018427387904, 4]", 0, 4)), make([]byte, 4)), false, `tensor "a": shape [4611686018427387904 4] of F32 is too large`},
	{"truncated data", rawFile(hdr(ent("a", "F32", "[2]", 0, 8), ent("b", "F32", "[200]", 8, 808)), make([]byte, 400)), false,
		`tensor "b": data_offsets [8, 808] run past the end of the 400-byte data buffer (file truncated?)`},
	{"overlap", rawFile(hdr(ent("a", "F32", "[2]", 0, 8), ent("b", "F32", "[2]", 4, 12)), make([]byte, 12)), false,
		`tensor "b": data_offsets [4, 12] overlap tensor "a", which ends at 8`},
	{"same offsets", rawFile(hdr(ent("a", "F32", "[2]", 0, 8), ent("b", "F32", "[2]", 0, 8)), make([]byte, 8)), false,
		`tensor "b": data_offsets [0, 8] overlap tensor "a"`},
	{"empty tensor inside another", rawFile(hdr(ent("a", "F32", "[2]", 0, 8), ent("z", "F32", "[0]", 4, 4)), make([]byte, 8)), false,
		`tensor "z": data_offsets [4, 4] overlap tensor "a"`},
	{"hole", rawFile(hdr(ent("a", "F32", "[1]", 0, 4), ent("b", "F32", "[1]", 8, 12)), make([]byte, 12)), false,
		`tensor "b": data_offsets [8, 12] leave bytes [4, 8) of the data buffer unused`},
	{"hole at start", rawFile(hdr(ent("a", "F32", "[1]", 4, 8)), make([]byte, 8)), false,
		`tensor "a": data_offsets [4, 8] leave bytes [0, 4) of the data buffer unused`},
	{"trailing bytes", rawFile(hdr(ent("a", "F32", "[1]", 0, 4)), make([]byte, 8)), false,
		"data buffer has 8 bytes but the tensors cover only the first 4"},
	{"data but no tensors", rawFile(`{}`, make([]byte, 3)), false, "data buffer has 3 bytes but the tensors cover only the first 0"},
	{"duplicate name", rawFile(hdr(ent("a", "F32", "[1]", 0, 4), ent("a", "F32", "[1]", 4, 8)), make([]byte, 8)), false,
		`header lists "a" more than once`},
	{"duplicate metadata", rawFile(`{"__metadata__": {}, "__metadata__": {}}`, nil), false, `header lists "__metadata__" more than once`},
	{"metadata not strings", rawFile(`{"__metadata__": {"n": 1}}`, nil), false, `header __metadata__["n"] is 1, want a string`},
	{"metadata not object", rawFile(`{"__metadata__": "pt"}`, nil), false, "header __metadata__ is a JSON string, want an object"},
	{"bool not 0 or 1", rawFile(hdr(ent("m", "BOOL", "[3]", 0, 3)), []byte{0, 1, 2}), true, `tensor "m": BOOL element 2 is not 0 or 1`},
	{"u64 too big", rawFile(hdr(ent("u", "U64", "[1]", 0, 8)), binary.LittleEndian.AppendUint64(nil, 1<<63)), true, `tensor "u": U64 element 0 does not fit in int64`},
}

func TestReadRejects(t *testing.T) {
	for _, c := range badFiles {
		t.Run(c.name, func(t *testing.T) {
			path := writeRaw(t, c.file)
			f, err := ReadOptions{Ints: c.ints}.Read(path)
			if err == nil {
				t.Fatalf("Read succeeded with %d tensors, want an error containing %q", len(f.Names), c.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path+": ") || !strings.Contains(msg, c.want) {
				t.Errorf("err = %s\nwant %s: ...%s...", msg, path, c.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
		})
	}
}

// zeros is a ReaderAt over a huge file of a given prefix and then zero
// bytes, so the header-size limit can be tested without a 100 MB file.
type zeros struct{ prefix []byte }

func (z zeros) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	if off < int64(len(z.prefix)) {
		copy(p, z.prefix[off:])
	}
	return len(p), nil
}

func TestReadHeaderOverLimit(t *testing.T) {
	r := zeros{binary.LittleEndian.AppendUint64(nil, maxHeaderLen+1)}
	_, err := decode(r, 1<<40, ReadOptions{})
	want := "header length 100000001 is over the 100000000-byte limit (not a safetensors file?)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

func TestReadDirectoryAndMissing(t *testing.T) {
	dir := t.TempDir()
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), dir+": is a directory; use ReadModelDir") {
		t.Errorf("Read(dir): err = %v", err)
	}
	missing := filepath.Join(dir, "nope.safetensors")
	if _, err := Read(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Read(missing): err = %v", err)
	}
}

// A tensor larger than the conversion chunk is read in several pieces.
func TestReadLargeTensorInChunks(t *testing.T) {
	n := chunkBytes/2 + 3 // F16: 1.5 chunks of bytes... in elements, odd on purpose
	vals := make([]uint16, n)
	for i := range vals {
		vals[i] = uint16(i)
	}
	path := writeRaw(t, rawFile(hdr(ent("w", "F16", fmt.Sprintf("[%d]", n), 0, 2*n)), le16(vals...)))
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range f.Tensors["w"].Data {
		if math.Float32bits(v) != math.Float32bits(f16ToF32(uint16(i))) {
			t.Fatalf("element %d = %g, want %g", i, v, f16ToF32(uint16(i)))
		}
	}
}
