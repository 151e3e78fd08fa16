package harden

import (
	"fmt"
	"math"
	"testing"

	"github.com/sparsetune/sparsetune/nn"
)

// tinyQwen3 is a synthetic Qwen3 small enough for a test: grouped-query
// attention and a head_dim (32) other than d/heads (16).
var tinyQwen3 = SyntheticConfig{Family: "qwen3", Layers: 2, DModel: 64, Heads: 4, KVHeads: 2, HeadDim: 32, FFN: 128,
	Vocab: 300, GroupSize: 16, Target: 0.5, CalibSeqs: 2, CalibLen: 16, Seed: 1}

// The synthetic model of each family is the one a config.json of those
// sizes loads as: the family's switches and defaults come from
// nn.ParseConfig.
func TestSyntheticModelConfigFamilies(t *testing.T) {
	base := SyntheticConfig{Layers: 2, DModel: 64, Heads: 4, FFN: 128, Vocab: 300, GroupSize: 16}
	for _, tc := range []struct {
		family string
		kvh    int
		check  func(c *nn.Config) bool
		want   string
	}{
		{"gpt2", 0, func(c *nn.Config) bool { return c.Tied && c.S() == 16 && c.KVH == 4 && !c.QKNorm }, "tied, head size 16"},
		{"llama", 2, func(c *nn.Config) bool { return !c.Tied && c.S() == 16 && c.KVH == 2 && !c.AttnBias }, "untied, 2 kv heads, no biases"},
		{"mistral", 2, func(c *nn.Config) bool { return c.Window == 4096 && c.KVH == 2 }, "sliding window 4096"},
		{"qwen2", 0, func(c *nn.Config) bool { return c.AttnBias && !c.OBias && !c.QKNorm }, "q/k/v biases"},
		{"qwen3", 2, func(c *nn.Config) bool { return c.QKNorm && c.S() == 128 && !c.AttnBias }, "q/k norms, head_dim 128 by default"},
	} {
		sc := base
		sc.Family, sc.KVHeads = tc.family, tc.kvh
		c, err := SyntheticModelConfig(sc)
		if err != nil {
			t.Fatalf("%s: %v", tc.family, err)
		}
		if string(c.Family) != tc.family || c.Task != nn.CausalLM || c.D != 64 || c.L != 2 || c.F != 128 || !tc.check(c) {
			t.Errorf("%s: got %+v, want %s", tc.family, *c, tc.want)
		}
	}
	for _, sc := range []SyntheticConfig{
		{Family: "t5"},
		{Family: "gpt2", KVHeads: 2},
		{Family: "llama", Heads: 8, KVHeads: 3},
		{Family: "qwen3", HeadDim: 7},
		{Family: "llama", FFN: 100, GroupSize: 32},
	} {
		if _, err := SyntheticModelConfig(sc); err == nil {
			t.Errorf("%+v: no error", sc)
		}
	}
}

// A tiny synthetic Qwen3 loads its q/k norms and head_dim, and its routers
// are calibrated near the target (package bench times it).
func TestSyntheticQwen3(t *testing.T) {
	e, err := Synthetic(tinyQwen3)
	if err != nil {
		t.Fatal(err)
	}
	c := e.Config
	if !c.QKNorm || c.S() != 32 || c.KVH != 2 || e.S != 32 {
		t.Fatalf("config: q/k norm %v, head_dim %d, kv heads %d; want true, 32, 2", c.QKNorm, c.S(), c.KVH)
	}
	for l := range c.L {
		n := func(s string) int {
			return len(e.Source.Tensors[fmt.Sprintf("model.layers.%d.self_attn.%s.weight", l, s)].Data)
		}
		if n("q_norm") != 32 || n("k_norm") != 32 || n("q_proj") != 4*32*64 || n("k_proj") != 2*32*64 {
			t.Fatalf("layer %d: q_norm %d, k_norm %d, q %d, k %d", l, n("q_norm"), n("k_norm"), n("q_proj"), n("k_proj"))
		}
	}
	if math.Abs(e.Manifest.Compute-0.5) > 0.05 {
		t.Errorf("calibrated compute %.4f, want 0.5", e.Manifest.Compute)
	}
}
