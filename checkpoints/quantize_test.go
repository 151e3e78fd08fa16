package checkpoints

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/internal/safetensors"
	"github.com/sparsetune/sparsetune/internal/vec"
)

// writeTinyDType is writeTiny with the tensors quantised to d first; it
// returns the directory and the quantised Sparse.
func writeTinyDType(t testing.TB, name string, d DType) (string, *Sparse) {
	t.Helper()
	m := tinySparseModel(t, name)
	s := pruneForTest(t, m, tinyManifest(string(m.Config.Family), false))
	if err := Quantize(s, d); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "sparse")
	if err := WriteSparse(dir, s, "", nil); err != nil {
		t.Fatal(err)
	}
	return dir, s
}

// TestQuantizeRoundTrip: a quantised checkpoint of every family reads back
// with the same stored forms and values, version 2 and its dtype; the
// weight matrices are within the dtype's rounding of the float32 ones and
// every other tensor is unchanged.
func TestQuantizeRoundTrip(t *testing.T) {
	for _, model := range []string{"gpt2", "gpt2-cls", "bert", "roberta", "llama", "llama-gqa"} {
		for _, d := range []DType{BF16, Int8} {
			t.Run(model+"/"+string(d), func(t *testing.T) {
				m := tinySparseModel(t, model)
				orig := pruneForTest(t, m, tinyManifest(string(m.Config.Family), false))
				dir, want := writeTinyDType(t, model, d)
				got, err := ReadSparse(dir)
				if err != nil {
					t.Fatal(err)
				}
				if got.Manifest.Version != 2 || got.Manifest.DType != d {
					t.Errorf("manifest version %d dtype %q, want 2 and %q", got.Manifest.Version, got.Manifest.DType, d)
				}
				quantised := 0
				for name, w := range want.Tensors {
					g, o := got.Tensors[name], orig.Tensors[name]
					if !reflect.DeepEqual(g, w) {
						t.Fatalf("tensor %s read back differs: dtype %q, want %q", name, g.DType, w.DType)
					}
					if !Quantizable(got.Config, name, g.Shape) {
						if g.DType.orF32() != F32 || !slices.Equal(g.Data, o.Data) {
							t.Fatalf("tensor %s is not a weight matrix but changed (dtype %q)", name, g.DType)
						}
						continue
					}
					quantised++
					if g.DType != d {
						t.Fatalf("tensor %s stored as %q, want %q", name, g.DType, d)
					}
					checkRounding(t, name, g, o.Data)
				}
				if quantised == 0 {
					t.Fatal("no tensor was quantised")
				}
			})
		}
	}
}

// checkRounding checks that t's values are within its dtype's rounding of
// want: half a unit in the 8th bit for BF16, half the block's scale for
// INT8.
func checkRounding(t *testing.T, name string, st *SparseTensor, want []float32) {
	t.Helper()
	_, cols := rowsCols(st.Shape)
	for i, v := range want {
		tol := math.Abs(float64(v)) / 256
		if st.DType == Int8 {
			tol = float64(st.Scales[(i/cols)*vec.Q8Blocks(cols)+(i%cols)/vec.Q8Block]) / 2 * (1 + 1e-5)
		}
		if d := math.Abs(float64(st.Data[i] - v)); d > tol {
			t.Fatalf("tensor %s[%d] = %v, was %v: off by %g > %g", name, i, st.Data[i], v, d, tol)
		}
	}
}

