package nn

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sparsetune/sparsetune/internal/ops"
)

// Family names a transformer family.
type Family string

// The supported families.
const (
	GPT2    Family = "gpt2"    // learned positions, pre-LayerNorm, GELU-tanh, Conv1D weights, tied head
	BERT    Family = "bert"    // post-LayerNorm encoder with token types and a pooler
	RoBERTa Family = "roberta" // BERT without the pooler, positions offset past the padding id
	LLaMA   Family = "llama"   // RMSNorm, RoPE, SwiGLU, grouped-query attention, untied head
	Mistral Family = "mistral" // LLaMA's layout; a sliding attention window (sliding_window)
	Qwen2   Family = "qwen2"   // LLaMA's layout with q/k/v biases, often a tied head
	Qwen3   Family = "qwen3"   // LLaMA's layout with per-head q/k RMSNorm and an explicit head_dim
)

// Layout is the family whose tensor names and block structure f shares:
// LLaMA for the LLaMA-style decoders (llama, mistral, qwen2, qwen3), f
// itself otherwise. Code that only cares about the layout switches on it;
// the differences between the LLaMA-style families are Config fields
// (head size, biases, q/k norms, RoPE scaling, window).
func (f Family) Layout() Family {
	switch f {
	case Mistral, Qwen2, Qwen3:
		return LLaMA
	}
	return f
}

// RoPEScaling is config.json's rope_scaling (see ops.RoPEScaling).
type RoPEScaling = ops.RoPEScaling

// Task is what the head on top of the transformer computes.
type Task string

// The supported tasks.
const (
	CausalLM       Task = "causal-lm"               // next-token logits (N, V)
	Classification Task = "sequence-classification" // one label per sequence (B, C)
)

// Config describes one model. Field comments give the Hugging Face key.
type Config struct {
	Family    Family
	Task      Task
	Vocab     int         // vocab_size
	D         int         // n_embd | hidden_size
	L         int         // n_layer | num_hidden_layers
	H         int         // n_head | num_attention_heads
	KVH       int         // num_key_value_heads (LLaMA GQA); H elsewhere
	F         int         // n_inner (null → 4D) | intermediate_size
	MaxPos    int         // n_positions | max_position_embeddings
	TypeVocab int         // type_vocab_size (BERT, RoBERTa)
	NormEps   float64     // layer_norm_epsilon | layer_norm_eps | rms_norm_eps
	Act       string      // activation_function | hidden_act, as HF names it
	RoPETheta float64     // rope_theta (LLaMA layout)
	RoPEScale RoPEScaling // rope_scaling (LLaMA layout); zero: none
	HeadDim   int         // head_dim (LLaMA layout); 0: D/H
	AttnBias  bool        // q/k/v projections have biases (llama/qwen3 attention_bias; always for qwen2)
	OBias     bool        // o_proj has a bias (llama/qwen3 attention_bias)
	MLPBias   bool        // gate/up/down projections have biases (llama mlp_bias)
	QKNorm    bool        // per-head RMSNorm of queries and keys before RoPE (qwen3 q_norm, k_norm)
	Window    int         // sliding_window (mistral): longer sequences are refused (CheckLength); 0: none
	Tied      bool        // tie_word_embeddings: LM head shares the token embedding
	Labels    []string    // id2label in id order (classification)
	PadID     int         // pad_token_id, -1 when absent
	BOSID     int         // bos_token_id, -1 when absent
	EOSID     int         // eos_token_id (the first of a list, as Llama 3 instruct configs give), -1 when absent

	// raw keeps every key of the loaded config.json so saving writes back
	// what we do not model (dropout rates, torch_dtype, ...).
	raw map[string]any
}

// S is the head size: head_dim when the config gives one, else D/H.
func (c *Config) S() int {
	if c.HeadDim > 0 {
		return c.HeadDim
	}
	return c.D / c.H
}

// Validate reports the first inconsistency in c.
func (c *Config) Validate() error {
	switch c.Family {
	case GPT2, BERT, RoBERTa, LLaMA, Mistral, Qwen2, Qwen3:
	default:
		return fmt.Errorf("model_type %q is not supported (want %s)", c.Family, supportedFamilies)
	}
	pos := []struct {
		name string
		v    int
	}{{"vocab_size", c.Vocab}, {"hidden size", c.D}, {"layers", c.L}, {"heads", c.H}, {"key/value heads", c.KVH}, {"FFN width", c.F}, {"max positions", c.MaxPos}}
	for _, p := range pos {
		if p.v <= 0 {
			return fmt.Errorf("%s must be positive, got %d", p.name, p.v)
		}
	}
	if c.HeadDim < 0 {
		return fmt.Errorf("head_dim must be positive, got %d", c.HeadDim)
	}
	if c.HeadDim == 0 && c.D%c.H != 0 {
		return fmt.Errorf("hidden size %d is not divisible by %d heads", c.D, c.H)
	}
	if c.H%c.KVH != 0 {
		return fmt.Errorf("%d heads are not divisible by %d key/value heads", c.H, c.KVH)
	}
	if c.Family.Layout() == LLaMA && c.S()%2 != 0 {
		return fmt.Errorf("RoPE needs an even head size, got %d", c.S())
	}
	if err := c.RoPEScale.Validate(); err != nil {
		return err
	}
	if c.Window < 0 {
		return fmt.Errorf("sliding_window must be positive, got %d", c.Window)
	}
	if c.Task == Classification && len(c.Labels) < 2 {
		return fmt.Errorf("a classifier needs at least 2 labels, got %d", len(c.Labels))
	}
	if (c.Family == BERT || c.Family == RoBERTa) && c.TypeVocab <= 0 {
		return fmt.Errorf("type_vocab_size must be positive, got %d", c.TypeVocab)
	}
	if c.NormEps <= 0 {
		return fmt.Errorf("normalisation epsilon must be positive, got %g", c.NormEps)
	}
	return nil
}

