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
	e.zeroD = make([]float32, max(c.D, c.F))
	wteName := e.loadEmbeddings(&t)
	for l := 0; l < c.L; l++ {
		e.layers = append(e.layers, loadLayer(c, m, l, &t))
	}
	e.loadHead(&t, wteName)
	if t.err != nil {
		return nil, t.err
	}
	e.cost = newCostTable(c, m.GroupSize, m.Router != "static")
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
