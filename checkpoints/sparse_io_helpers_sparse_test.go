package checkpoints

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/nn"
)

// Tiny models of every family, written as Hugging Face config.json files so
// that they go through the same parsing a real checkpoint does. Three
// layers so that a manifest can give each a different shape; F = 32 in
// groups of 8.
var tinyConfigs = map[string]string{
	"gpt2":      `{"model_type":"gpt2","architectures":["GPT2LMHeadModel"],"vocab_size":13,"n_embd":16,"n_layer":3,"n_head":4,"n_inner":32,"n_positions":16}`,
	"gpt2-cls":  `{"model_type":"gpt2","architectures":["GPT2ForSequenceClassification"],"vocab_size":13,"n_embd":16,"n_layer":3,"n_head":4,"n_inner":32,"n_positions":16,"id2label":{"0":"no","1":"yes"},"pad_token_id":0}`,
	"bert":      `{"model_type":"bert","architectures":["BertForSequenceClassification"],"vocab_size":13,"hidden_size":16,"num_hidden_layers":3,"num_attention_heads":4,"intermediate_size":32,"max_position_embeddings":16,"type_vocab_size":2,"id2label":{"0":"a","1":"b","2":"c"},"pad_token_id":0}`,
	"roberta":   `{"model_type":"roberta","architectures":["RobertaForSequenceClassification"],"vocab_size":13,"hidden_size":16,"num_hidden_layers":3,"num_attention_heads":4,"intermediate_size":32,"max_position_embeddings":20,"type_vocab_size":1,"id2label":{"0":"a","1":"b"},"pad_token_id":1}`,
	"llama":     `{"model_type":"llama","architectures":["LlamaForCausalLM"],"vocab_size":13,"hidden_size":16,"num_hidden_layers":3,"num_attention_heads":4,"num_key_value_heads":4,"intermediate_size":32,"max_position_embeddings":16}`,
	"llama-gqa": `{"model_type":"llama","architectures":["LlamaForCausalLM"],"vocab_size":13,"hidden_size":16,"num_hidden_layers":3,"num_attention_heads":4,"num_key_value_heads":2,"intermediate_size":32,"max_position_embeddings":16}`,
}

const tinyGroupSize = 8 // F = 32: groups 0..3

// tinyModel returns a random model of the named tiny config, its weights
// lifted well above the initialisation scale so that every unit visibly
// changes the logits.
func tinySparseModel(t testing.TB, name string) *nn.Model {
	t.Helper()
	c, err := nn.ParseConfig([]byte(tinyConfigs[name]))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	params := nn.InitParams(c, 11, tensor.Float32)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, p := range params.List {
		d := p.Value.Data().([]float32)
		for i := range d {
			d[i] += float32(0.3 * rng.NormFloat64())
		}
	}
	return &nn.Model{Config: c, Params: params}
}

// tinyManifest is a manifest for the three-layer tiny models. Layer 0 keeps
// some heads and groups with some routed, layer 1 keeps no head and every
// group, layer 2 every head and no group. With static set every kept unit
// is dense.
func tinyManifest(family string, static bool) SparseManifest {
	m := SparseManifest{
		Family: family, Router: "sigmoid", GroupSize: tinyGroupSize, Shift: 0,
		Layers: []SparseLayer{
			{Tau: 0.5, Heads: []int{0, 2, 3}, HeadsDense: []int{2}, Groups: []int{1, 3}, GroupsDense: []int{}},
			{Tau: 0.4, Heads: []int{}, HeadsDense: []int{}, Groups: []int{0, 1, 2, 3}, GroupsDense: []int{0, 1, 2, 3}},
			{Tau: 0.6, Heads: []int{0, 1, 2, 3}, HeadsDense: []int{0, 1, 2, 3}, Groups: []int{}, GroupsDense: []int{}},
		},
		Target: 0.5, Compute: 0.52,
		Calibration: SparseCalib{Source: "valid.jsonl", Sequences: 4, Tokens: 40, SeqLen: 10, PruneBelow: 0.01, DenseAbove: 0.99},
		TrainConfig: []byte(`{"steps":10}`),
	}
	if static {
		m.Router = "static"
		for i := range m.Layers {
			m.Layers[i].HeadsDense = append([]int{}, m.Layers[i].Heads...)
			m.Layers[i].GroupsDense = append([]int{}, m.Layers[i].Groups...)
		}
	}
	return m
}

