package checkpoints

import (
	"fmt"
	"math"

	"github.com/sparsetune/sparsetune/nn"
)

// llama adds the tensors of a llama-layout model (llama, mistral, qwen2,
// qwen3) under llama.cpp's names. nn.Linear weights (out, in) keep their
// bytes: GGUF lists the dims innermost first, so they read as {in, out}.
func (b *ggufBuilder) llama(s *Sparse, lay *ggufLayout) {
	c := s.Config
	if c.Family == nn.Qwen3 && (c.AttnBias || c.MLPBias) || c.Family == nn.Qwen2 && c.MLPBias {
		b.err = fmt.Errorf("%s with attention_bias or mlp_bias: %w (llama.cpp's %s graph has no such biases)", c.Family, ErrGGUFUnsupported, b.arch)
		return
	}
	if c.RoPEScale.Type == "llama3" && b.arch != "llama" {
		b.err = fmt.Errorf("%s with llama3 rope_scaling: %w", c.Family, ErrGGUFUnsupported)
		return
	}
	rules := PruneRules(c, s.Manifest.GroupSize)
	// llama.cpp's "llama" graph rotates adjacent pairs (x[2i], x[2i+1]) of
	// each head, Hugging Face's LlamaAttention the halves (x[i], x[i+S/2]);
	// convert_hf_to_gguf.py permutes the query and key rows to match. Qwen2
	// and Qwen3 run with llama.cpp's NeoX RoPE, which rotates the halves.
	permute := b.arch == "llama"
	put := func(to, from string, rope bool) {
		shape, data := padded(s, lay, rules, from)
		if rope && permute {
			data = ropeInterleave(data, shape, c.S())
		}
		b.add(to, shape, data)
	}
	put("token_embd.weight", "model.embed_tokens.weight", false)
	for l := 0; l < c.L; l++ {
		p, q := fmt.Sprintf("model.layers.%d.", l), fmt.Sprintf("blk.%d.", l)
		put(q+"attn_norm.weight", p+"input_layernorm.weight", false)
		for _, m := range []struct {
			to, from string
			rope     bool
		}{{"attn_q", "q_proj", true}, {"attn_k", "k_proj", true}, {"attn_v", "v_proj", false}} {
			put(q+m.to+".weight", p+"self_attn."+m.from+".weight", m.rope)
			if c.AttnBias {
				put(q+m.to+".bias", p+"self_attn."+m.from+".bias", m.rope)
			}
		}
		put(q+"attn_output.weight", p+"self_attn.o_proj.weight", false)
		if c.OBias {
			put(q+"attn_output.bias", p+"self_attn.o_proj.bias", false)
		}
		if c.QKNorm {
			put(q+"attn_q_norm.weight", p+"self_attn.q_norm.weight", false)
			put(q+"attn_k_norm.weight", p+"self_attn.k_norm.weight", false)
		}
		put(q+"ffn_norm.weight", p+"post_attention_layernorm.weight", false)
		for _, m := range []struct{ to, from string }{{"ffn_gate", "gate_proj"}, {"ffn_up", "up_proj"}, {"ffn_down", "down_proj"}} {
			put(q+m.to+".weight", p+"mlp."+m.from+".weight", false)
			if c.MLPBias {
				put(q+m.to+".bias", p+"mlp."+m.from+".bias", false)
			}
		}
	}
	put("output_norm.weight", "model.norm.weight", false)
	if !c.Tied { // llama.cpp reuses token_embd when output is absent
		put("output.weight", "lm_head.weight", false)
	}
	if c.RoPEScale.Type == "llama3" {
		b.add("rope_freqs.weight", []int{c.S() / 2}, llama3RopeFactors(c))
	}
}

