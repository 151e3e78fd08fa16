package nn

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/internal/safetensors"
)

// editConfig rewrites dir/config.json through edit.
func editConfig(t *testing.T, dir string, edit func(map[string]any)) {
	t.Helper()
	p := filepath.Join(dir, "config.json")
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

// TestLoadRefusesUnsupportedFeatures: a feature of a published config that
// the model does not implement is one line naming the key and the file.
func TestLoadRefusesUnsupportedFeatures(t *testing.T) {
	cases := []struct {
		fixture string
		edit    func(map[string]any)
		want    string
	}{
		{"llama", func(m map[string]any) { m["rope_scaling"] = map[string]any{"rope_type": "yarn", "factor": 4.0} }, `rope_scaling.rope_type "yarn"`},
		{"llama", func(m map[string]any) { m["rope_scaling"] = map[string]any{"type": "longrope", "factor": 4.0} }, `rope_scaling.rope_type "longrope"`},
		{"llama", func(m map[string]any) { m["rope_scaling"] = map[string]any{"rope_type": "linear"} }, `rope_scaling: missing field "factor"`},
		{"llama3_scaled", func(m map[string]any) { delete(m["rope_scaling"].(map[string]any), "low_freq_factor") }, `"low_freq_factor"`},
		{"llama3_scaled", func(m map[string]any) { m["rope_scaling"].(map[string]any)["high_freq_factor"] = 0.5 }, "low_freq_factor < high_freq_factor"},
		{"llama", func(m map[string]any) { m["rope_scaling"] = "linear" }, "rope_scaling: want an object"},
		{"llama", func(m map[string]any) { m["model_type"] = "gemma" }, `model_type "gemma"`},
		{"qwen2", func(m map[string]any) { m["use_sliding_window"] = true }, "use_sliding_window"},
		{"qwen3", func(m map[string]any) { m["layer_types"] = []any{"full_attention", "sliding_attention"} }, "layer_types[1]"},
		{"mistral", func(m map[string]any) { m["sliding_window"] = "wide" }, `field "sliding_window"`},
		{"qwen3", func(m map[string]any) { m["head_dim"] = 7 }, "even head size"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			dir := copyFixture(t, tc.fixture)
			editConfig(t, dir, tc.edit)
			_, err := Load(dir, LoadOptions{})
			if err == nil {
				t.Fatal("loaded")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, filepath.Join(dir, "config.json")) || !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q: want one line naming %s and %q", msg, filepath.Join(dir, "config.json"), tc.want)
			}
		})
	}
}