// prunedAxes is this test's own statement of sparse.go's pruning rules,
// written independently of PruneRules: for each tensor name suffix of a
// layer, the axis cut, the number of blocks along it, and whether it is cut
// by heads or by groups.
func prunedAxes(c *nn.Config) map[string]struct {
	axis, blocks int
	heads        bool
} {
	type rule = struct {
		axis, blocks int
		heads        bool
	}
	switch c.Family {
	case nn.GPT2:
		return map[string]rule{
			"attn.c_attn.weight": {1, 3, true}, "attn.c_attn.bias": {0, 3, true}, "attn.c_proj.weight": {0, 1, true},
			"mlp.c_fc.weight": {1, 1, false}, "mlp.c_fc.bias": {0, 1, false}, "mlp.c_proj.weight": {0, 1, false},
		}
	case nn.BERT, nn.RoBERTa:
		r := map[string]rule{"attention.output.dense.weight": {1, 1, true},
			"intermediate.dense.weight": {0, 1, false}, "intermediate.dense.bias": {0, 1, false}, "output.dense.weight": {1, 1, false}}
		for _, n := range []string{"query", "key", "value"} {
			r["attention.self."+n+".weight"] = rule{0, 1, true}
			r["attention.self."+n+".bias"] = rule{0, 1, true}
		}
		return r
	}
	r := map[string]rule{"self_attn.q_proj.weight": {0, 1, true}, "self_attn.o_proj.weight": {1, 1, true},
		"mlp.gate_proj.weight": {0, 1, false}, "mlp.up_proj.weight": {0, 1, false}, "mlp.down_proj.weight": {1, 1, false}}
	if c.KVH == c.H {
		r["self_attn.k_proj.weight"] = rule{0, 1, true}
		r["self_attn.v_proj.weight"] = rule{0, 1, true}
	}
	return r
}

// layerPrefix is the name prefix of layer l's tensors.
func layerPrefix(c *nn.Config, l int) string {
	switch c.Family {
	case nn.GPT2:
		return fmt.Sprintf("transformer.h.%d.", l)
	case nn.BERT, nn.RoBERTa:
		return fmt.Sprintf("%s.encoder.layer.%d.", c.Family, l)
	}
	return fmt.Sprintf("model.layers.%d.", l)
}

// pruneForTest builds the Sparse of model m and manifest man by hand: it
// cuts the removed units out of m's tensors and adds random router tensors
// for the layers that route.
func pruneForTest(t testing.TB, m *nn.Model, man SparseManifest) *Sparse {
	t.Helper()
	c := m.Config
	s := &Sparse{Config: c, Manifest: man, Tensors: map[string]*SparseTensor{}}
	axes := prunedAxes(c)
	for _, p := range m.Params.List {
		data := append([]float32(nil), p.Value.Data().([]float32)...)
		shape := append([]int(nil), p.Shape...)
		for l := 0; l < c.L; l++ {
			suffix, ok := cutPrefix(p.Name, layerPrefix(c, l))
			if !ok {
				continue
			}
			r, ok := axes[suffix]
			if !ok {
				continue
			}
			units, width := man.Layers[l].Groups, man.GroupSize
			if r.heads {
				units, width = man.Layers[l].Heads, c.S()
			}
			per := shape[r.axis] / r.blocks / width // units per block in the dense tensor
			var idx []int
			for b := 0; b < r.blocks; b++ {
				for _, u := range units {
					for j := 0; j < width; j++ {
						idx = append(idx, (b*per+u)*width+j)
					}
				}
			}
			data, shape = takeAlong(data, shape, r.axis, idx)
		}
		s.Tensors[p.Name] = &SparseTensor{Shape: shape, Data: data}
	}
	if man.Router != "static" {
		rng := rand.New(rand.NewPCG(7, 8))
		random := func(shape ...int) *SparseTensor {
			st := &SparseTensor{Shape: shape, Data: make([]float32, numel(shape))}
			for i := range st.Data {
				st.Data[i] = float32(rng.NormFloat64())
			}
			return st
		}
		for l, ly := range man.Layers {
			if len(ly.HeadsDense) < len(ly.Heads) {
				s.Tensors[fmt.Sprintf("router.layers.%d.head.weight", l)] = random(c.D, len(ly.Heads))
				s.Tensors[fmt.Sprintf("router.layers.%d.head.bias", l)] = random(len(ly.Heads))
			}
			if len(ly.GroupsDense) < len(ly.Groups) {
				s.Tensors[fmt.Sprintf("router.layers.%d.ffn.weight", l)] = random(c.D, len(ly.Groups))
				s.Tensors[fmt.Sprintf("router.layers.%d.ffn.bias", l)] = random(len(ly.Groups))
			}
		}
	}
	return s
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return "", false
}

// takeAlong keeps the indices idx of axis (a 1- or 2-D tensor).
func takeAlong(data []float32, shape []int, axis int, idx []int) ([]float32, []int) {
	out := []float32{}
	if len(shape) == 1 {
		for _, i := range idx {
			out = append(out, data[i])
		}
		return out, []int{len(idx)}
	}
	rows, cols := shape[0], shape[1]
	if axis == 0 {
		for _, i := range idx {
			out = append(out, data[i*cols:(i+1)*cols]...)
		}
		return out, []int{len(idx), cols}
	}
	for r := 0; r < rows; r++ {
		for _, i := range idx {
			out = append(out, data[r*cols+i])
		}
	}
	return out, []int{rows, len(idx)}
}
