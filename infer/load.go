package infer

import (
	"fmt"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/nn"
)

// The steps of New: the embeddings, each layer in its family's layout,
// and the head. A tensor missing or of the wrong size is recorded in
// t.err (the first one), which New returns.

// loadEmbeddings reads the embeddings (and the final or embedding norm)
// of e's family from t and returns the token embedding's name: the LM
// head's when tied.
func (e *Engine) loadEmbeddings(t *tensors) (wteName string) {
	c := e.Config
	switch c.Family.Layout() {
	case nn.GPT2:
		wteName = "transformer.wte.weight"
		e.wte, e.wpe = t.get(wteName), t.get("transformer.wpe.weight")
		e.finW, e.finB = t.get("transformer.ln_f.weight"), t.get("transformer.ln_f.bias")
	case nn.BERT, nn.RoBERTa:
		p := string(c.Family) + ".embeddings."
		wteName = p + "word_embeddings.weight"
		e.wte, e.wpe, e.wtt = t.get(wteName), t.get(p+"position_embeddings.weight"), t.get(p+"token_type_embeddings.weight")
		e.embW, e.embB = t.get(p+"LayerNorm.weight"), t.get(p+"LayerNorm.bias")
	case nn.LLaMA:
		wteName = "model.embed_tokens.weight"
		e.wte, e.finW = t.get(wteName), t.get("model.norm.weight")
		e.ensureRoPE(1)
	}
	return wteName
}

// loadLayer reads layer l of a model c from t: the units manifest m
// keeps, their weights in c's family layout (zero biases where the family
// has none) and their routers.
func loadLayer(c *nn.Config, m checkpoints.SparseManifest, l int, t *tensors) *layer {
	ml := m.Layers[l]
	ly := &layer{heads: ml.Heads, groups: ml.Groups, tau: float32(ml.Tau)}
	ly.kh, ly.kg = layerK(m, l)
	ly.headOn = onFlags(ml.Heads, ml.HeadsDense)
	ly.groupOn = onFlags(ml.Groups, ml.GroupsDense)
	ly.kvHeads = len(ml.Heads)
	for i := range ml.Heads {
		ly.kvOf = append(ly.kvOf, i)
	}
	if c.KVH != c.H {
		ly.kvHeads = c.KVH
		for i, h := range ml.Heads {
			ly.kvOf[i] = h / (c.H / c.KVH)
		}
	}
	switch c.Family.Layout() {
	case nn.GPT2:
		ly.loadGPT2(c, m.GroupSize, l, t)
	case nn.BERT, nn.RoBERTa:
		ly.loadBERT(c, m.GroupSize, l, t)
	case nn.LLaMA:
		ly.loadLLaMA(c, m.GroupSize, l, t)
	}
	ly.zeroBiases(c.D, c.S(), m.GroupSize)
	if m.Router != "static" {
		ly.loadRouters(c.D, l, t)
	}
	return ly
}

// loadGPT2 reads layer l's weights in the GPT-2 layout (Conv1D: in-major,
// transposed to the engine's rows; q, k and v in one c_attn).
func (ly *layer) loadGPT2(c *nn.Config, k, l int, t *tensors) {
	D, S, nh, ng := c.D, c.S(), len(ly.heads), len(ly.groups)
	p := fmt.Sprintf("transformer.h.%d.", l)
	ly.n1w, ly.n1b = t.get(p+"ln_1.weight"), t.get(p+"ln_1.bias")
	ly.n2w, ly.n2b = t.get(p+"ln_2.weight"), t.get(p+"ln_2.bias")
	w := t.matOf(p+"attn.c_attn.weight", D, 3*nh*S, true) // (3·nh·S, D)
	b := t.get(p + "attn.c_attn.bias")
	if w.rows == 3*nh*S && len(b) == 3*nh*S {
		ly.q, ly.k, ly.v = w.sub(0, nh*S), w.sub(nh*S, 2*nh*S), w.sub(2*nh*S, 3*nh*S)
		ly.qb, ly.kb, ly.vb = b[:nh*S], b[nh*S:2*nh*S], b[2*nh*S:]
	} else if t.err == nil {
		t.err = fmt.Errorf("sparse checkpoint: %sattn.c_attn has %d rows and %d biases, the manifest needs %d", p, w.rows, len(b), 3*nh*S)
	}
	ly.o, ly.ob = t.matOf(p+"attn.c_proj.weight", nh*S, D, false), t.get(p+"attn.c_proj.bias")
	ly.up, ly.upb = t.matOf(p+"mlp.c_fc.weight", D, ng*k, true), t.get(p+"mlp.c_fc.bias")
	ly.down, ly.db = t.matOf(p+"mlp.c_proj.weight", ng*k, D, false), t.get(p+"mlp.c_proj.bias")
}

