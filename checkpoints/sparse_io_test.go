package checkpoints

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/internal/safetensors"
)

// writeTiny writes the Sparse of tiny model name with tinyManifest into a
// new directory, with a tokenizer file to copy, and returns the directory
// and the Sparse.
func writeTiny(t testing.TB, name string, static bool) (string, *Sparse) {
	t.Helper()
	m := tinySparseModel(t, name)
	s := pruneForTest(t, m, tinyManifest(string(m.Config.Family), static))
	from := t.TempDir()
	if err := os.WriteFile(filepath.Join(from, "tokenizer.json"), []byte(`{"model":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "sparse")
	if err := WriteSparse(dir, s, from, []string{"tokenizer.json"}); err != nil {
		t.Fatal(err)
	}
	return dir, s
}

func TestSparseRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		model  string
		static bool
	}{{"gpt2", false}, {"gpt2-cls", false}, {"bert", false}, {"roberta", false}, {"llama", false}, {"llama-gqa", false}, {"gpt2", true}, {"llama-gqa", true}} {
		name := tc.model
		if tc.static {
			name += "/static"
		}
		t.Run(name, func(t *testing.T) {
			dir, want := writeTiny(t, tc.model, tc.static)
			got, err := ReadSparse(dir)
			if err != nil {
				t.Fatal(err)
			}
			wc, _ := want.Config.MarshalHF()
			gc, _ := got.Config.MarshalHF()
			if string(wc) != string(gc) {
				t.Errorf("config differs:\n%s\nwant\n%s", gc, wc)
			}
			wm := want.Manifest
			wm.Format, wm.Version, wm.ContentHash = SparseFormat, 1, got.Manifest.ContentHash // float32: version 1
			if !reflect.DeepEqual(got.Manifest, wm) {
				t.Errorf("manifest differs:\n%+v\nwant\n%+v", got.Manifest, wm)
			}
			if !strings.HasPrefix(got.Manifest.ContentHash, "sha256:") {
				t.Errorf("content hash %q", got.Manifest.ContentHash)
			}
			if len(got.Tensors) != len(want.Tensors) {
				t.Errorf("%d tensors, want %d", len(got.Tensors), len(want.Tensors))
			}
			for n, w := range want.Tensors {
				g := got.Tensors[n]
				if g == nil || !slices.Equal(g.Shape, w.Shape) || !slices.Equal(g.Data, w.Data) {
					t.Errorf("tensor %s differs", n)
				}
			}
			routers := 0
			for n := range got.Tensors {
				if strings.HasPrefix(n, "router.") {
					routers++
				}
			}
			if wantR := map[bool]int{false: 4, true: 0}[tc.static]; routers != wantR {
				t.Errorf("%d router tensors, want %d", routers, wantR)
			}
			// Layer 1 keeps no head, layer 2 no group: their 0-sized tensors
			// survive the file (checked equal above; here that there are some).
			empty := 0
			for _, x := range got.Tensors {
				if numel(x.Shape) == 0 {
					empty++
				}
			}
			if empty == 0 {
				t.Error("no 0-sized tensor came back")
			}
		})
	}
}

func TestWriteSparseCopiesTokenizerAndReplacesAtomically(t *testing.T) {
	dir, s := writeTiny(t, "gpt2", false)
	if b, err := os.ReadFile(filepath.Join(dir, "tokenizer.json")); err != nil || string(b) != `{"model":{}}` {
		t.Fatalf("tokenizer file: %q, %v", b, err)
	}
	// A bad checkpoint is refused before anything is touched.
	bad := *s
	bad.Tensors = map[string]*SparseTensor{}
	for n, x := range s.Tensors {
		bad.Tensors[n] = x
	}
	nan := *bad.Tensors["transformer.wte.weight"]
	nan.Data = append([]float32(nil), nan.Data...)
	nan.Data[5] = float32(math.NaN())
	bad.Tensors["transformer.wte.weight"] = &nan
	err := WriteSparse(dir, &bad, "", nil)
	if err == nil || !strings.Contains(err.Error(), "transformer.wte.weight") || !strings.Contains(err.Error(), "finite") {
		t.Fatalf("NaN weight: %v", err)
	}
	if _, err := ReadSparse(dir); err != nil {
		t.Fatalf("the refused write damaged the old checkpoint: %v", err)
	}
	// A good write replaces the old one and leaves no temporary behind.
	s2 := *s
	s2.Manifest.Target = 0.25
	if err := WriteSparse(dir, &s2, "", nil); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSparse(dir)
	if err != nil || got.Manifest.Target != 0.25 {
		t.Fatalf("replaced checkpoint: target %v, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err == nil {
		t.Error("the replaced directory kept a file the new write did not write")
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("parent holds %v, want only sparse", names)
	}
	if s.Manifest.ContentHash != "" || s.Manifest.Version != 0 {
		t.Error("WriteSparse modified the caller's manifest")
	}
}

// editManifest rewrites dir's sparse.json through a generic JSON map,
// keeping the content hash.
func editManifest(t *testing.T, dir string, edit func(m map[string]any)) {
	t.Helper()
	p := filepath.Join(dir, SparseManifestFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// layer returns layer l of a generic manifest.
func layer(m map[string]any, l int) map[string]any {
	return m["layers"].([]any)[l].(map[string]any)
}

// rewriteSparseWeights lets edit change dir's tensors and writes them back
// with a matching content hash, as a writer with a bug would: the checks
// after the hash must catch what edit did.
func rewriteSparseWeights(t *testing.T, dir string, edit func(ts map[string]*safetensors.Tensor)) {
	t.Helper()
	p := filepath.Join(dir, modelWeightsFile)
	f, err := safetensors.Read(p)
	if err != nil {
		t.Fatal(err)
	}
	edit(f.Tensors)
	var ts []*safetensors.Tensor
	for _, n := range sortedKeys(f.Tensors) {
		f.Tensors[n].Name = n
		ts = append(ts, f.Tensors[n])
	}
	if err := safetensors.Write(p, ts, safetensors.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	h, err := fileHash(p)
	if err != nil {
		t.Fatal(err)
	}
	editManifest(t, dir, func(m map[string]any) { m["content_hash"] = h })
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadSparseRejects(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(t *testing.T, dir string)
		want   []string // substrings of the one-line error
	}{
		{"missing manifest", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, SparseManifestFile)) }, []string{"missing sparse.json"}},
		{"missing weights", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, modelWeightsFile)) }, []string{"missing model.safetensors"}},
		{"missing config", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, modelConfigFile)) }, []string{"missing config.json"}},
		{"malformed manifest", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, SparseManifestFile), []byte(`{"format": "sparsetune-sparse",`))
		}, []string{"sparse.json", "malformed JSON"}},
		{"manifest not an object", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, SparseManifestFile), []byte(`[1, 2]`))
		}, []string{"sparse.json", "array, want an object"}},
		{"wrong format", func(t *testing.T, dir string) { editManifest(t, dir, func(m map[string]any) { m["format"] = "onnx" }) }, []string{"sparse.json", `format "onnx"`}},
		{"version from the future", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["version"] = 7; m["layers"] = "whatever version 7 means" })
		}, []string{"sparse.json", "written by a newer sparsetune: version 7 > 3"}},
		{"version zero", func(t *testing.T, dir string) { editManifest(t, dir, func(m map[string]any) { m["version"] = 0 }) }, []string{"version 0"}},
		{"missing key", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { delete(m, "group_size") })
		}, []string{"sparse.json", `missing "group_size"`}},
		{"missing layer key", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { delete(layer(m, 1), "heads") })
		}, []string{"layer 1", `missing "heads"`}},
		{"wrong field type", func(t *testing.T, dir string) { editManifest(t, dir, func(m map[string]any) { m["shift"] = "zero" }) }, []string{"sparse.json", "shift", "string"}},
		{"wrong family", func(t *testing.T, dir string) { editManifest(t, dir, func(m map[string]any) { m["family"] = "llama" }) }, []string{"sparse.json", `family "llama"`, `"gpt2"`}},
		{"unknown router", func(t *testing.T, dir string) { editManifest(t, dir, func(m map[string]any) { m["router"] = "moe" }) }, []string{`router kind "moe"`}},
		{"group size not dividing F", func(t *testing.T, dir string) { editManifest(t, dir, func(m map[string]any) { m["group_size"] = 5 }) }, []string{"group_size 5 does not divide the FFN width 32"}},
		{"layer count", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["layers"] = m["layers"].([]any)[:2] })
		}, []string{"2 layers, the model has 3"}},
		{"head out of range", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { layer(m, 0)["heads"] = []int{0, 2, 4} })
		}, []string{"layer 0", "heads lists 4, outside [0, 4)"}},
		{"unsorted groups", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { layer(m, 0)["groups"] = []int{3, 1} })
		}, []string{"layer 0", "groups [3 1] are not in ascending order"}},
		{"duplicate head", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { layer(m, 0)["heads"] = []int{0, 2, 2} })
		}, []string{"layer 0", "heads lists 2 twice"}},
		{"dense not kept", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { layer(m, 0)["heads_dense"] = []int{1} })
		}, []string{"layer 0", "heads_dense lists 1, which heads does not keep"}},
		{"tau outside (0,1)", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { layer(m, 2)["tau"] = 1.0 })
		}, []string{"layer 2", "tau 1 is outside (0, 1)"}},
		{"static with routed units", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["router"] = "static" })
		}, []string{"layer 0", "static router"}},
		{"bad content_hash", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["content_hash"] = "md5:00" })
		}, []string{"content_hash", "md5:00"}},
		{"truncated weights", func(t *testing.T, dir string) {
			p := filepath.Join(dir, modelWeightsFile)
			b, _ := os.ReadFile(p)
			writeFile(t, p, b[:len(b)-10])
		}, []string{"model.safetensors", "truncated"}},
		{"flipped byte", func(t *testing.T, dir string) {
			p := filepath.Join(dir, modelWeightsFile)
			b, _ := os.ReadFile(p)
			b[len(b)-3] ^= 0x01 // inside the last tensor's data: the file still parses
			writeFile(t, p, b)
		}, []string{"model.safetensors", "content hash", "corrupt"}},
		{"manifest keeps a head the weights lack", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { layer(m, 0)["heads"] = []int{0, 1, 2, 3} })
		}, []string{"model.safetensors", `"router.layers.0.head.bias" has shape [3]`, "need [4]"}},
		{"wrong shape", func(t *testing.T, dir string) {
			rewriteSparseWeights(t, dir, func(ts map[string]*safetensors.Tensor) {
				x := ts["transformer.h.0.mlp.c_fc.bias"]
				x.Shape, x.Data = []int{24}, make([]float32, 24)
			})
		}, []string{"model.safetensors", `"transformer.h.0.mlp.c_fc.bias" has shape [24]`, "need [16]"}},
		{"missing tensor", func(t *testing.T, dir string) {
			rewriteSparseWeights(t, dir, func(ts map[string]*safetensors.Tensor) { delete(ts, "router.layers.0.ffn.weight") })
		}, []string{"model.safetensors", `missing tensor "router.layers.0.ffn.weight"`}},
		{"extra tensor", func(t *testing.T, dir string) {
			rewriteSparseWeights(t, dir, func(ts map[string]*safetensors.Tensor) {
				ts["router.layers.1.head.weight"] = &safetensors.Tensor{Shape: []int{16, 0}, Data: []float32{}}
			})
		}, []string{"model.safetensors", `unexpected tensor "router.layers.1.head.weight"`}},
		{"NaN weight", func(t *testing.T, dir string) {
			rewriteSparseWeights(t, dir, func(ts map[string]*safetensors.Tensor) {
				ts["transformer.h.2.attn.c_proj.weight"].Data[7] = float32(math.NaN())
			})
		}, []string{"model.safetensors", `"transformer.h.2.attn.c_proj.weight": element 7 is NaN`}},
		{"Inf router weight", func(t *testing.T, dir string) {
			rewriteSparseWeights(t, dir, func(ts map[string]*safetensors.Tensor) {
				ts["router.layers.0.head.bias"].Data[1] = float32(math.Inf(-1))
			})
		}, []string{`"router.layers.0.head.bias": element 1 is -Inf`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, _ := writeTiny(t, "gpt2", false)
			tc.break_(t, dir)
			_, err := ReadSparse(dir)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
		})
	}
}

// TestReadSparseIgnoresUnknownKeys: within a version, readers skip keys
// they do not know, so a writer may add optional fields.
func TestReadSparseIgnoresUnknownKeys(t *testing.T) {
	dir, _ := writeTiny(t, "llama-gqa", false)
	editManifest(t, dir, func(m map[string]any) {
		m["notes"] = map[string]any{"by": "a later writer"}
		layer(m, 0)["entropy"] = 0.3
	})
	if _, err := ReadSparse(dir); err != nil {
		t.Fatal(err)
	}
}

func TestSparseShapesRejectsBadManifests(t *testing.T) {
	m := tinySparseModel(t, "llama-gqa")
	good := tinyManifest("llama", false)
	shapes, err := SparseShapes(m.Config, &good)
	if err != nil {
		t.Fatal(err)
	}
	// GQA: the shared key/value heads stay whole, queries keep 3 of 4 heads.
	for name, want := range map[string][]int{
		"model.layers.0.self_attn.q_proj.weight": {12, 16},
		"model.layers.0.self_attn.k_proj.weight": {8, 16},
		"model.layers.0.self_attn.o_proj.weight": {16, 12},
		"model.layers.1.self_attn.q_proj.weight": {0, 16},
		"model.layers.2.mlp.down_proj.weight":    {16, 0},
		"router.layers.0.ffn.weight":             {16, 2},
	} {
		if !slices.Equal(shapes[name], want) {
			t.Errorf("%s: shape %v, want %v", name, shapes[name], want)
		}
	}
	if _, ok := shapes["router.layers.2.head.weight"]; ok {
		t.Error("layer 2's heads are all dense but it has a head router")
	}
	bad := good
	bad.Layers = append([]SparseLayer(nil), good.Layers...)
	bad.Layers[1].GroupsDense = []int{0, 1, 2, 3, 4}
	if _, err := SparseShapes(m.Config, &bad); err == nil || !strings.Contains(err.Error(), "groups_dense lists 4, outside [0, 4)") {
		t.Errorf("dense group out of range: %v", err)
	}
	bad.Layers[1].GroupsDense = nil
	bad.Shift = math.Inf(1)
	if _, err := SparseShapes(m.Config, &bad); err == nil || !strings.Contains(err.Error(), "shift") {
		t.Errorf("infinite shift: %v", err)
	}
}

// FuzzReadSparse feeds arbitrary sparse.json and model.safetensors bytes
// to ReadSparse beside a valid config.json: it must return an error or a
// checkpoint, never panic, and a checkpoint it returns must pass the
// writer's checks.
func FuzzReadSparse(f *testing.F) {
	dir, _ := writeTiny(f, "gpt2", false)
	manifest, err := os.ReadFile(filepath.Join(dir, SparseManifestFile))
	if err != nil {
		f.Fatal(err)
	}
	weights, err := os.ReadFile(filepath.Join(dir, modelWeightsFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(manifest, weights)
	f.Add([]byte(`{}`), weights)
	f.Add([]byte(`{"format":"sparsetune-sparse","version":1}`), weights)
	f.Add([]byte(`{"format":"sparsetune-sparse","version":2}`), weights)
	f.Add([]byte(strings.Replace(string(manifest), `"group_size": 8`, `"group_size": 0`, 1)), weights)
	f.Add([]byte(strings.Replace(string(manifest), `"heads": [`, `"heads": [-1, `, 1)), weights)
	f.Add([]byte(strings.Replace(string(manifest), `"layers": [`, `"layers": [null, `, 1)), weights)
	f.Add(manifest, weights[:len(weights)/2])
	f.Add(manifest, []byte{})
	f.Fuzz(func(t *testing.T, manifest, weights []byte) {
		os.WriteFile(filepath.Join(dir, SparseManifestFile), manifest, 0o644)
		os.WriteFile(filepath.Join(dir, modelWeightsFile), weights, 0o644)
		s, err := ReadSparse(dir)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			return
		}
		if err := checkSparse(s); err != nil {
			t.Errorf("ReadSparse accepted a checkpoint the writer refuses: %v", err)
		}
	})
}