// TestLlamaStyleConfigs checks what each family's config.json turns into,
// and that saving writes it back.
func TestLlamaStyleConfigs(t *testing.T) {
	cases := map[string]Config{
		"llama3_scaled": {HeadDim: 12, AttnBias: true, OBias: true, MLPBias: true,
			RoPEScale: RoPEScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OrigMaxPos: 64}},
		"llama_linear": {Tied: true, RoPEScale: RoPEScaling{Type: "linear", Factor: 4}},
		"mistral":      {Window: 16},
		"qwen2":        {Tied: true, AttnBias: true},
		"qwen3":        {HeadDim: 16, QKNorm: true},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := Load(filepath.Join("..", "testdata", "fixtures", name), LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for pass := 0; pass < 2; pass++ {
				c := m.Config
				got := Config{HeadDim: c.HeadDim, AttnBias: c.AttnBias, OBias: c.OBias, MLPBias: c.MLPBias, QKNorm: c.QKNorm, Window: c.Window, RoPEScale: c.RoPEScale, Tied: c.Tied}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("pass %d: got %+v, want %+v", pass, got, want)
				}
				dir := t.TempDir()
				if err := m.Save(dir); err != nil {
					t.Fatal(err)
				}
				if m, err = Load(dir, LoadOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestConfigDefaults: keys a published config.json may leave out take the
// defaults of each family's HF config class.
func TestConfigDefaults(t *testing.T) {
	base := `"vocab_size": 10, "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 4, "intermediate_size": 8, "max_position_embeddings": 64`
	for _, tc := range []struct {
		json     string
		s, win   int
		attnBias bool
	}{
		{`{"model_type": "qwen3", ` + base + `}`, 128, 0, false}, // Qwen3Config.head_dim = 128
		{`{"model_type": "mistral", ` + base + `}`, 8, 4096, false},
		{`{"model_type": "mistral", "sliding_window": null, ` + base + `}`, 8, 0, false},
		{`{"model_type": "qwen2", ` + base + `}`, 8, 0, true},
		{`{"model_type": "llama", "rope_scaling": {"rope_type": "default"}, ` + base + `}`, 8, 0, false},
	} {
		c, err := ParseConfig([]byte(tc.json))
		if err != nil {
			t.Fatalf("%s: %v", tc.json, err)
		}
		if c.S() != tc.s || c.Window != tc.win || c.AttnBias != tc.attnBias || c.RoPEScale.Type != "" {
			t.Errorf("%s: head size %d, window %d, q/k/v bias %v, scaling %q", tc.json, c.S(), c.Window, c.AttnBias, c.RoPEScale.Type)
		}
	}
}

// TestBuildRefusesInexactLengths: past a sliding window, or past
// max_position_embeddings under dynamic scaling, we would not compute what
// HF computes, so building such a graph is an error.
func TestBuildRefusesInexactLengths(t *testing.T) {
	m, err := Load(filepath.Join("..", "testdata", "fixtures", "mistral"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Build(BuildOptions{B: 1, T: 16}); err != nil {
		t.Fatalf("T = sliding_window: %v", err)
	}
	if _, err := m.Build(BuildOptions{B: 1, T: 17}); err == nil || !strings.Contains(err.Error(), "sliding_window 16") {
		t.Fatalf("T past the window: %v", err)
	}
	m.Config.Window = 0
	if _, err := m.Build(BuildOptions{B: 1, T: 40}); err != nil {
		t.Fatalf("no window, RoPE past max positions: %v", err)
	}
	m.Config.RoPEScale = RoPEScaling{Type: "dynamic", Factor: 2}
	if _, err := m.Build(BuildOptions{B: 1, T: 32}); err != nil {
		t.Fatalf("dynamic within max positions: %v", err)
	}
	if _, err := m.Build(BuildOptions{B: 1, T: 33}); err == nil || !strings.Contains(err.Error(), "dynamic") {
		t.Fatalf("dynamic past max positions: %v", err)
	}
}

// TestGPT2HubLayout: the bare GPT2Model key layout loads to the same
// parameters as the prefixed one, its buffers are skipped, an unknown
// tensor is still refused and saving writes the prefixed layout.
func TestGPT2HubLayout(t *testing.T) {
	dir := copyFixture(t, "gpt2_hub")
	m, err := Load(dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Params.Get("transformer.h.1.attn.c_attn.weight") == nil {
		t.Fatal("no transformer.h.1.attn.c_attn.weight")
	}
	out := t.TempDir()
	if err := m.Save(out); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Read(filepath.Join(out, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Tensors["transformer.wte.weight"]; !ok {
		t.Fatalf("saved names %v, want the transformer. prefix", f.Names[:3])
	}
	// A tied lm_head in the file is accepted; an unknown tensor is not.
	rewriteWeights(t, dir, func(ts []*safetensors.Tensor) []*safetensors.Tensor {
		for _, x := range ts {
			if x.Name == "wte.weight" {
				ts = append(ts, &safetensors.Tensor{Name: "lm_head.weight", Shape: x.Shape, Data: x.Data})
			}
		}
		return ts
	})
	if _, err := Load(dir, LoadOptions{}); err != nil {
		t.Fatalf("tied lm_head in the file: %v", err)
	}
	rewriteWeights(t, dir, func(ts []*safetensors.Tensor) []*safetensors.Tensor {
		var out []*safetensors.Tensor
		for _, x := range ts {
			if x.Name != "h.1.mlp.c_fc.bias" {
				out = append(out, x)
			}
		}
		return append(out, &safetensors.Tensor{Name: "h.9.foo", Shape: []int{1}, Data: []float32{1}})
	})
	if _, err := Load(dir, LoadOptions{}); err == nil || !strings.Contains(err.Error(), `missing tensor "h.1.mlp.c_fc.bias"`) {
		t.Fatalf("bare layout missing a tensor: %v", err)
	}
}

// TestEOSList: Llama 3 instruct configs list several stop ids; the first
// is the EOS id and saving keeps the list.
func TestEOSList(t *testing.T) {
	dir := copyFixture(t, "llama3_scaled")
	editConfig(t, dir, func(m map[string]any) { m["eos_token_id"] = []any{128001.0, 128008.0, 128009.0} })
	m, err := Load(dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.EOSID != 128001 {
		t.Fatalf("EOS id %d, want 128001", m.Config.EOSID)
	}
	b, err := m.Config.MarshalHF()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "128009") {
		t.Fatalf("saved config lost the stop-id list: %s", b)
	}
	editConfig(t, dir, func(m map[string]any) { m["eos_token_id"] = []any{"end"} })
	if _, err := Load(dir, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "eos_token_id") {
		t.Fatalf("a list of strings: %v", err)
	}
}
