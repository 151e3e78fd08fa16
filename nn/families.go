package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/sparsetune/sparsetune/internal/ops"
)

// gpt2 mirrors HF GPT2Model: pre-LayerNorm blocks on token plus learned
// position embeddings, a fused QKV Conv1D, GELU-tanh MLP, tied head.
func (b *builder) gpt2() {
	gr, c := b.gr, b.gr.Config
	gr.Pos = b.input("position_ids", b.opt.B*b.opt.T)
	x := b.add(b.embed("transformer.wte.weight", gr.IDs), b.embed("transformer.wpe.weight", gr.Pos)) // (N, D)
	x = b.dropout(x)
	act := b.act()
	for l := 0; l < c.L; l++ {
		p := fmt.Sprintf("transformer.h.%d.", l)
		gr.Hidden = append(gr.Hidden, x)
		gs := b.gates(l, x)
		a := b.layerNorm(x, p+"ln_1")
		qkv := b.linear(a, p+"attn.c_attn", true, true, ops.ActIdentity, nil, 0) // (N, 3D)
		ctx := b.do(func() (*G.Node, error) { return ops.AttentionQKV(qkv, gr.Mask, gs.Head, b.attnConfig()) })
		x = b.add(x, b.dropout(b.linear(ctx, p+"attn.c_proj", true, true, ops.ActIdentity, nil, 0)))
		h := b.linear(b.layerNorm(x, p+"ln_2"), p+"mlp.c_fc", true, true, act, gs.FFN, gs.GroupSize) // (N, F)
		x = b.add(x, b.dropout(b.linear(h, p+"mlp.c_proj", true, true, ops.ActIdentity, nil, 0)))
	}
	x = b.layerNorm(x, "transformer.ln_f")
	gr.Hidden = append(gr.Hidden, x)
	b.lmHead(x, "transformer.wte.weight")
}

// bert mirrors HF BertModel/RobertaModel: post-LayerNorm encoder layers on
// word + position + token-type embeddings, with a classification head.
func (b *builder) bert() {
	gr, c := b.gr, b.gr.Config
	e := string(c.Family) + ".embeddings."
	gr.Pos = b.input("position_ids", b.opt.B*b.opt.T)
	gr.Types = b.input("token_type_ids", b.opt.B*b.opt.T)
	x := b.add(b.add(b.embed(e+"word_embeddings.weight", gr.IDs), b.embed(e+"token_type_embeddings.weight", gr.Types)),
		b.embed(e+"position_embeddings.weight", gr.Pos))
	x = b.dropout(b.layerNorm(x, e+"LayerNorm")) // (N, D)
	act := b.act()
	for l := 0; l < c.L; l++ {
		p := fmt.Sprintf("%s.encoder.layer.%d.", c.Family, l)
		gr.Hidden = append(gr.Hidden, x)
		gs := b.gates(l, x)
		q := b.linear(x, p+"attention.self.query", false, true, ops.ActIdentity, nil, 0)
		k := b.linear(x, p+"attention.self.key", false, true, ops.ActIdentity, nil, 0)
		v := b.linear(x, p+"attention.self.value", false, true, ops.ActIdentity, nil, 0)
		ctx := b.do(func() (*G.Node, error) { return ops.Attention(q, k, v, gr.Mask, gs.Head, b.attnConfig()) })
		o := b.dropout(b.linear(ctx, p+"attention.output.dense", false, true, ops.ActIdentity, nil, 0))
		x = b.layerNorm(b.add(x, o), p+"attention.output.LayerNorm")
		h := b.linear(x, p+"intermediate.dense", false, true, act, gs.FFN, gs.GroupSize) // (N, F)
		o = b.dropout(b.linear(h, p+"output.dense", false, true, ops.ActIdentity, nil, 0))
		x = b.layerNorm(b.add(x, o), p+"output.LayerNorm")
	}
	gr.Hidden = append(gr.Hidden, x)
	cls := b.do(func() (*G.Node, error) { return ops.SelectRows(x, b.opt.T) }) // (B, D) first token
	if c.Family == BERT {
		pooled := b.linear(cls, "bert.pooler.dense", false, true, ops.ActTanh, nil, 0)
		gr.Logits = b.linear(b.dropout(pooled), "classifier", false, true, ops.ActIdentity, nil, 0) // (B, C)
	} else {
		h := b.linear(b.dropout(cls), "classifier.dense", false, true, ops.ActTanh, nil, 0)
		gr.Logits = b.linear(b.dropout(h), "classifier.out_proj", false, true, ops.ActIdentity, nil, 0)
	}
	gr.Targets = b.input("targets", b.opt.B)
}

// llama mirrors HF LlamaModel, and with the Config's switches MistralModel,
// Qwen2Model and Qwen3Model: pre-RMSNorm blocks, optional q/k/v (and o)
// biases, Qwen3's per-head q/k RMSNorm before RoPE, RoPE (with
// rope_scaling) inside attention, grouped-query attention, SwiGLU MLP with
// optional biases, tied or untied head.
func (b *builder) llama() {
	gr, c := b.gr, b.gr.Config
	x := b.embed("model.embed_tokens.weight", gr.IDs) // (N, D)
	for l := 0; l < c.L; l++ {
		p := fmt.Sprintf("model.layers.%d.", l)
		gr.Hidden = append(gr.Hidden, x)
		gs := b.gates(l, x)
		a := b.rmsNorm(x, p+"input_layernorm")
		q := b.linear(a, p+"self_attn.q_proj", false, c.AttnBias, ops.ActIdentity, nil, 0) // (N, H*S)
		k := b.linear(a, p+"self_attn.k_proj", false, c.AttnBias, ops.ActIdentity, nil, 0) // (N, KVH*S)
		v := b.linear(a, p+"self_attn.v_proj", false, c.AttnBias, ops.ActIdentity, nil, 0)
		if c.QKNorm {
			q = b.headNorm(q, p+"self_attn.q_norm") // (N, H*S), each head over S
			k = b.headNorm(k, p+"self_attn.k_norm")
		}
		ctx := b.do(func() (*G.Node, error) { return ops.Attention(q, k, v, gr.Mask, gs.Head, b.attnConfig()) })
		x = b.add(x, b.linear(ctx, p+"self_attn.o_proj", false, c.OBias, ops.ActIdentity, nil, 0))
		m := b.rmsNorm(x, p+"post_attention_layernorm")
		gp := b.linear(m, p+"mlp.gate_proj", false, c.MLPBias, ops.ActIdentity, nil, 0) // (N, F)
		up := b.linear(m, p+"mlp.up_proj", false, c.MLPBias, ops.ActIdentity, nil, 0)
		h := b.do(func() (*G.Node, error) { return ops.SwiGLU(gp, up, gs.FFN, gs.GroupSize) })
		x = b.add(x, b.linear(h, p+"mlp.down_proj", false, c.MLPBias, ops.ActIdentity, nil, 0))
	}
	x = b.rmsNorm(x, "model.norm")
	gr.Hidden = append(gr.Hidden, x)
	b.lmHead(x, "model.embed_tokens.weight")
}