// supportedFamilies lists the model_type values ParseConfig accepts.
const supportedFamilies = "gpt2, bert, roberta, llama, mistral, qwen2 or qwen3"

// LoadConfig reads dir/config.json.
func LoadConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no config.json: not a Hugging Face model directory", dir)
		}
		return nil, err
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes a Hugging Face config.json.
func ParseConfig(b []byte) (*Config, error) {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("malformed JSON: %v", err)
	}
	r := reader{raw: raw}
	c := &Config{Family: Family(r.str("model_type", "")), raw: raw, PadID: r.intOr("pad_token_id", -1), BOSID: r.intOr("bos_token_id", -1), EOSID: r.tokenID("eos_token_id")}
	arch := ""
	if a, ok := raw["architectures"].([]any); ok && len(a) > 0 {
		arch, _ = a[0].(string)
	}
	c.Task = CausalLM
	if strings.HasSuffix(arch, "ForSequenceClassification") {
		c.Task = Classification
	}
	switch c.Family {
	case GPT2:
		c.Vocab, c.D, c.L, c.H = r.int("vocab_size"), r.int("n_embd"), r.int("n_layer"), r.int("n_head")
		c.KVH, c.MaxPos, c.NormEps = c.H, r.int("n_positions"), r.float("layer_norm_epsilon", 1e-5)
		c.F = r.intOr("n_inner", 4*c.D)
		c.Act, c.Tied = r.str("activation_function", "gelu_new"), r.bool("tie_word_embeddings", true)
	case BERT, RoBERTa:
		c.Vocab, c.D, c.L, c.H = r.int("vocab_size"), r.int("hidden_size"), r.int("num_hidden_layers"), r.int("num_attention_heads")
		c.KVH, c.F, c.MaxPos = c.H, r.int("intermediate_size"), r.int("max_position_embeddings")
		c.TypeVocab, c.NormEps, c.Act = r.intOr("type_vocab_size", 2), r.float("layer_norm_eps", 1e-12), r.str("hidden_act", "gelu")
		if c.Task != Classification {
			return nil, fmt.Errorf("architectures %q: only the ForSequenceClassification head is supported for %s", arch, c.Family)
		}
	case LLaMA, Mistral, Qwen2, Qwen3:
		if err := parseLlamaStyle(c, &r, raw); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("model_type %q is not supported (want %s)", c.Family, supportedFamilies)
	}
	if r.err != nil {
		return nil, r.err
	}
	if c.Task == Classification {
		labels, err := parseLabels(raw)
		if err != nil {
			return nil, err
		}
		c.Labels = labels
	}
	if err := c.checkSizes(); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// parseLabels reads id2label (or num_labels) into a dense, id-ordered list.
func parseLabels(raw map[string]any) ([]string, error) {
	if m, ok := raw["id2label"].(map[string]any); ok && len(m) > 0 {
		labels := make([]string, len(m))
		for k, v := range m {
			var id int
			if _, err := fmt.Sscanf(k, "%d", &id); err != nil || id < 0 || id >= len(m) {
				return nil, fmt.Errorf("id2label: key %q is not an id in [0, %d)", k, len(m))
			}
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("id2label[%s]: want a string, got %v", k, v)
			}
			labels[id] = s
		}
		return labels, nil
	}
	if n, ok := raw["num_labels"].(float64); ok && n >= 2 {
		labels := make([]string, int(n))
		for i := range labels {
			labels[i] = fmt.Sprintf("LABEL_%d", i)
		}
		return labels, nil
	}
	return nil, fmt.Errorf("a sequence classifier needs id2label or num_labels")
}

// reader pulls typed fields out of a decoded config, remembering the first
// error so callers can read many fields and check once.
type reader struct {
	raw map[string]any
	err error
}

func (r *reader) fail(key, want string, v any) {
	if r.err == nil {
		r.err = fmt.Errorf("field %q: want %s, got %v", key, want, v)
	}
}

func (r *reader) int(key string) int {
	v, ok := r.raw[key]
	if !ok || v == nil {
		if r.err == nil {
			r.err = fmt.Errorf("missing field %q", key)
		}
		return 0
	}
	return r.intOr(key, 0)
}

func (r *reader) intOr(key string, def int) int {
	v, ok := r.raw[key]
	if !ok || v == nil {
		return def
	}
	f, ok := v.(float64)
	if !ok || f != float64(int(f)) {
		r.fail(key, "an integer", v)
		return def
	}
	return int(f)
}

func (r *reader) float(key string, def float64) float64 {
	v, ok := r.raw[key]
	if !ok || v == nil {
		return def
	}
	f, ok := v.(float64)
	if !ok {
		r.fail(key, "a number", v)
	}
	return f
}

func (r *reader) str(key, def string) string {
	v, ok := r.raw[key]
	if !ok || v == nil {
		return def
	}
	s, ok := v.(string)
	if !ok {
		r.fail(key, "a string", v)
	}
	return s
}

func (r *reader) bool(key string, def bool) bool {
	v, ok := r.raw[key]
	if !ok || v == nil {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		r.fail(key, "true or false", v)
	}
	return b
}
