package nn

import (
	"fmt"
)

// parseLlamaStyle reads the keys of HF's LlamaConfig, MistralConfig,
// Qwen2Config and Qwen3Config into c, with each class's defaults for the
// keys a config.json may leave out. A feature we do not implement is an
// error naming its key.
func parseLlamaStyle(c *Config, r *reader, raw map[string]any) error {
	c.Vocab, c.D, c.L, c.H = r.int("vocab_size"), r.int("hidden_size"), r.int("num_hidden_layers"), r.int("num_attention_heads")
	c.KVH, c.F, c.MaxPos = r.intOr("num_key_value_heads", c.H), r.int("intermediate_size"), r.int("max_position_embeddings")
	c.NormEps, c.Act, c.RoPETheta = r.float("rms_norm_eps", 1e-6), r.str("hidden_act", "silu"), r.float("rope_theta", 10000)
	c.Tied = r.bool("tie_word_embeddings", false)
	// Qwen3Config defaults head_dim to 128 whatever the width; the others
	// to hidden_size / num_attention_heads.
	def := 0
	if c.Family == Qwen3 {
		def = 128
	}
	c.HeadDim = r.intOr("head_dim", def)
	switch c.Family {
	case LLaMA, Qwen3:
		// attention_bias puts a bias on q, k, v and o alike.
		c.AttnBias = r.bool("attention_bias", false)
		c.OBias = c.AttnBias
		c.QKNorm = c.Family == Qwen3
	case Qwen2:
		c.AttnBias = true // Qwen2Attention: q/k/v biases, no o bias, no key to turn them off
	case Mistral:
		// MistralConfig defaults sliding_window to 4096; null turns it off.
		c.Window = 4096
		if v, ok := raw["sliding_window"]; ok {
			c.Window = r.intOr("sliding_window", 0)
			if v == nil {
				c.Window = 0
			}
		}
	}
	if c.Family == LLaMA {
		c.MLPBias = r.bool("mlp_bias", false)
	}
	if c.Family == Qwen2 || c.Family == Qwen3 {
		if r.bool("use_sliding_window", false) {
			return fmt.Errorf("use_sliding_window: true is not supported (per-layer sliding windows); set it to false to run with full attention")
		}
	}
	if lt, ok := raw["layer_types"].([]any); ok {
		for i, t := range lt {
			if t != "full_attention" {
				return fmt.Errorf("layer_types[%d]: %v is not supported (only full_attention layers)", i, t)
			}
		}
	}
	rs, err := parseRoPEScaling(raw["rope_scaling"])
	if err != nil {
		return err
	}
	c.RoPEScale = rs
	return nil
}

