package infer

import (
	"fmt"
	"math"
	"slices"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/internal/ops"
	"github.com/sparsetune/sparsetune/nn"
)

// Engine runs a sparse checkpoint. It is not safe for concurrent use.
type Engine struct {
	Config   *nn.Config
	Manifest checkpoints.SparseManifest

	// Dense runs every kept unit for every token: the same engine and
	// weights with the routers ignored, the dense reference of benchmarks
	// (on a checkpoint that kept every unit it is the dense model).
	Dense bool
	// DenseAbove, in [0, 1], is the fraction of (token, unit) pairs on in
	// a layer's heads or groups above which a batch runs that part with
	// one dense product and the mask applied, instead of one product per
	// unit over the tokens that use it. Negative (the default): the engine
	// times both paths per layer part and runs the faster (see block).
	// Stats.DenseBlocks counts the dense ones.
	DenseAbove float64

	S       int // head size
	act     ops.Activation
	layers  []*layer
	rope    *ops.RoPE // RoPE tables for positions < ropeLen (LLaMA layout); nil otherwise
	ropeLen int

	wte, wpe, wtt  []float32 // token, position, token-type embeddings
	embW, embB     []float32 // BERT/RoBERTa embedding LayerNorm
	finW, finB     []float32 // final norm (GPT-2, LLaMA)
	lmHead         mat       // (V, D); the token embedding when tied
	poolW, poolB   []float32 // BERT pooler / RoBERTa classifier.dense (D, D) out-major
	clsW, clsB     []float32 // (C, D) score / classifier / out_proj; clsB nil for decoders
	zeroD, zeroMax []float32
	cost           costTable
	work           []*work
	timers         [2]pathTimer // per part, see block
	buf            *batch       // Forward's buffers, reused
	logits         []float32    // LMLogits' buffer, reused
	deq            []float32    // a low-precision matrix widened for a dense product, reused
	Stats          Stats
	Usage          *Usage // nil unless RecordUsage was called
	// Source is the sparse checkpoint of a Synthetic engine, with the
	// calibrated thresholds, for writing it out (nil otherwise).
	Source *checkpoints.Sparse
}

// layer is one transformer layer in the engine's layout: every projection
// out-major (rows are output units), so a head's query/key/value rows, a
// head's output-projection rows (input dims) and a group's neurons are
// contiguous blocks. The projections are mats of D columns, in the
// checkpoint's dtype (or Engine.Quantize's).
type layer struct {
	heads   []int  // kept heads (original indices)
	headOn  []bool // kept head is always on
	kvHeads int    // key/value heads stored
	kvOf    []int  // kept head → stored key/value head
	q, k, v mat    // (nh·S, D), (kvHeads·S, D), (kvHeads·S, D)
	qb      []float32
	kb, vb  []float32
	qn, kn  []float32 // (S) Qwen3's per-head q_norm, k_norm weights; nil without
	o       mat       // (nh·S, D): row i is input dim i of the output projection
	ob      []float32 // (D)

	groups  []int
	groupOn []bool
	up      mat       // (ng·k, D)
	gate    mat       // (ng·k, D) LLaMA; no columns without
	gateb   []float32 // (ng·k) gate_proj bias (mlp_bias); nil without
	upb     []float32 // (ng·k) zeros without bias
	down    mat       // (ng·k, D): row j is neuron j's output weights
	db      []float32 // (D) zeros without bias

	n1w, n1b, n2w, n2b []float32 // norms (pre-attention/pre-FFN, or post for BERT)

	rh, rhb []float32 // head router (D, nh), (nh); nil when not routed
	rg, rgb []float32 // FFN router (D, ng), (ng)
	rt      []float32 // both routers' weights as rows, (nh+ng, D), for decoding
	tau     float32
	kh, kg  int // heads and groups per token under top-k routing (topk.go); −1 under threshold routing
}