// TestReadSparseVersion1: a checkpoint written before dtypes existed
// (testdata/sparse-v1-gpt2, written by WriteSparse of version 1 from the
// tiny gpt2 model and manifest) still reads, as float32, with the same
// values the tiny model prunes to today.
func TestReadSparseVersion1(t *testing.T) {
	got, err := ReadSparse(filepath.Join("testdata", "sparse-v1-gpt2"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Manifest.Version != 1 || got.Manifest.DType != "" {
		t.Errorf("version %d dtype %q, want 1 and none", got.Manifest.Version, got.Manifest.DType)
	}
	m := tinySparseModel(t, "gpt2")
	want := pruneForTest(t, m, tinyManifest("gpt2", false))
	if len(got.Tensors) != len(want.Tensors) {
		t.Fatalf("%d tensors, want %d", len(got.Tensors), len(want.Tensors))
	}
	for name, w := range want.Tensors {
		if g := got.Tensors[name]; g == nil || g.DType != "" || !slices.Equal(g.Data, w.Data) {
			t.Fatalf("tensor %s differs from the tiny model's", name)
		}
	}
	// Written again as float32 it stays version 1.
	dir := filepath.Join(t.TempDir(), "again")
	if err := WriteSparse(dir, got, "", nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, SparseManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"version": 1,`) || strings.Contains(string(b), `"dtype"`) {
		t.Errorf("a float32 checkpoint is written as\n%s\nwant version 1 and no dtype", b)
	}
}

// rewriteLowp is rewriteSparseWeights for files with I8 and BF16 tensors:
// each tensor keeps its stored dtype unless edit changes it.
func rewriteLowp(t *testing.T, dir string, edit func(ts map[string]*safetensors.Tensor)) {
	t.Helper()
	p := filepath.Join(dir, modelWeightsFile)
	f, err := safetensors.ReadOptions{Ints: true}.Read(p)
	if err != nil {
		t.Fatal(err)
	}
	edit(f.Tensors)
	var ts []*safetensors.Tensor
	dtypes := map[string]string{}
	for _, n := range sortedKeys(f.Tensors) {
		x := f.Tensors[n]
		x.Name = n
		if !x.IsInt() && x.DType != "" {
			dtypes[n] = x.DType
		}
		ts = append(ts, x)
	}
	if err := safetensors.Write(p, ts, safetensors.WriteOptions{DTypes: dtypes}); err != nil {
		t.Fatal(err)
	}
	h, err := fileHash(p)
	if err != nil {
		t.Fatal(err)
	}
	editManifest(t, dir, func(m map[string]any) { m["content_hash"] = h })
}

func TestReadSparseRejectsLowp(t *testing.T) {
	const w = "transformer.h.0.mlp.c_fc.weight" // (16, 16): scales (16, 1)
	cases := []struct {
		name   string
		dtype  DType
		break_ func(t *testing.T, dir string)
		want   []string
	}{
		{"unknown dtype", Int8, func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["dtype"] = "fp8" })
		}, []string{"sparse.json", `dtype "fp8" is not f32, bf16 or int8`}},
		{"dtype in version 1", BF16, func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["version"] = 1 })
		}, []string{"sparse.json", `dtype "bf16" needs version 2`}},
		{"scales missing", Int8, func(t *testing.T, dir string) {
			rewriteLowp(t, dir, func(ts map[string]*safetensors.Tensor) { delete(ts, w+ScaleSuffix) })
		}, []string{"model.safetensors", `"` + w + `" is I8 but its scales "` + w + `_scale" are missing`}},
		{"scales of the wrong shape", Int8, func(t *testing.T, dir string) {
			rewriteLowp(t, dir, func(ts map[string]*safetensors.Tensor) {
				ts[w+ScaleSuffix].Shape = []int{1, 16}
			})
		}, []string{"model.safetensors", `"` + w + `_scale" has shape [1 16]`, "are [16 1]"}},
		{"NaN scale", Int8, func(t *testing.T, dir string) {
			rewriteLowp(t, dir, func(ts map[string]*safetensors.Tensor) { ts[w+ScaleSuffix].Data[3] = float32(math.NaN()) })
		}, []string{"model.safetensors", w + `_scale": scale 3 is NaN`}},
		{"Inf scale", Int8, func(t *testing.T, dir string) {
			rewriteLowp(t, dir, func(ts map[string]*safetensors.Tensor) { ts[w+ScaleSuffix].Data[0] = float32(math.Inf(1)) })
		}, []string{w + `_scale": scale 0 is +Inf`}},
		{"negative scale", Int8, func(t *testing.T, dir string) {
			rewriteLowp(t, dir, func(ts map[string]*safetensors.Tensor) { ts[w+ScaleSuffix].Data[0] = -1 })
		}, []string{w + `_scale": scale 0 is -1`}},
		{"BF16 scales", Int8, func(t *testing.T, dir string) {
			rewriteLowp(t, dir, func(ts map[string]*safetensors.Tensor) { ts[w+ScaleSuffix].DType = safetensors.BF16 })
		}, []string{`"` + w + `_scale" is stored as BF16; scales are F32`}},
		{"float weight in an int8 checkpoint", Int8, func(t *testing.T, dir string) {
			rewriteLowp(t, dir, func(ts map[string]*safetensors.Tensor) {
				ts[w] = &safetensors.Tensor{DType: safetensors.F32, Shape: []int{16, 16}, Data: make([]float32, 256)}
				delete(ts, w+ScaleSuffix)
			})
		}, []string{`"` + w + `" is stored as F32, the manifest's dtype int8 needs I8`}},
		{"I8 router", Int8, func(t *testing.T, dir string) {
			rewriteLowp(t, dir, func(ts map[string]*safetensors.Tensor) {
				ts["router.layers.0.head.bias"] = &safetensors.Tensor{DType: safetensors.I8, Shape: []int{3}, Ints: []int64{1, 2, 3}}
			})
		}, []string{`"router.layers.0.head.bias" is stored as I8; only the weight matrices of an int8 checkpoint`}},
		{"F32 weight in a bf16 checkpoint", BF16, func(t *testing.T, dir string) {
			rewriteLowp(t, dir, func(ts map[string]*safetensors.Tensor) { ts[w].DType = safetensors.F32 })
		}, []string{`"` + w + `" is stored as F32, the manifest's dtype bf16 needs BF16`}},
		{"I8 weight in a bf16 checkpoint", BF16, func(t *testing.T, dir string) {
			rewriteLowp(t, dir, func(ts map[string]*safetensors.Tensor) {
				ts[w] = &safetensors.Tensor{DType: safetensors.I8, Shape: []int{16, 16}, Ints: make([]int64, 256)}
			})
		}, []string{`"` + w + `" is stored as I8; only the weight matrices of an int8 checkpoint`}},
		{"I8 weight of the wrong shape", Int8, func(t *testing.T, dir string) {
			rewriteLowp(t, dir, func(ts map[string]*safetensors.Tensor) {
				ts[w].Shape = []int{8, 32}
			})
		}, []string{`"` + w + `" has shape [8 32]`, "need [16 16]"}},
		{"truncated", Int8, func(t *testing.T, dir string) {
			p := filepath.Join(dir, modelWeightsFile)
			b, _ := os.ReadFile(p)
			writeFile(t, p, b[:len(b)-100])
			h, _ := fileHash(p)
			editManifest(t, dir, func(m map[string]any) { m["content_hash"] = h })
		}, []string{"model.safetensors", "truncated"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, _ := writeTinyDType(t, "gpt2", tc.dtype)
			if _, err := ReadSparse(dir); err != nil {
				t.Fatalf("before breaking it: %v", err)
			}
			tc.break_(t, dir)
			_, err := ReadSparse(dir)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
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

// TestWriteSparseChecksDTypes: the writer refuses what the reader would.
func TestWriteSparseChecksDTypes(t *testing.T) {
	m := tinySparseModel(t, "llama")
	s := pruneForTest(t, m, tinyManifest("llama", false))
	if err := Quantize(s, Int8); err != nil {
		t.Fatal(err)
	}
	s.Tensors["model.layers.1.mlp.up_proj.weight"].Scales[0] = float32(math.NaN())
	err := WriteSparse(filepath.Join(t.TempDir(), "x"), s, "", nil)
	if err == nil || !strings.Contains(err.Error(), `"model.layers.1.mlp.up_proj.weight_scale": scale 0 is NaN`) {
		t.Errorf("NaN scale: %v", err)
	}
	s.Tensors["model.layers.1.mlp.up_proj.weight"].Scales[0] = 1
	s.Manifest.DType = BF16
	err = WriteSparse(filepath.Join(t.TempDir(), "x"), s, "", nil)
	if err == nil || !strings.Contains(err.Error(), "is stored as int8, the manifest's dtype bf16 needs bf16") {
		t.Errorf("dtype other than the manifest's: %v", err)
	}
	if err := Quantize(s, "fp4"); err == nil {
		t.Error("Quantize accepted dtype fp4")
	}
}

// FuzzReadSparseLowp feeds arbitrary model.safetensors bytes, with the
// manifest's content hash made to match, to ReadSparse with int8 and bf16
// manifests, so that every check after the hash is reached: it must return
// a one-line error or a checkpoint the writer accepts, never panic.
func FuzzReadSparseLowp(f *testing.F) {
	dirs := map[DType]string{}
	for _, d := range []DType{Int8, BF16} {
		dir, _ := writeTinyDType(f, "gpt2", d)
		dirs[d] = dir
		b, err := os.ReadFile(filepath.Join(dir, modelWeightsFile))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(d == Int8, b)
		f.Add(d == Int8, b[:len(b)-7])
		c := slices.Clone(b)
		c[len(c)-2] = 0xff // the last scale (or weight) becomes NaN-ish
		c[len(c)-1] = 0xff
		f.Add(d == Int8, c)
	}
	f.Fuzz(func(t *testing.T, int8 bool, weights []byte) {
		dir := dirs[BF16]
		if int8 {
			dir = dirs[Int8]
		}
		p := filepath.Join(dir, modelWeightsFile)
		if err := os.WriteFile(p, weights, 0o644); err != nil {
			t.Fatal(err)
		}
		h, err := fileHash(p)
		if err != nil {
			t.Fatal(err)
		}
		mp := filepath.Join(dir, SparseManifestFile)
		mb, err := os.ReadFile(mp)
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(string(mb), `"content_hash": "`) + len(`"content_hash": "`)
		mb = append(append(mb[:i:i], h...), mb[i+len(h):]...)
		if err := os.WriteFile(mp, mb, 0o644); err != nil {
			t.Fatal(err)
		}
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

// TestQuantizeDir: a written float32 checkpoint becomes an int8 one in
// place, its tokenizer file kept, its manifest otherwise the same.
func TestQuantizeDir(t *testing.T) {
	dir, _ := writeTiny(t, "llama-gqa", false)
	before, err := ReadSparse(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := QuantizeDir(dir, Int8); err != nil {
		t.Fatal(err)
	}
	after, err := ReadSparse(dir)
	if err != nil {
		t.Fatal(err)
	}
	if after.Manifest.DType != Int8 || after.Manifest.Version != 2 || after.Manifest.ContentHash == before.Manifest.ContentHash {
		t.Errorf("manifest dtype %q version %d, hash changed %v", after.Manifest.DType, after.Manifest.Version, after.Manifest.ContentHash != before.Manifest.ContentHash)
	}
	if !reflect.DeepEqual(after.Manifest.Layers, before.Manifest.Layers) || after.Manifest.Target != before.Manifest.Target {
		t.Error("the manifest's layers or target changed")
	}
	w := "model.layers.0.mlp.up_proj.weight"
	if after.Tensors[w].DType != Int8 {
		t.Errorf("%s is %q", w, after.Tensors[w].DType)
	}
	checkRounding(t, w, after.Tensors[w], before.Tensors[w].Data)
	if b, err := os.ReadFile(filepath.Join(dir, "tokenizer.json")); err != nil || string(b) != `{"model":{}}` {
		t.Errorf("tokenizer.json: %q, %v", b, err)
	}
	if err := QuantizeDir(dir, "int4"); err == nil || !strings.Contains(err.Error(), `"int4"`) {
		t.Errorf("QuantizeDir int4: %v", err)
	}
}
