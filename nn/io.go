package nn

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/atomicfile"
	"github.com/sparsetune/sparsetune/internal/safetensors"
)

// Model is a configuration with its weights.
type Model struct {
	Config *Config
	Params *Params
}

// LoadOptions relax the strict name check of Load.
type LoadOptions struct {
	// NewHead lets the task head be missing from the checkpoint (a base
	// model fine-tuned for a new task); it is then initialised randomly
	// with this seed. Every other tensor must still be present.
	NewHead bool
	Seed    uint64
	// Task and Labels, when set, put a new head on the base model: a
	// language model becomes a classifier over Labels (or back). The old
	// head's tensors are dropped and the new head is initialised randomly.
	Task   Task
	Labels []string
}

// Load reads a Hugging Face model directory: config.json and
// model.safetensors (or a sharded model.safetensors.index.json). Every
// parameter must be present with its exact shape and no unknown tensor may
// be left over; errors name the file and the tensor.
func Load(dir string, opt LoadOptions) (*Model, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	f, err := safetensors.ReadModelDir(dir)
	if err != nil {
		return nil, err
	}
	where := filepath.Join(dir, "model.safetensors")
	if _, err := os.Stat(where); err != nil {
		where = filepath.Join(dir, "model.safetensors.index.json")
	}
	oldHead := map[string]bool{}
	for _, p := range cfg.headSpecs() {
		oldHead[p.Name] = true
	}
	if opt.Task != "" && (opt.Task != cfg.Task || !slices.Equal(opt.Labels, cfg.Labels)) {
		cfg.Task, cfg.Labels, opt.NewHead = opt.Task, opt.Labels, true
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("%s: new %s head: %w", dir, opt.Task, err)
		}
	} else {
		oldHead = map[string]bool{}
	}
	if err := checkTensors(cfg, f, where, opt.NewHead, fileKeys(cfg, f)); err != nil {
		return nil, err
	}
	params := InitParams(cfg, opt.Seed, tensor.Float32)
	head := map[string]bool{}
	for _, p := range cfg.headSpecs() {
		head[p.Name] = true
	}
	key := fileKeys(cfg, f)
	seen := map[string]bool{}
	for _, p := range params.List {
		t, ok := f.Tensors[key(p.Name)]
		if !ok {
			if opt.NewHead && head[p.Name] {
				continue
			}
			return nil, fmt.Errorf("%s: missing tensor %q (shape %v)", where, key(p.Name), p.Shape)
		}
		seen[key(p.Name)] = true
		if t.IsInt() {
			return nil, fmt.Errorf("%s: tensor %q has integer dtype %s, want a float", where, key(p.Name), t.DType)
		}
		if !slices.Equal(t.Shape, p.Shape) {
			return nil, fmt.Errorf("%s: tensor %q has shape %v, want %v", where, key(p.Name), t.Shape, p.Shape)
		}
		copy(p.Value.Data().([]float32), t.Data)
	}
	for _, name := range sortedNames(f.Tensors) {
		if seen[name] || isBuffer(name) || oldHead[name] {
			continue
		}
		if cfg.Tied && (name == "lm_head.weight") {
			continue // some exporters write the tied head anyway
		}
		return nil, fmt.Errorf("%s: unexpected tensor %q: not a parameter of a %s %s model", where, name, cfg.Family, cfg.Task)
	}
	return &Model{Config: cfg, Params: params}, nil
}

// fileKeys maps a parameter name to the name the checkpoint stores it
// under. GPT-2 checkpoints come in two layouts: GPT2LMHeadModel's and
// GPT2ForSequenceClassification's, under "transformer." (as we save them),
// and the bare GPT2Model layout the Hub ships for openai-community/gpt2 and
// distilgpt2 ("wte.weight", "h.0.attn.c_attn.weight", "ln_f.weight"), which
// HF's from_pretrained accepts for either class. A file without
// "transformer.wte.weight" but with "wte.weight" is read in the bare layout;
// the heads (lm_head, score) are never prefixed.
func fileKeys(c *Config, f *safetensors.File) func(string) string {
	same := func(name string) string { return name }
	if c.Family != GPT2 {
		return same
	}
	_, prefixed := f.Tensors["transformer.wte.weight"]
	_, bare := f.Tensors["wte.weight"]
	if prefixed || !bare {
		return same
	}
	return func(name string) string { return strings.TrimPrefix(name, "transformer.") }
}

// Save writes the model as a Hugging Face directory (config.json and
// model.safetensors, F32), each file atomically.
func (m *Model) Save(dir string) error { return m.SaveAs(dir, "F32") }

// SaveAs is Save with the weights stored as dtype: "F32", "F16" or "BF16".
// Loading converts them back to float32.
func (m *Model) SaveAs(dir, dtype string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfgJSON, err := m.Config.marshalHF(map[string]string{"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype])
	if err != nil {
		return err
	}
	ts := make([]*safetensors.Tensor, len(m.Params.List))
	for i, p := range m.Params.List {
		data := p.Value.Data()
		f32, ok := data.([]float32)
		if !ok {
			f64 := floats64(p.Value)
			f32 = make([]float32, len(f64))
			for j, v := range f64 {
				f32[j] = float32(v)
			}
		}
		ts[i] = &safetensors.Tensor{Name: p.Name, DType: "F32", Shape: p.Shape, Data: f32}
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, safetensors.WriteOptions{DType: dtype, Metadata: map[string]string{"format": "pt"}}); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "config.json"), cfgJSON, 0o644)
}

// MarshalHF renders c as a Hugging Face config.json, keeping any keys of the
// loaded file that Config does not model.
func (c *Config) MarshalHF() ([]byte, error) { return c.marshalHF("float32") }

// marshalHF renders the config with torch_dtype naming the stored weights' dtype.
func (c *Config) marshalHF(torchDtype string) ([]byte, error) {
	out := map[string]any{}
	for k, v := range c.raw {
		out[k] = v
	}
	set := func(kv ...any) {
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	arch := c.hfArchitecture()
	set("model_type", string(c.Family), "architectures", []string{arch}, "vocab_size", c.Vocab, "torch_dtype", torchDtype)
	switch c.Family {
	case GPT2:
		set("n_embd", c.D, "n_layer", c.L, "n_head", c.H, "n_inner", c.F, "n_positions", c.MaxPos,
			"layer_norm_epsilon", c.NormEps, "activation_function", c.Act, "tie_word_embeddings", c.Tied)
	case BERT, RoBERTa:
		set("hidden_size", c.D, "num_hidden_layers", c.L, "num_attention_heads", c.H, "intermediate_size", c.F,
			"max_position_embeddings", c.MaxPos, "type_vocab_size", c.TypeVocab, "layer_norm_eps", c.NormEps, "hidden_act", c.Act)
	case LLaMA, Mistral, Qwen2, Qwen3:
		set(c.llamaStyleHF()...)
	}
	for k, v := range map[string]int{"pad_token_id": c.PadID, "bos_token_id": c.BOSID, "eos_token_id": c.EOSID} {
		if _, list := out[k].([]any); v >= 0 && !list { // a list of stop ids is kept as loaded
			out[k] = v
		}
	}
	if c.Task == Classification {
		id2label, label2id := map[string]string{}, map[string]int{}
		for i, l := range c.Labels {
			id2label[fmt.Sprint(i)] = l
			label2id[l] = i
		}
		set("id2label", id2label, "label2id", label2id, "problem_type", "single_label_classification")
	}
	return json.MarshalIndent(out, "", "  ")
}
