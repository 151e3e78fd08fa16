package safetensors

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// vec is a one-dimensional float tensor.
func vec(name string, vs ...float32) *Tensor {
	return &Tensor{Name: name, Shape: []int{len(vs)}, Data: vs}
}

// shardedDir writes two shards and an index mapping each tensor to the
// shard it is in, and returns the directory.
func shardedDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must(t, Write(filepath.Join(dir, "model-00001-of-00002.safetensors"),
		[]*Tensor{vec("wte.weight", 1, 2), vec("h.0.ln_1.weight", 3)},
		WriteOptions{Metadata: map[string]string{"format": "pt", "shard": "1"}}))
	must(t, Write(filepath.Join(dir, "model-00002-of-00002.safetensors"),
		[]*Tensor{vec("h.1.ln_1.weight", 4, 5, 6)},
		WriteOptions{DType: BF16, Metadata: map[string]string{"format": "pt", "shard": "2"}}))
	writeIndex(t, dir, `{
  "metadata": {"total_size": 24},
  "weight_map": {
    "h.0.ln_1.weight": "model-00001-of-00002.safetensors",
    "h.1.ln_1.weight": "model-00002-of-00002.safetensors",
    "wte.weight": "model-00001-of-00002.safetensors"
  }
}`)
	return dir
}

func writeIndex(t *testing.T, dir, json string) {
	t.Helper()
	must(t, os.WriteFile(filepath.Join(dir, IndexFile), []byte(json), 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestReadModelDirSharded(t *testing.T) {
	dir := shardedDir(t)
	f, err := ReadModelDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, IndexFile); f.Path != want {
		t.Errorf("Path = %q, want %q", f.Path, want)
	}
	if want := []string{"h.0.ln_1.weight", "h.1.ln_1.weight", "wte.weight"}; !slices.Equal(f.Names, want) {
		t.Errorf("Names = %q, want %q", f.Names, want)
	}
	if got := f.Tensors["h.1.ln_1.weight"]; got.DType != BF16 || !slices.Equal(got.Data, []float32{4, 5, 6}) {
		t.Errorf("h.1.ln_1.weight = %+v", got)
	}
	if got, _ := f.Floats("wte.weight"); !slices.Equal(got, []float32{1, 2}) {
		t.Errorf("wte.weight = %v", got)
	}
	// The first shard's value wins where shards disagree.
	if f.Metadata["format"] != "pt" || f.Metadata["shard"] != "1" {
		t.Errorf("Metadata = %v", f.Metadata)
	}
}

func TestReadModelDirSingleFilePreferred(t *testing.T) {
	dir := shardedDir(t)
	single := filepath.Join(dir, ModelFile)
	must(t, Write(single, []*Tensor{vec("only", 7)}, WriteOptions{}))
	f, err := ReadModelDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != single || !slices.Equal(f.Names, []string{"only"}) {
		t.Errorf("read %s with %q, want %s with [only]", f.Path, f.Names, single)
	}
}

func TestReadModelDirInts(t *testing.T) {
	dir := t.TempDir()
	must(t, Write(filepath.Join(dir, "s1.safetensors"),
		[]*Tensor{{Name: "position_ids", DType: I64, Shape: []int{1, 2}, Ints: []int64{0, 1}}}, WriteOptions{}))
	writeIndex(t, dir, `{"weight_map": {"position_ids": "s1.safetensors"}}`)
	if _, err := ReadModelDir(dir); err == nil || !strings.Contains(err.Error(), "ReadOptions{Ints: true}") {
		t.Errorf("ReadModelDir: err = %v, want the Ints hint", err)
	}
	f, err := ReadOptions{Ints: true}.ReadModelDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Ints("position_ids"); !slices.Equal(got, []int64{0, 1}) {
		t.Errorf("position_ids = %v", got)
	}
}

func TestReadModelDirRejects(t *testing.T) {
	shard1 := "model-00001-of-00002.safetensors"
	shard2 := "model-00002-of-00002.safetensors"
	for _, c := range []struct {
		name  string
		index string         // replaces the index when non-empty
		edit  func(d string) // changes the directory
		want  string         // error fragment; "<dir>" is replaced by the directory
	}{
		{name: "no weights", edit: func(d string) { os.Remove(filepath.Join(d, IndexFile)) },
			want: "<dir>: neither model.safetensors nor model.safetensors.index.json exists"},
		{name: "index not JSON", index: `{"weight_map": `,
			want: "<dir>/model.safetensors.index.json: not valid JSON"},
		{name: "no weight_map", index: `{"metadata": {}}`,
			want: "<dir>/model.safetensors.index.json: no weight_map"},
		{name: "empty weight_map", index: `{"weight_map": {}}`,
			want: "<dir>/model.safetensors.index.json: weight_map is empty"},
		{name: "weight_map not object", index: `{"weight_map": ["a"]}`,
			want: "<dir>/model.safetensors.index.json: weight_map is a JSON array, want an object"},
		{name: "shard not string", index: `{"weight_map": {"a": 1}}`,
			want: `<dir>/model.safetensors.index.json: weight_map["a"] is 1, want a shard file name`},
		{name: "shard outside dir", index: `{"weight_map": {"a": "../model.safetensors"}}`,
			want: `<dir>/model.safetensors.index.json: weight_map["a"] = "../model.safetensors" is not a file name in the model directory`},
		{name: "duplicate tensor", index: `{"weight_map": {"a": "` + shard1 + `", "a": "` + shard2 + `"}}`,
			want: `<dir>/model.safetensors.index.json: weight_map lists "a" more than once`},
		{name: "shard missing", edit: func(d string) { os.Remove(filepath.Join(d, shard2)) },
			want: "<dir>/model.safetensors.index.json: weight_map names shard " + shard2 + ", which does not exist"},
		{name: "corrupt shard", edit: func(d string) { os.WriteFile(filepath.Join(d, shard2), []byte("junk"), 0o644) },
			want: "<dir>/" + shard2 + ": file is 4 bytes, too short"},
		{name: "tensor missing from shard", index: `{"weight_map": {"wte.weight": "` + shard1 + `", "h.0.ln_1.weight": "` + shard1 +
			`", "h.1.ln_1.weight": "` + shard2 + `", "lm_head.weight": "` + shard2 + `"}}`,
			want: `<dir>/` + shard2 + `: tensor "lm_head.weight", which the model.safetensors.index.json weight_map puts here, is missing`},
		{name: "tensor not in map", index: `{"weight_map": {"wte.weight": "` + shard1 + `", "h.1.ln_1.weight": "` + shard2 + `"}}`,
			want: `<dir>/` + shard1 + `: tensor "h.0.ln_1.weight" is not in the model.safetensors.index.json weight_map`},
		{name: "tensor in other shard", index: `{"weight_map": {"wte.weight": "` + shard2 + `", "h.0.ln_1.weight": "` + shard1 +
			`", "h.1.ln_1.weight": "` + shard2 + `"}}`,
			want: `<dir>/` + shard1 + `: tensor "wte.weight" is here but the model.safetensors.index.json weight_map puts it in ` + shard2},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := shardedDir(t)
			if c.index != "" {
				writeIndex(t, dir, c.index)
			}
			if c.edit != nil {
				c.edit(dir)
			}
			_, err := ReadModelDir(dir)
			want := strings.ReplaceAll(c.want, "<dir>", dir)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v\nwant ...%s...", err, want)
			}
		})
	}
}
