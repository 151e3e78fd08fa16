package infer

import (
	"fmt"
	"math"

	"github.com/sparsetune/sparsetune/internal/blas"
	"github.com/sparsetune/sparsetune/internal/ops"
	"github.com/sparsetune/sparsetune/internal/parallel"
	"github.com/sparsetune/sparsetune/internal/vec"
	"github.com/sparsetune/sparsetune/nn"
)

// Stats accumulates what the engine ran since the last Reset.
type Stats struct {
	Tokens int     // tokens run
	Active float64 // routed FLOPs run, routers included (loss.Cost conventions)
	Dense  float64 // the dense routed FLOPs of the same tokens
	// Blocks counts (batch, layer, part) blocks of a batched forward pass,
	// part being a layer's heads or its FFN groups; DenseBlocks those run
	// as one dense product with the mask applied because too many of their
	// (token, unit) pairs were on (Engine.DenseAbove).
	Blocks, DenseBlocks int
	// UnionOn and UnionUnits give the union sparsity of the blocks: units
	// on for at least one token of the block, over the units kept.
	UnionOn, UnionUnits int
	// Read counts the weights, in bytes, that decoding steps (Session.Step)
	// read: the matrix rows of the active heads and groups, the key/value
	// heads those heads need, the routers, the LM head and the token's
	// embedding rows (norms and biases left out). Bound is what they would
	// read if each unit's weights were its own: every layer's attention
	// and FFN weights times the share of its kept heads and groups that
	// are on, plus the same fixed weights. Grouped-query attention puts Read
	// above Bound: a key/value head is read when any of its heads is on.
	Read, Bound float64
}

// Compute is the measured compute fraction: Active over Dense.
func (s Stats) Compute() float64 {
	if s.Dense == 0 {
		return 0
	}
	return s.Active / s.Dense
}

// Usage counts, per layer and kept unit, the tokens that switched the unit
// on (Engine.RecordUsage).
type Usage struct {
	Tokens        int
	Heads, Groups [][]int
	// Active and Dense are Stats' Active and Dense per layer: a layer's
	// compute is Active[l]/Dense[l], and they sum to Stats' figures.
	Active, Dense []float64
}

// RecordUsage starts counting unit usage of batched forward passes into
// e.Usage (from zero).
func (e *Engine) RecordUsage() {
	u := &Usage{Active: make([]float64, len(e.layers)), Dense: make([]float64, len(e.layers))}
	for _, ly := range e.layers {
		u.Heads = append(u.Heads, make([]int, len(ly.heads)))
		u.Groups = append(u.Groups, make([]int, len(ly.groups)))
	}
	e.Usage = u
}

// ResetStats clears the engine's Stats.
func (e *Engine) ResetStats() { e.Stats = Stats{} }

// batch is one packed forward pass: every sequence's tokens one after the
// other, N rows in all, no padding.
type batch struct {
	layer   int // the layer being run
	n       int
	off     []int // sequence i is rows off[i]..off[i+1]-1
	pos     []int // position of each row in its sequence
	x       []float32
	a       []float32 // normed input of a sublayer
	y       []float32 // sublayer output
	q, k, v []float32
	ctx     []float32
	h, g    []float32
	hon     []bool // (N, nh) head on
	gon     []bool // (N, ng) group on
	logit   []float32
	idx     [][]int // per unit: rows on
}