// New builds an engine from a sparse checkpoint.
func New(sp *checkpoints.Sparse) (*Engine, error) {
	c, m := sp.Config, sp.Manifest
	if err := c.Validate(); err != nil {
		return nil, err
	}
	act, err := ops.ParseActivation(c.Act)
	if err != nil {
		return nil, err
	}
	if len(m.Layers) != c.L {
		return nil, fmt.Errorf("sparse checkpoint: %d manifest layers for a %d-layer model", len(m.Layers), c.L)
	}
	e := &Engine{Config: c, Manifest: m, S: c.S(), act: act, DenseAbove: -1}
	t := tensors{m: sp.Tensors}
	D, S, k := c.D, c.S(), m.GroupSize
	e.zeroD = make([]float32, max(D, c.F))
	var wteName string // the token embedding, the LM head when tied
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
	for l := 0; l < c.L; l++ {
		ml := m.Layers[l]
		ly := &layer{heads: ml.Heads, groups: ml.Groups, tau: float32(ml.Tau)}
		ly.kh, ly.kg = layerK(m, l)
		ly.headOn = onFlags(ml.Heads, ml.HeadsDense)
		ly.groupOn = onFlags(ml.Groups, ml.GroupsDense)
		nh, ng := len(ml.Heads), len(ml.Groups)
		ly.kvHeads = nh
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
		case nn.BERT, nn.RoBERTa:
			p := fmt.Sprintf("%s.encoder.layer.%d.", c.Family, l)
			ly.q, ly.qb = t.matOf(p+"attention.self.query.weight", nh*S, D, false), t.get(p+"attention.self.query.bias")
			ly.k, ly.kb = t.matOf(p+"attention.self.key.weight", nh*S, D, false), t.get(p+"attention.self.key.bias")
			ly.v, ly.vb = t.matOf(p+"attention.self.value.weight", nh*S, D, false), t.get(p+"attention.self.value.bias")
			ly.o, ly.ob = t.matOf(p+"attention.output.dense.weight", D, nh*S, true), t.get(p+"attention.output.dense.bias")
			ly.n1w, ly.n1b = t.get(p+"attention.output.LayerNorm.weight"), t.get(p+"attention.output.LayerNorm.bias")
			ly.up, ly.upb = t.matOf(p+"intermediate.dense.weight", ng*k, D, false), t.get(p+"intermediate.dense.bias")
			ly.down, ly.db = t.matOf(p+"output.dense.weight", D, ng*k, true), t.get(p+"output.dense.bias")
			ly.n2w, ly.n2b = t.get(p+"output.LayerNorm.weight"), t.get(p+"output.LayerNorm.bias")
		case nn.LLaMA:
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
		if m.Router != "static" {
			r := fmt.Sprintf("router.layers.%d.", l)
			ly.rh, ly.rhb = t.opt(r+"head.weight"), t.opt(r+"head.bias")
			ly.rg, ly.rgb = t.opt(r+"ffn.weight"), t.opt(r+"ffn.bias")
			if ly.rh != nil {
				ly.rt = transpose(ly.rh, D, nh)
			}
			if ly.rg != nil {
				ly.rt = append(ly.rt, transpose(ly.rg, D, ng)...)
			}
		}
		e.layers = append(e.layers, ly)
	}
	switch {
	case c.Task == nn.CausalLM && c.Tied:
		e.lmHead = t.matOf(wteName, c.Vocab, D, false) // shares e.wte when float32
	case c.Task == nn.CausalLM:
		e.lmHead = t.matOf("lm_head.weight", c.Vocab, D, false)
	case c.Family == nn.BERT:
		e.poolW, e.poolB = t.get("bert.pooler.dense.weight"), t.get("bert.pooler.dense.bias")
		e.clsW, e.clsB = t.get("classifier.weight"), t.get("classifier.bias")
	case c.Family == nn.RoBERTa:
		e.poolW, e.poolB = t.get("classifier.dense.weight"), t.get("classifier.dense.bias")
		e.clsW, e.clsB = t.get("classifier.out_proj.weight"), t.get("classifier.out_proj.bias")
	default:
		e.clsW = t.get("score.weight")
	}
	if t.err != nil {
		return nil, t.err
	}
	e.cost = newCostTable(c, k, m.Router != "static")
	return e, nil
}

// ensureRoPE makes the RoPE tables (LLaMA layout) cover positions < n.
// They grow on demand, at least doubling, rather than covering
// max_position_embeddings up front (131072 positions for Llama 3.1 would
// be 64 MiB of tables for a head size of 64).
func (e *Engine) ensureRoPE(n int) {
	c := e.Config
	if c.Family.Layout() != nn.LLaMA || (e.rope != nil && n <= e.ropeLen) {
		return
	}
	e.ropeLen = max(n, 2*e.ropeLen, 256)
	e.rope = ops.NewRoPE(c.RoPETheta, c.RoPEScale, e.S, e.ropeLen)
}

// prepHead applies to one head's query or key x at position pos what
// comes between the projection and the scores: Qwen3's per-head RMSNorm
// (w non-nil), then RoPE.
func (e *Engine) prepHead(x, w []float32, pos int) {
	if w != nil {
		ops.RMSNormRow(x, x, w, e.Config.NormEps)
	}
	if e.rope != nil {
		e.rope.Rotate(x, pos)
	}
}

// onFlags marks which of kept are in dense.
func onFlags(kept, dense []int) []bool {
	f := make([]bool, len(kept))
	for i, u := range kept {
		_, f[i] = slices.BinarySearch(dense, u)
	}
	return f
}

// tensors looks tensors up by name, remembering the first one missing.
type tensors struct {
	m   map[string]*checkpoints.SparseTensor
	err error
}

func (t *tensors) get(name string) []float32 {
	if x, ok := t.m[name]; ok {
		return x.Data
	}
	if t.err == nil {
		t.err = fmt.Errorf("sparse checkpoint: tensor %s is missing", name)
	}
	return nil
}

func (t *tensors) opt(name string) []float32 {
	if x, ok := t.m[name]; ok {
		return x.Data
	}
	return nil
}

// transpose returns the (cols, rows) transpose of the row-major (rows, cols) a.
func transpose(a []float32, rows, cols int) []float32 {
	if len(a) != rows*cols {
		return a // the caller's tensor lookup reports the problem
	}
	return transposeOf(a, rows, cols)
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
