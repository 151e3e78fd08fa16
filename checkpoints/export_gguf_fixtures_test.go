package checkpoints

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/nn"
)

// Tiny decoders of every family GGUF export writes. qwen3's head_dim 8
// makes H·S = 32 ≠ D; qwen2 has q/k/v biases; llama-bias has o and MLP
// biases too.
var ggufConfigs = map[string]string{
	"llama":      `{"model_type":"llama","vocab_size":300,"hidden_size":16,"num_hidden_layers":3,"num_attention_heads":4,"intermediate_size":32,"max_position_embeddings":16,"rope_theta":500}`,
	"llama-gqa":  `{"model_type":"llama","vocab_size":300,"hidden_size":16,"num_hidden_layers":3,"num_attention_heads":4,"num_key_value_heads":2,"intermediate_size":32,"max_position_embeddings":16,"tie_word_embeddings":true}`,
	"llama-bias": `{"model_type":"llama","vocab_size":300,"hidden_size":16,"num_hidden_layers":3,"num_attention_heads":4,"intermediate_size":32,"max_position_embeddings":16,"attention_bias":true,"mlp_bias":true,"rope_scaling":{"rope_type":"llama3","factor":8,"low_freq_factor":1,"high_freq_factor":4,"original_max_position_embeddings":8}}`,
	"mistral":    `{"model_type":"mistral","vocab_size":300,"hidden_size":16,"num_hidden_layers":3,"num_attention_heads":4,"num_key_value_heads":2,"intermediate_size":32,"max_position_embeddings":16,"sliding_window":null}`,
	"qwen2":      `{"model_type":"qwen2","vocab_size":300,"hidden_size":16,"num_hidden_layers":3,"num_attention_heads":4,"intermediate_size":32,"max_position_embeddings":16,"tie_word_embeddings":true}`,
	"qwen3-mha":  `{"model_type":"qwen3","vocab_size":300,"hidden_size":16,"num_hidden_layers":3,"num_attention_heads":4,"head_dim":8,"intermediate_size":32,"max_position_embeddings":16}`,
	"qwen3":      `{"model_type":"qwen3","vocab_size":300,"hidden_size":16,"num_hidden_layers":3,"num_attention_heads":4,"num_key_value_heads":2,"head_dim":8,"intermediate_size":32,"max_position_embeddings":16,"rope_scaling":{"rope_type":"linear","factor":2}}`,
	"gpt2":       `{"model_type":"gpt2","vocab_size":300,"n_embd":16,"n_layer":3,"n_head":4,"n_inner":32,"n_positions":16}`,
}

// ggufManifest keeps different units in each layer, so that heads (where
// they close up) and groups both need padding: 3, 0 and 2 heads; 2, 3 and
// 0 groups of 8.
func ggufManifest(family string) SparseManifest {
	m := SparseManifest{Family: family, Router: "static", GroupSize: 8, Layers: []SparseLayer{
		{Tau: 0.5, Heads: []int{0, 2, 3}, Groups: []int{1, 3}},
		{Tau: 0.5, Heads: []int{}, Groups: []int{0, 2, 3}},
		{Tau: 0.5, Heads: []int{1, 3}, Groups: []int{}},
	}}
	for i := range m.Layers {
		m.Layers[i].HeadsDense, m.Layers[i].GroupsDense = m.Layers[i].Heads, m.Layers[i].Groups
	}
	return m
}

// ggufSparse is a random tiny model of config name pruned to ggufManifest.
func ggufSparse(t testing.TB, name string) *Sparse {
	t.Helper()
	c, err := nn.ParseConfig([]byte(ggufConfigs[name]))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	params := nn.InitParams(c, 3, tensor.Float32)
	rng := rand.New(rand.NewPCG(1, 9))
	s := &Sparse{Config: c, Manifest: ggufManifest(string(c.Family)), Tensors: map[string]*SparseTensor{}}
	rules := PruneRules(c, s.Manifest.GroupSize)
	for _, p := range params.List {
		st := &SparseTensor{Shape: p.Shape, Data: append([]float32(nil), p.Value.Data().([]float32)...)}
		for i := range st.Data {
			st.Data[i] += float32(0.3 * rng.NormFloat64())
		}
		if r, ok := rules[p.Name]; ok {
			st = r.Cut(st, r.Kept(&s.Manifest))
		}
		s.Tensors[p.Name] = st
	}
	if err := checkSparse(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestGGUFWriteFixtures writes the tiny pruned checkpoints of ggufConfigs
// (ggufManifest: heads and groups removed unevenly, so the export pads) as
// sparse checkpoints under $SPARSETUNE_GGUF_FIXTURES/NAME, for
// scripts/llamacpp_check.sh to export and run in llama.cpp. Skipped when
// the variable is unset.
func TestGGUFWriteFixtures(t *testing.T) {
	dir := os.Getenv("SPARSETUNE_GGUF_FIXTURES")
	if dir == "" {
		t.Skip("SPARSETUNE_GGUF_FIXTURES is not set (scripts/llamacpp_check.sh sets it)")
	}
	for name := range ggufConfigs {
		if err := WriteSparse(filepath.Join(dir, name), ggufSparse(t, name), "", nil); err != nil {
			t.Fatal(err)
		}
	}
}