// Forward runs the model over seqs (token ids; types may be nil) and
// returns the final hidden states, one row of D per token, sequence after
// sequence, and the row offsets of the sequences (len(seqs)+1 entries).
// Both are the engine's buffers, valid until the next Forward.
func (e *Engine) Forward(seqs [][]int, types [][]int) ([]float32, []int, error) {
	c := e.Config
	if e.buf == nil {
		e.buf = &batch{}
	}
	b := e.buf // reused: its buffers only grow, so steady scoring allocates nothing
	b.off = growInts(b.off, len(seqs)+1)
	b.off[0] = 0
	for i, s := range seqs {
		if len(s) == 0 {
			return nil, nil, fmt.Errorf("sequence %d is empty", i)
		}
		if err := c.CheckLength(len(s)); err != nil {
			return nil, nil, fmt.Errorf("sequence %d: %w", i, err)
		}
		e.ensureRoPE(len(s))
		for j, id := range s {
			if id < 0 || id >= c.Vocab {
				return nil, nil, fmt.Errorf("sequence %d: token id %d at position %d is outside the vocabulary [0, %d)", i, id, j, c.Vocab)
			}
		}
		if types != nil && (len(types[i]) != len(s)) {
			return nil, nil, fmt.Errorf("sequence %d: %d token types for %d tokens", i, len(types[i]), len(s))
		}
		b.off[i+1] = b.off[i] + len(s)
	}
	b.n = b.off[len(seqs)]
	D := c.D
	b.x = growF(b.x, b.n*D)
	b.pos = growInts(b.pos, b.n)
	for i, s := range seqs {
		var ty []int
		if types != nil {
			ty = types[i]
		}
		e.embed(b.x[b.off[i]*D:b.off[i+1]*D], s, ty, b.pos[b.off[i]:b.off[i+1]], 0)
	}
	b.a, b.y = growF(b.a, b.n*D), growF(b.y, b.n*D)
	for l, ly := range e.layers {
		b.layer = l
		e.layerForward(ly, b)
	}
	if e.finW != nil {
		e.norm(b.x, b.x, e.finW, e.finB, b.n)
	}
	e.Stats.Tokens += b.n
	return b.x, b.off, nil
}

// embed writes the input embeddings of the tokens ids, the first at
// position start, into x (len(ids), D), and their positions into pos.
func (e *Engine) embed(x []float32, ids, types []int, pos []int, start int) {
	c, D := e.Config, e.Config.D
	count := start // RoBERTa: real tokens before this one
	for t, id := range ids {
		p := start + t
		if c.Family == nn.RoBERTa { // HF create_position_ids_from_input_ids
			if id == c.PadID {
				p = c.PadID
			} else {
				count++
				p = c.PadID + count
			}
		}
		pos[t] = start + t
		row := x[t*D : (t+1)*D]
		copy(row, e.wte[id*D:(id+1)*D])
		switch c.Family.Layout() {
		case nn.GPT2:
			addTo(row, e.wpe[p*D:(p+1)*D])
		case nn.BERT, nn.RoBERTa:
			ty := 0
			if types != nil {
				ty = types[t]
			}
			addTo(row, e.wtt[ty*D:(ty+1)*D])
			addTo(row, e.wpe[p*D:(p+1)*D])
			ops.LayerNormRow(row, row, e.embW, e.embB, c.NormEps)
		}
	}
}

// addTo sets dst += src (vec.Axpy with α = 1: the same sums as a loop).
func addTo(dst, src []float32) { vec.Axpy(1, src[:len(dst)], dst) }

// norm applies the family's norm to n rows of x into y (in place allowed).
func (e *Engine) norm(y, x, w, b []float32, n int) {
	c, D := e.Config, e.Config.D
	parallel.For(n, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			if c.Family.Layout() == nn.LLaMA {
				ops.RMSNormRow(y[r*D:(r+1)*D], x[r*D:(r+1)*D], w, c.NormEps)
			} else {
				ops.LayerNormRow(y[r*D:(r+1)*D], x[r*D:(r+1)*D], w, b, c.NormEps)
			}
		}
	})
}

// gates fills on (n, U) with the routing decisions of one router for the n
// rows of x: always-on units, then the routed ones by the gate rule
// float32(σ(logit − shift)) > τ, or with k ≥ 0 (top-k routing) the k
// units of each row that topK.decide picks. It returns how many pairs are
// on.
func (e *Engine) gates(on []bool, x []float32, n int, w, bias []float32, always []bool, tau float32, k int, scratch *[]float32, use []int) int {
	U := len(always)
	if U == 0 {
		return 0
	}
	routed := w != nil && !e.Dense
	var logits []float32
	if routed {
		logits = grow(scratch, n*U)
		blas.Sgemm(false, false, n, U, e.Config.D, 1, x, e.Config.D, w, U, 0, logits, U)
	}
	g := newGateRule(tau, e.Manifest.Shift)
	count := 0
	var tk topK
	for r := 0; r < n; r++ {
		if routed && k >= 0 {
			lr := logits[r*U : (r+1)*U]
			tk.decide(on[r*U:(r+1)*U], always, k, func(u int) float64 { return float64(lr[u]) + float64(bias[u]) })
		}
		for u := 0; u < U; u++ {
			v := always[u] || !routed
			if routed && k >= 0 {
				v = on[r*U+u]
			} else if !v {
				v = g.on(float64(logits[r*U+u]) + float64(bias[u]))
			}
			on[r*U+u] = v
			if v {
				count++
				if use != nil {
					use[u]++
				}
			}
		}
	}
	return count
}