// loadBERT reads layer l's weights in the BERT/RoBERTa layout (post-norm).
func (ly *layer) loadBERT(c *nn.Config, k, l int, t *tensors) {
	D, S, nh, ng := c.D, c.S(), len(ly.heads), len(ly.groups)
	p := fmt.Sprintf("%s.encoder.layer.%d.", c.Family, l)
	ly.q, ly.qb = t.matOf(p+"attention.self.query.weight", nh*S, D, false), t.get(p+"attention.self.query.bias")
	ly.k, ly.kb = t.matOf(p+"attention.self.key.weight", nh*S, D, false), t.get(p+"attention.self.key.bias")
	ly.v, ly.vb = t.matOf(p+"attention.self.value.weight", nh*S, D, false), t.get(p+"attention.self.value.bias")
	ly.o, ly.ob = t.matOf(p+"attention.output.dense.weight", D, nh*S, true), t.get(p+"attention.output.dense.bias")
	ly.n1w, ly.n1b = t.get(p+"attention.output.LayerNorm.weight"), t.get(p+"attention.output.LayerNorm.bias")
	ly.up, ly.upb = t.matOf(p+"intermediate.dense.weight", ng*k, D, false), t.get(p+"intermediate.dense.bias")
	ly.down, ly.db = t.matOf(p+"output.dense.weight", D, ng*k, true), t.get(p+"output.dense.bias")
	ly.n2w, ly.n2b = t.get(p+"output.LayerNorm.weight"), t.get(p+"output.LayerNorm.bias")
}

// loadLLaMA reads layer l's weights in the LLaMA layout, with the biases
// and q/k norms c's family has (Qwen2's q/k/v biases, Qwen3's norms).
func (ly *layer) loadLLaMA(c *nn.Config, k, l int, t *tensors) {
	D, S, nh, ng := c.D, c.S(), len(ly.heads), len(ly.groups)
	p := fmt.Sprintf("model.layers.%d.", l)
	ly.n1w, ly.n2w = t.get(p+"input_layernorm.weight"), t.get(p+"post_attention_layernorm.weight")
	ly.q = t.matOf(p+"self_attn.q_proj.weight", nh*S, D, false)
	ly.k = t.matOf(p+"self_attn.k_proj.weight", ly.kvHeads*S, D, false)
	ly.v = t.matOf(p+"self_attn.v_proj.weight", ly.kvHeads*S, D, false)
	ly.o = t.matOf(p+"self_attn.o_proj.weight", D, nh*S, true)
	ly.gate = t.matOf(p+"mlp.gate_proj.weight", ng*k, D, false)
	ly.up = t.matOf(p+"mlp.up_proj.weight", ng*k, D, false)
	ly.down = t.matOf(p+"mlp.down_proj.weight", D, ng*k, true)
	if c.AttnBias {
		ly.qb, ly.kb, ly.vb = t.get(p+"self_attn.q_proj.bias"), t.get(p+"self_attn.k_proj.bias"), t.get(p+"self_attn.v_proj.bias")
	}
	if c.OBias {
		ly.ob = t.get(p + "self_attn.o_proj.bias")
	}
	if c.QKNorm {
		ly.qn, ly.kn = t.get(p+"self_attn.q_norm.weight"), t.get(p+"self_attn.k_norm.weight")
	}
	if c.MLPBias {
		ly.gateb, ly.upb, ly.db = t.get(p+"mlp.gate_proj.bias"), t.get(p+"mlp.up_proj.bias"), t.get(p+"mlp.down_proj.bias")
	}
}

// zeroBiases gives the biases a layout has none of zeros, so that every
// family runs the same code.
func (ly *layer) zeroBiases(D, S, k int) {
	nh, ng := len(ly.heads), len(ly.groups)
	if ly.qb == nil {
		ly.qb, ly.kb, ly.vb = make([]float32, nh*S), make([]float32, ly.kvHeads*S), make([]float32, ly.kvHeads*S)
	}
	if ly.ob == nil {
		ly.ob = make([]float32, D)
	}
	if ly.upb == nil {
		ly.upb = make([]float32, ng*k)
	}
	if ly.db == nil {
		ly.db = make([]float32, D)
	}
}

// loadRouters reads layer l's contextual routers (their kept columns),
// when it has them, and their weights as rows for decoding.
func (ly *layer) loadRouters(D, l int, t *tensors) {
	r := fmt.Sprintf("router.layers.%d.", l)
	ly.rh, ly.rhb = t.opt(r+"head.weight"), t.opt(r+"head.bias")
	ly.rg, ly.rgb = t.opt(r+"ffn.weight"), t.opt(r+"ffn.bias")
	if ly.rh != nil {
		ly.rt = transpose(ly.rh, D, len(ly.heads))
	}
	if ly.rg != nil {
		ly.rt = append(ly.rt, transpose(ly.rg, D, len(ly.groups))...)
	}
}

// loadHead reads the model's head: the LM head (the token embedding wteName
// when tied), or the pooler and classifier of an encoder, or a decoder's
// score layer.
func (e *Engine) loadHead(t *tensors, wteName string) {
	c := e.Config
	switch {
	case c.Task == nn.CausalLM && c.Tied:
		e.lmHead = t.matOf(wteName, c.Vocab, c.D, false) // shares e.wte when float32
	case c.Task == nn.CausalLM:
		e.lmHead = t.matOf("lm_head.weight", c.Vocab, c.D, false)
	case c.Family == nn.BERT:
		e.poolW, e.poolB = t.get("bert.pooler.dense.weight"), t.get("bert.pooler.dense.bias")
		e.clsW, e.clsB = t.get("classifier.weight"), t.get("classifier.bias")
	case c.Family == nn.RoBERTa:
		e.poolW, e.poolB = t.get("classifier.dense.weight"), t.get("classifier.dense.bias")
		e.clsW, e.clsB = t.get("classifier.out_proj.weight"), t.get("classifier.out_proj.bias")
	default:
		e.clsW = t.get("score.weight")
	}
}
