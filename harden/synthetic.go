package harden

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
)

// SyntheticConfig describes a random model for benchmarking the engine
// without a training run (bench infer --synthetic).
type SyntheticConfig struct {
	Family    string  // gpt2, llama, mistral, qwen2 or qwen3
	Layers    int     // 8
	DModel    int     // 512
	Heads     int     // 8
	KVHeads   int     // key/value heads (llama layout); 0: Heads
	HeadDim   int     // head_dim (llama layout); 0: the family's default (d/heads; 128 for qwen3)
	FFN       int     // 2048
	Vocab     int     // 4096, the size of the BPE vocabularies sparsetune trains
	GroupSize int     // 32
	Target    float64 // compute target the routers are calibrated to, in (0, 1]
	// CalibSeqs random sequences of CalibLen tokens calibrate the
	// threshold (4 × 128); a large model calibrates faster on fewer.
	CalibSeqs, CalibLen int
	Seed                uint64
}

func (c *SyntheticConfig) defaults() {
	set := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Family == "" {
		c.Family = "gpt2"
	}
	set(&c.Layers, 8)
	set(&c.DModel, 512)
	set(&c.Heads, 8)
	set(&c.FFN, 2048)
	set(&c.Vocab, 4096)
	set(&c.GroupSize, 32)
	set(&c.CalibSeqs, 4)
	set(&c.CalibLen, 128)
	if c.Target == 0 {
		c.Target = 0.5
	}
}

// SyntheticModelConfig is the model Synthetic builds: c's sizes written as
// the family's config.json and read back by nn.ParseConfig, so that the
// family's defaults and switches (Qwen3's q/k norms and head_dim, Qwen2's
// q/k/v biases, Mistral's sliding window) are the ones a loaded model
// gets. Its errors name config.json keys.
func SyntheticModelConfig(c SyntheticConfig) (*nn.Config, error) {
	c.defaults()
	hf := map[string]any{"model_type": c.Family, "vocab_size": c.Vocab}
	const maxPos = 1024
	switch nn.Family(c.Family) {
	case nn.GPT2:
		if c.KVHeads != 0 || c.HeadDim != 0 {
			return nil, fmt.Errorf("gpt2 has neither key/value heads nor head_dim (the llama layout's)")
		}
		hf["architectures"] = []string{"GPT2LMHeadModel"}
		hf["n_embd"], hf["n_layer"], hf["n_head"], hf["n_inner"], hf["n_positions"] = c.DModel, c.Layers, c.Heads, c.FFN, maxPos
	case nn.LLaMA, nn.Mistral, nn.Qwen2, nn.Qwen3:
		kvh := c.KVHeads
		if kvh == 0 {
			kvh = c.Heads
		}
		name := map[nn.Family]string{nn.LLaMA: "Llama", nn.Mistral: "Mistral", nn.Qwen2: "Qwen2", nn.Qwen3: "Qwen3"}[nn.Family(c.Family)]
		hf["architectures"] = []string{name + "ForCausalLM"}
		hf["hidden_size"], hf["num_hidden_layers"], hf["num_attention_heads"] = c.DModel, c.Layers, c.Heads
		hf["num_key_value_heads"], hf["intermediate_size"], hf["max_position_embeddings"] = kvh, c.FFN, maxPos
		if c.HeadDim != 0 {
			hf["head_dim"] = c.HeadDim
		}
	default:
		return nil, fmt.Errorf("synthetic models are gpt2, llama, mistral, qwen2 or qwen3, not %q", c.Family)
	}
	b, err := json.Marshal(hf)
	if err != nil {
		return nil, err
	}
	mc, err := nn.ParseConfig(b)
	if err != nil {
		return nil, err
	}
	if c.GroupSize <= 0 || mc.F%c.GroupSize != 0 {
		return nil, fmt.Errorf("the group size %d does not divide the FFN width %d", c.GroupSize, mc.F)
	}
	return mc, nil
}

// Synthetic builds a random model (SyntheticModelConfig) with random
// contextual sigmoid routers over every head and group, the threshold
// calibrated (one global τ, CalibrateTau) so that the engine's measured
// compute on random token sequences is the target.
func Synthetic(c SyntheticConfig) (*infer.Engine, error) {
	c.defaults()
	if !(c.Target > 0 && c.Target <= 1) {
		return nil, fmt.Errorf("target must be in (0, 1], got %g", c.Target)
	}
	mc, err := SyntheticModelConfig(c)
	if err != nil {
		return nil, err
	}
	m := &nn.Model{Config: mc, Params: nn.InitParams(mc, c.Seed, tensor.Float32)}
	rc := router.DefaultConfig()
	rc.GroupSize = c.GroupSize
	set, err := router.New(rc, mc, c.Seed, tensor.Float32)
	if err != nil {
		return nil, err
	}
	randomize(set.Params(), c.Seed)
	man := checkpoints.SparseManifest{Router: string(rc.Kind), GroupSize: c.GroupSize, Target: c.Target,
		Calibration: checkpoints.SparseCalib{Source: "random tokens", Sequences: c.CalibSeqs, SeqLen: c.CalibLen}}
	for l := 0; l < mc.L; l++ {
		ml := checkpoints.SparseLayer{Tau: 0.5}
		for h := 0; h < mc.H; h++ {
			ml.Heads = append(ml.Heads, h)
		}
		for g := 0; g < mc.F/c.GroupSize; g++ {
			ml.Groups = append(ml.Groups, g)
		}
		man.Layers = append(man.Layers, ml)
	}
	sp, err := Prune(m, set.Params(), man)
	if err != nil {
		return nil, err
	}
	e, err := infer.New(sp)
	if err != nil {
		return nil, err
	}
	calib := infer.RandomTokens(mc.Vocab, c.CalibSeqs, c.CalibLen, c.Seed+1)
	compute, err := CalibrateTau(e, calib, c.Target, 0)
	if err != nil {
		return nil, err
	}
	e.Manifest.Compute = compute
	e.Manifest.Calibration.Tokens = c.CalibSeqs * c.CalibLen
	e.Source = sp
	e.Source.Manifest = e.Manifest
	return e, nil
}

// randomize gives router parameters standard normal weights (the rank-2
// ones) and zero biases, from the PCG stream (seed, 99): routers that
// open a varied share of the units on any tokens.
func randomize(ps []*nn.Param, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	for _, p := range ps {
		d := p.Value.Data().([]float32)
		for i := range d {
			if len(p.Shape) == 2 {
				d[i] = float32(rng.NormFloat64())
			} else {
				d[i] = 0
			}
		}
	}
}
