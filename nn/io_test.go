package nn

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/safetensors"
)

func copyFixture(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", name, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// rewriteWeights loads dir's weights, lets edit change the list, and writes
// them back.
func rewriteWeights(t *testing.T, dir string, edit func([]*safetensors.Tensor) []*safetensors.Tensor) {
	t.Helper()
	f, err := safetensors.Read(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var ts []*safetensors.Tensor
	for _, n := range f.Names {
		ts = append(ts, f.Tensors[n])
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), edit(ts), safetensors.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestLoadRejectsBadModelDirs(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(t *testing.T, dir string)
		want   []string // substrings of the one-line error
	}{
		{"missing config", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "config.json")) }, []string{"no config.json"}},
		{"malformed config", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type": "gpt2",`), 0o644)
		}, []string{"config.json", "malformed JSON"}},
		{"unknown family", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type": "t5"}`), 0o644)
		}, []string{"config.json", `"t5"`}},
		{"wrong field type", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type": "gpt2", "vocab_size": "big", "n_embd": 8, "n_layer": 1, "n_head": 2, "n_positions": 8}`), 0o644)
		}, []string{"config.json", "vocab_size"}},
		{"missing weights", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "model.safetensors")) }, []string{"model.safetensors"}},
		{"missing tensor", func(t *testing.T, dir string) {
			rewriteWeights(t, dir, func(ts []*safetensors.Tensor) []*safetensors.Tensor {
				var out []*safetensors.Tensor
				for _, x := range ts {
					if x.Name != "transformer.h.1.mlp.c_fc.bias" {
						out = append(out, x)
					}
				}
				return out
			})
		}, []string{"model.safetensors", "missing tensor", "transformer.h.1.mlp.c_fc.bias"}},
		{"extra tensor", func(t *testing.T, dir string) {
			rewriteWeights(t, dir, func(ts []*safetensors.Tensor) []*safetensors.Tensor {
				return append(ts, &safetensors.Tensor{Name: "transformer.h.9.foo", Shape: []int{2}, Data: []float32{1, 2}})
			})
		}, []string{"unexpected tensor", "transformer.h.9.foo"}},
		{"wrong shape", func(t *testing.T, dir string) {
			rewriteWeights(t, dir, func(ts []*safetensors.Tensor) []*safetensors.Tensor {
				for _, x := range ts {
					if x.Name == "transformer.ln_f.bias" {
						x.Shape, x.Data = []int{2, 16}, x.Data[:32]
					}
				}
				return ts
			})
		}, []string{"transformer.ln_f.bias", "shape [2 16]", "want [32]"}},
		{"unknown dtype", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model.safetensors")
			b, _ := os.ReadFile(p)
			n := binary.LittleEndian.Uint64(b)
			hdr := strings.Replace(string(b[8:8+n]), `"F32"`, `"Q32"`, 1)
			os.WriteFile(p, append(append(b[:8:8], hdr...), b[8+n:]...), 0o644)
		}, []string{"model.safetensors", "Q32"}},
		{"truncated header", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model.safetensors")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:40], 0o644)
		}, []string{"model.safetensors"}},
		{"truncated data", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model.safetensors")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-100], 0o644)
		}, []string{"model.safetensors"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyFixture(t, "gpt2")
			tc.break_(t, dir)
			_, err := Load(dir, LoadOptions{})
			if err == nil {
				t.Fatal("loaded a broken model directory")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
		})
	}
}

// TestSaveLoadRoundTrip saves a model in HF layout and reloads it exactly.
func TestSaveLoadRoundTrip(t *testing.T) {
	for _, fam := range []Family{GPT2, BERT, RoBERTa, LLaMA} {
		c := tinyConfig(fam)
		m := &Model{Config: c, Params: InitParams(c, 3, tensor.Float32)}
		dir := t.TempDir()
		if err := m.Save(dir); err != nil {
			t.Fatal(err)
		}
		back, err := Load(dir, LoadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", fam, err)
		}
		if back.Config.D != c.D || back.Config.Family != fam || len(back.Params.List) != len(m.Params.List) {
			t.Fatalf("%s: config or parameters changed on the round trip", fam)
		}
		for i, p := range m.Params.List {
			a, b := p.Value.Data().([]float32), back.Params.List[i].Value.Data().([]float32)
			for j := range a {
				if a[j] != b[j] {
					t.Fatalf("%s: %s[%d] changed: %v → %v", fam, p.Name, j, a[j], b[j])
				}
			}
		}
	}
}

// TestLoadShardedAndHalfPrecision loads the fixture from BF16 shards.
func TestLoadShardedAndHalfPrecision(t *testing.T) {
	src, err := Load(filepath.Join("..", "testdata", "fixtures", "llama"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg, _ := src.Config.MarshalHF()
	os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644)
	weightMap := map[string]string{}
	var shards [2][]*safetensors.Tensor
	for i, p := range src.Params.List {
		s := i % 2
		shards[s] = append(shards[s], &safetensors.Tensor{Name: p.Name, Shape: p.Shape, Data: p.Value.Data().([]float32)})
		weightMap[p.Name] = []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[s]
	}
	for s, name := range []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"} {
		if err := safetensors.Write(filepath.Join(dir, name), shards[s], safetensors.WriteOptions{DType: "BF16"}); err != nil {
			t.Fatal(err)
		}
	}
	idx := `{"metadata": {}, "weight_map": {`
	first := true
	for k, v := range weightMap {
		if !first {
			idx += ","
		}
		first = false
		idx += `"` + k + `": "` + v + `"`
	}
	os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(idx+"}}"), 0o644)
	m, err := Load(dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range m.Params.List {
		a, b := p.Value.Data().([]float32), src.Params.List[i].Value.Data().([]float32)
		for j := range a {
			if d := a[j] - b[j]; d > 0.01*abs32(b[j])+1e-30 || -d > 0.01*abs32(b[j])+1e-30 {
				t.Fatalf("%s[%d]: BF16 value %v is not within BF16 rounding of %v", p.Name, j, a[j], b[j])
			}
		}
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