// parseRoPEScaling reads a rope_scaling object: rope_type (or the older
// type) linear, dynamic or llama3 with its parameters; null, absent or
// "default" mean none.
func parseRoPEScaling(v any) (RoPEScaling, error) {
	if v == nil {
		return RoPEScaling{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return RoPEScaling{}, fmt.Errorf("rope_scaling: want an object or null, got %v", v)
	}
	r := reader{raw: m}
	typ := r.str("rope_type", "")
	if typ == "" {
		typ = r.str("type", "")
	}
	if r.err != nil {
		return RoPEScaling{}, fmt.Errorf("rope_scaling: %w", r.err)
	}
	switch typ {
	case "default":
		return RoPEScaling{}, nil
	case "linear", "dynamic", "llama3":
	case "":
		return RoPEScaling{}, fmt.Errorf("rope_scaling: no rope_type")
	default:
		return RoPEScaling{}, fmt.Errorf("rope_scaling.rope_type %q is not supported (want linear, dynamic or llama3)", typ)
	}
	sc := RoPEScaling{Type: typ}
	need := func(key string) float64 {
		if _, ok := m[key]; !ok && r.err == nil {
			r.err = fmt.Errorf("missing field %q", key)
		}
		return r.float(key, 0)
	}
	sc.Factor = need("factor")
	if typ == "llama3" {
		sc.LowFreqFactor, sc.HighFreqFactor = need("low_freq_factor"), need("high_freq_factor")
		sc.OrigMaxPos = r.int("original_max_position_embeddings")
	}
	if r.err != nil {
		return RoPEScaling{}, fmt.Errorf("rope_scaling: %w", r.err)
	}
	return sc, sc.Validate()
}

// hfArchitecture is the Hugging Face class a saved config names.
func (c *Config) hfArchitecture() string {
	name := map[Family]string{GPT2: "GPT2", BERT: "Bert", RoBERTa: "Roberta", LLaMA: "Llama", Mistral: "Mistral", Qwen2: "Qwen2", Qwen3: "Qwen3"}[c.Family]
	switch {
	case c.Task == Classification:
		return name + "ForSequenceClassification"
	case c.Family == GPT2:
		return name + "LMHeadModel"
	}
	return name + "ForCausalLM"
}

// llamaStyleHF is the config.json keys of the LLaMA-style families.
func (c *Config) llamaStyleHF() []any {
	kv := []any{"hidden_size", c.D, "num_hidden_layers", c.L, "num_attention_heads", c.H, "num_key_value_heads", c.KVH,
		"intermediate_size", c.F, "max_position_embeddings", c.MaxPos, "rms_norm_eps", c.NormEps,
		"hidden_act", c.Act, "rope_theta", c.RoPETheta, "tie_word_embeddings", c.Tied}
	if c.HeadDim > 0 {
		kv = append(kv, "head_dim", c.HeadDim)
	}
	switch c.Family {
	case LLaMA:
		kv = append(kv, "attention_bias", c.AttnBias, "mlp_bias", c.MLPBias)
	case Qwen3:
		kv = append(kv, "attention_bias", c.AttnBias)
	case Mistral:
		var w any
		if c.Window > 0 {
			w = c.Window
		}
		kv = append(kv, "sliding_window", w)
	}
	var rs any
	if sc := c.RoPEScale; sc.Type != "" {
		m := map[string]any{"rope_type": sc.Type, "factor": sc.Factor}
		if sc.Type == "llama3" {
			m["low_freq_factor"], m["high_freq_factor"], m["original_max_position_embeddings"] = sc.LowFreqFactor, sc.HighFreqFactor, sc.OrigMaxPos
		}
		rs = m
	}
	return append(kv, "rope_scaling", rs)
}

// Causal reports a decoder: tokens attend to earlier tokens only.
func (c *Config) Causal() bool { return c.Family.Layout() == GPT2 || c.Family.Layout() == LLaMA }

// MaxLen is the longest sequence the model runs exactly (see CheckLength),
// 0 when only memory limits it.
func (c *Config) MaxLen() int {
	lim := 0
	if c.Family.Layout() != LLaMA || c.RoPEScale.Type == "dynamic" {
		lim = c.MaxPos
	}
	if c.Window > 0 && (lim == 0 || c.Window < lim) {
		lim = c.Window
	}
	return lim
}

// CheckLength reports why the model cannot run sequences of t tokens:
// learned position tables end at max_position_embeddings; RoPE models run
// longer sequences except under dynamic scaling (HF rescales the base past
// max_position_embeddings, per sequence, which we do not implement) and
// beyond a sliding window (tokens further back than sliding_window would
// have to be masked; we refuse rather than mask, so every length we run is
// exact).
func (c *Config) CheckLength(t int) error {
	switch {
	case c.Family.Layout() != LLaMA && t > c.MaxPos:
		return fmt.Errorf("sequence length %d exceeds the model's %d positions", t, c.MaxPos)
	case c.RoPEScale.Type == "dynamic" && t > c.MaxPos:
		return fmt.Errorf("sequence length %d exceeds max_position_embeddings %d, past which rope_scaling dynamic changes the frequencies (not supported)", t, c.MaxPos)
	case c.Window > 0 && t > c.Window:
		return fmt.Errorf("sequence length %d exceeds sliding_window %d (attention beyond the window is not supported)", t, c.Window)
	}
	return nil
}

// Features lists, for display, what the config switches on beyond its
// family's plain layout: an explicit head size, biases, q/k norms, RoPE
// scaling, a sliding window, a tied LLaMA-layout head.
func (c *Config) Features() []string {
	var fs []string
	if c.HeadDim > 0 && c.HeadDim*c.H != c.D {
		fs = append(fs, fmt.Sprintf("head_dim %d", c.HeadDim))
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{c.AttnBias, "q/k/v bias"}, {c.OBias, "o bias"}, {c.MLPBias, "mlp bias"}, {c.QKNorm, "q/k norm"},
		{c.Tied && c.Family.Layout() == LLaMA, "tied head"}} {
		if f.on {
			fs = append(fs, f.name)
		}
	}
	if sc := c.RoPEScale; sc.Type != "" {
		fs = append(fs, fmt.Sprintf("rope_scaling %s ×%g", sc.Type, sc.Factor))
	}
	if c.Window > 0 {
		fs = append(fs, fmt.Sprintf("sliding_window %d", c.Window))
	}
	return fs
}

// tokenID reads a special-token id that may be an integer or, as
// Llama 3.1/3.2 instruct configs give eos_token_id, a list of them: the
// first counts. -1 when absent or null.
func (r *reader) tokenID(key string) int {
	if l, ok := r.raw[key].([]any); ok {
		if len(l) == 0 {
			return -1
		}
		f, ok := l[0].(float64)
		if !ok || f != float64(int(f)) {
			r.fail(key, "an integer or a list of integers", l)
			return -1
		}
		return int(f)
	}
	return r.intOr(key, -1)
}