// gateRule is the routers' gate: a unit is on when sigmoid(z − shift) > τ
// in float32, z its logit plus bias.
type gateRule struct {
	tau          float32
	shift, theta float64
}

func newGateRule(tau float32, shift float64) gateRule {
	return gateRule{tau: tau, shift: shift, theta: math.Log(float64(tau)/(1-float64(tau))) + shift}
}

// on decides by the logit (p > τ ⇔ z − shift > ln(τ/(1−τ)) up to p's
// rounding to float32) unless it is within 1e-4 of the boundary, where it
// computes p as the training graph does.
func (g gateRule) on(z float64) bool {
	if math.Abs(z-g.theta) > 1e-4 {
		return z > g.theta
	}
	return float32(sigmoid(z-g.shift)) > g.tau
}

// grow returns (*buf)[:n], reallocating when it is too short.
func grow(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	*buf = (*buf)[:n]
	return *buf
}

// layerForward runs one layer over the batch, updating b.x.
func (e *Engine) layerForward(ly *layer, b *batch) {
	c, n := e.Config, b.n
	nh, ng := len(ly.heads), len(ly.groups)
	b.hon = growBool(b.hon, n*nh)
	b.gon = growBool(b.gon, n*ng)
	var hu, gu []int
	if e.Usage != nil {
		hu, gu = e.Usage.Heads[b.layer], e.Usage.Groups[b.layer]
		if b.layer == 0 {
			e.Usage.Tokens += n
		}
	}
	hOn := e.gates(b.hon, b.x, n, ly.rh, ly.rhb, ly.headOn, ly.tau, ly.kh, &b.logit, hu)
	gOn := e.gates(b.gon, b.x, n, ly.rg, ly.rgb, ly.groupOn, ly.tau, ly.kg, &b.logit, gu)
	e.account(ly, b, gOn)

	post := c.Family == nn.BERT || c.Family == nn.RoBERTa
	// Attention.
	in := b.a
	if post {
		in = b.x
	} else {
		e.norm(b.a, b.x, ly.n1w, ly.n1b, n)
	}
	e.attention(ly, b, in, hOn)
	addRowsBias(b.x, b.y, ly.ob, n)
	if post {
		e.norm(b.x, b.x, ly.n1w, ly.n1b, n)
		in = b.x
	} else {
		e.norm(b.a, b.x, ly.n2w, ly.n2b, n)
		in = b.a
	}
	// FFN.
	e.ffn(ly, b, in, gOn)
	addRowsBias(b.x, b.y, ly.db, n)
	if post {
		e.norm(b.x, b.x, ly.n2w, ly.n2b, n)
	}
}

func growBool(s []bool, n int) []bool {
	if cap(s) < n {
		return make([]bool, n)
	}
	return s[:n]
}

// addRowsBias sets x += y + bias row by row.
func addRowsBias(x, y, bias []float32, n int) {
	D := len(bias)
	parallel.For(n, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*D:(r+1)*D], y[r*D:(r+1)*D]
			for j := range xr {
				xr[j] += yr[j] + bias[j]
			}
		}
	})
}

// account adds the batch's routed FLOPs to the stats.
func (e *Engine) account(ly *layer, b *batch, gOn int) {
	ct := e.cost
	var active, dense float64
	for s := 0; s+1 < len(b.off); s++ {
		L := b.off[s+1] - b.off[s]
		for r := b.off[s]; r < b.off[s+1]; r++ {
			keys := L
			if ct.causal {
				keys = b.pos[r] + 1
			}
			heads := 0
			for i := range ly.heads {
				if b.hon[r*len(ly.heads)+i] {
					heads++
				}
			}
			active += float64(heads) * ct.head(keys)
			dense += float64(ct.h)*ct.head(keys) + float64(ct.g)*ct.group
		}
	}
	active += float64(gOn) * ct.group
	if !e.Dense {
		active += float64(b.n) * float64(2*e.Config.D+1) * float64(len(ly.rhb)+len(ly.rgb))
	}
	e.Stats.Active += active
	e.Stats.Dense += dense
	if e.Usage != nil {
		e.Usage.Active[b.layer] += active
		e.Usage.Dense[b.layer] += dense
	}
}