// gpt2 adds GPT-2's tensors under llama.cpp's names. Conv1D weights are
// (in, out), so they are transposed to llama.cpp's (out, in) rows.
func (b *ggufBuilder) gpt2(s *Sparse, lay *ggufLayout) {
	c := s.Config
	rules := PruneRules(c, s.Manifest.GroupSize)
	put := func(to, from string, transpose bool) {
		shape, data := padded(s, lay, rules, from)
		if transpose {
			shape, data = []int{shape[1], shape[0]}, transposed(data, shape[0], shape[1])
		}
		b.add(to, shape, data)
	}
	put("token_embd.weight", "transformer.wte.weight", false)
	put("position_embd.weight", "transformer.wpe.weight", false)
	for l := 0; l < c.L; l++ {
		p, q := fmt.Sprintf("transformer.h.%d.", l), fmt.Sprintf("blk.%d.", l)
		for _, m := range []struct {
			to, from  string
			transpose bool
		}{
			{"attn_norm.weight", "ln_1.weight", false}, {"attn_norm.bias", "ln_1.bias", false},
			{"attn_qkv.weight", "attn.c_attn.weight", true}, {"attn_qkv.bias", "attn.c_attn.bias", false},
			{"attn_output.weight", "attn.c_proj.weight", true}, {"attn_output.bias", "attn.c_proj.bias", false},
			{"ffn_norm.weight", "ln_2.weight", false}, {"ffn_norm.bias", "ln_2.bias", false},
			{"ffn_up.weight", "mlp.c_fc.weight", true}, {"ffn_up.bias", "mlp.c_fc.bias", false},
			{"ffn_down.weight", "mlp.c_proj.weight", true}, {"ffn_down.bias", "mlp.c_proj.bias", false},
		} {
			put(q+m.to, p+m.from, m.transpose)
		}
	}
	put("output_norm.weight", "transformer.ln_f.weight", false)
	put("output_norm.bias", "transformer.ln_f.bias", false)
	if !c.Tied {
		put("output.weight", "lm_head.weight", false)
	}
}

// ropeInterleave reorders the rows of a query or key projection (rows of
// heads of s rows each; a bias is rows of one column) from Hugging Face's
// rotate-half order to llama.cpp's adjacent pairs: within each head, row
// i·s/2 + j moves to row 2j + i (convert_hf_to_gguf.py's LlamaModel.permute:
// reshape(n_head, 2, s/2, ·).swapaxes(1, 2)).
func ropeInterleave(data []float32, shape []int, s int) []float32 {
	cols := 1
	if len(shape) == 2 {
		cols = shape[1]
	}
	out := make([]float32, len(data))
	half := s / 2
	for h := 0; h < shape[0]/s; h++ {
		for i := 0; i < 2; i++ {
			for j := 0; j < half; j++ {
				src, dst := (h*s+i*half+j)*cols, (h*s+2*j+i)*cols
				copy(out[dst:dst+cols], data[src:src+cols])
			}
		}
	}
	return out
}

// transposed returns the (cols, rows) transpose of a row-major (rows, cols)
// matrix.
func transposed(data []float32, rows, cols int) []float32 {
	out := make([]float32, len(data))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			out[c*rows+r] = data[r*cols+c]
		}
	}
	return out
}

// llama3RopeFactors are the S/2 divisors of the rotary frequencies that
// llama.cpp applies for Llama 3.1's rope_scaling (the rope_freqs tensor of
// convert_hf_to_gguf.py): 1 for wavelengths shorter than
// original_max_position_embeddings/high_freq_factor, factor for those longer
// than .../low_freq_factor, and 1/((1 − smooth)/factor + smooth) between,
// the same bands as HF's _compute_llama3_parameters (ops.ropeInvFreq).
func llama3RopeFactors(c *nn.Config) []float32 {
	sc, S := c.RoPEScale, c.S()
	old := float64(sc.OrigMaxPos)
	low, high := old/sc.LowFreqFactor, old/sc.HighFreqFactor
	out := make([]float32, S/2)
	for i := range out {
		freq := float64(float32(1 / math.Pow(c.RoPETheta, float64(2*i)/float64(S))))
		wavelen := 2 * math.Pi / freq
		switch {
		case wavelen < high:
			out[i] = 1
		case wavelen > low:
			out[i] = float32(sc.Factor)
		default:
			smooth := (old/wavelen - sc.LowFreqFactor) / (sc.HighFreqFactor - sc.LowFreqFactor)
			out[i] = float32(1 / ((1-smooth)/sc.Factor + smooth))
		}
	}
	return out
}
