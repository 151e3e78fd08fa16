package nn

import (
	"fmt"
	"math"
	"slices"

	"github.com/sparsetune/sparsetune/internal/safetensors"
)

// Limits on config.json sizes, checked before anything is allocated: far
// above every released model of the supported families, far below what
// would overflow a slice length or ask for terabytes.
const (
	maxVocab     = 1 << 22 // 4M tokens (the largest released vocabularies are ~260k)
	maxWidth     = 1 << 17 // hidden, FFN and head sizes (the largest models use ~53k FFN)
	maxLayers    = 1 << 10
	maxHeads     = 1 << 12
	maxPositions = 1 << 21 // 2M (long-context LLaMA-style models reach 1M)
	maxParams    = 1 << 36 // elements over all tensors: 256 GiB of float32
)

// sizeKeys names config.json's keys for c's sizes, in the family's words.
func (c *Config) sizeKeys() (vocab, d, l, h, kvh, f, pos string) {
	switch c.Family {
	case GPT2:
		return "vocab_size", "n_embd", "n_layer", "n_head", "n_head", "n_inner", "n_positions"
	case BERT, RoBERTa:
		return "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_attention_heads", "intermediate_size", "max_position_embeddings"
	}
	return "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size", "max_position_embeddings"
}

// epsKey names config.json's normalisation epsilon in the family's words.
func (c *Config) epsKey() string {
	switch c.Family {
	case GPT2:
		return "layer_norm_epsilon"
	case BERT, RoBERTa:
		return "layer_norm_eps"
	}
	return "rms_norm_eps"
}

// checkSizes checks c's sizes against the limits above and each other,
// naming config.json's key: a malformed config fails here with one line
// instead of panicking (or exhausting memory) while the weights are made.
func (c *Config) checkSizes() error {
	vocab, d, l, h, kvh, f, pos := c.sizeKeys()
	for _, s := range []struct {
		key    string
		v, max int
	}{{vocab, c.Vocab, maxVocab}, {d, c.D, maxWidth}, {l, c.L, maxLayers}, {h, c.H, maxHeads}, {kvh, c.KVH, maxHeads},
		{f, c.F, maxWidth}, {pos, c.MaxPos, maxPositions}} {
		if s.v <= 0 || s.v > s.max {
			return fmt.Errorf("%s is %d: want a positive size of at most %d", s.key, s.v, s.max)
		}
	}
	switch {
	case c.D%c.H != 0 && c.S() == c.D/c.H: // the head size is derived from the width
		return fmt.Errorf("%s %d does not divide %s %d", h, c.H, d, c.D)
	case c.S() <= 0 || c.S() > maxWidth:
		return fmt.Errorf("head_dim is %d: want a positive size of at most %d", c.S(), maxWidth)
	case c.H%c.KVH != 0:
		return fmt.Errorf("%s %d does not divide %s %d", kvh, c.KVH, h, c.H)
	case c.TypeVocab < 0 || c.TypeVocab > maxVocab:
		return fmt.Errorf("type_vocab_size is %d: want a positive size of at most %d", c.TypeVocab, maxVocab)
	case !(c.NormEps > 0 && c.NormEps < 1):
		return fmt.Errorf("%s is %g: want a small positive number", c.epsKey(), c.NormEps)
	}
	n := 0
	for _, p := range c.Specs() {
		n += p.Numel()
	}
	if n > maxParams {
		return fmt.Errorf("the sizes describe %d parameters, more than the %d this program can hold", n, int64(maxParams))
	}
	return nil
}

// checkTensors compares file f (read from where) with the parameters c
// describes before any of them is allocated: every tensor present must have
// its parameter's shape and finite values; every parameter must be present
// unless it belongs to a head that newHead initialises afresh.
// key maps a parameter name to the file's name for it.
func checkTensors(c *Config, f *safetensors.File, where string, newHead bool, key func(string) string) error {
	head := map[string]bool{}
	for _, p := range c.headSpecs() {
		head[p.Name] = true
	}
	for _, p := range c.Specs() {
		t, ok := f.Tensors[key(p.Name)]
		switch {
		case !ok && newHead && head[p.Name]:
			continue
		case !ok:
			return fmt.Errorf("%s: missing tensor %q (shape %v)", where, key(p.Name), p.Shape)
		case t.IsInt():
			return fmt.Errorf("%s: tensor %q has integer dtype %s, want a float", where, key(p.Name), t.DType)
		case !slices.Equal(t.Shape, p.Shape):
			return fmt.Errorf("%s: tensor %q has shape %v, want %v (from config.json)", where, key(p.Name), t.Shape, p.Shape)
		}
		if err := CheckFinite(where, key(p.Name), t.Data); err != nil {
			return err
		}
	}
	return nil
}

// CheckFinite reports the first NaN or infinite value of tensor name in
// file where: weights that would turn every later result into NaN.
func CheckFinite(where, name string, data []float32) error {
	for i, v := range data {
		if x := float64(v); math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%s: tensor %s has %v at element %d", where, name, x, i)
		}
	}
	return nil
}