// ffn computes the FFN sublayer's output (without the output bias) into
// b.y from the normed input in.
func (e *Engine) ffn(ly *layer, b *batch, in []float32, on int) {
	n, D, k := b.n, e.Config.D, e.Manifest.GroupSize
	clear(b.y)
	ng := len(ly.groups)
	if ng == 0 {
		return
	}
	F := ng * k
	gated := ly.gate.cols > 0
	dense, done := e.block(b, b.gon, ng, on, 1)
	defer done()
	if dense {
		b.h = growF(b.h, n*F)
		blas.Sgemm(false, true, n, F, D, 1, in, D, ly.up.f32(0, F, &e.deq), D, 0, b.h, F)
		if gated {
			b.g = growF(b.g, n*F)
			blas.Sgemm(false, true, n, F, D, 1, in, D, ly.gate.f32(0, F, &e.deq), D, 0, b.g, F)
		}
		parallel.For(n, 16, func(lo, hi int) {
			scratch := make([]float32, F)
			for r := lo; r < hi; r++ {
				hr := b.h[r*F : (r+1)*F]
				if gated {
					if ly.gateb != nil {
						addTo(hr, ly.upb)
						addTo(b.g[r*F:(r+1)*F], ly.gateb)
					}
					ops.SiLUMulRow(hr, scratch, b.g[r*F:(r+1)*F], hr)
				} else {
					ops.BiasActRow(e.act, hr, scratch, hr, ly.upb)
				}
				for j := 0; j < ng; j++ {
					if !b.gon[r*ng+j] {
						clear(hr[j*k : (j+1)*k])
					}
				}
			}
		})
		blas.Sgemm(false, false, n, D, F, 1, b.h, F, ly.down.f32(0, F, &e.deq), D, 0, b.y, D)
		return
	}
	// Per group: the products of its neurons with the rows of the tokens
	// that use it, read in place, and its output rows added straight into
	// those tokens' rows (internal/vec's row kernels; no gather, no
	// scatter buffer).
	e.accumulate(b.y, n, ng, func(w *work, acc []float32, j int) {
		rows := b.idx[j]
		m := len(rows)
		if m == 0 {
			return
		}
		h := grow(&w.h, m*k)
		vec.DotRows(h, in, rows, ly.up.f32(j*k, (j+1)*k, &w.deq), k)
		scratch := grow(&w.scratch, k)
		if gated {
			g := grow(&w.g, m*k)
			vec.DotRows(g, in, rows, ly.gate.f32(j*k, (j+1)*k, &w.deq), k)
			for r := 0; r < m; r++ {
				if ly.gateb != nil {
					addTo(h[r*k:(r+1)*k], ly.upb[j*k:(j+1)*k])
					addTo(g[r*k:(r+1)*k], ly.gateb[j*k:(j+1)*k])
				}
				ops.SiLUMulRow(h[r*k:(r+1)*k], scratch, g[r*k:(r+1)*k], h[r*k:(r+1)*k])
			}
		} else {
			bias := ly.upb[j*k : (j+1)*k]
			for r := 0; r < m; r++ {
				ops.BiasActRow(e.act, h[r*k:(r+1)*k], scratch, h[r*k:(r+1)*k], bias)
			}
		}
		vec.AxpyRows(acc, rows, h, ly.down.f32(j*k, (j+1)*k, &w.deq), k)
	})
}

// linear sets y (n, out) = x (n, in) · Wᵀ + bias with W (out, in), widened
// to float32 into the engine's buffer when it is stored in low precision.
func (e *Engine) linear(y, x []float32, w *mat, bias []float32, n int) {
	out, in := w.rows, w.cols
	blas.Sgemm(false, true, n, out, in, 1, x, in, w.f32(0, out, &e.deq), in, 0, y, out)
	parallel.For(n, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			addTo(y[r*out:(r+1)*out], bias)
		}
	})
}

func growInts(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}

func growF(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
