package infer

import (
	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/internal/blas"
	"github.com/sparsetune/sparsetune/internal/ops"
	"github.com/sparsetune/sparsetune/nn"
)

// LMLogits returns next-token logits (len(rows), V) for the given rows of
// the final hidden states h (a causal language model; nil rows: all), in
// the engine's buffer, valid until the next LMLogits.
func (e *Engine) LMLogits(h []float32, rows []int) []float32 {
	D, V := e.Config.D, e.Config.Vocab
	x := h
	if rows != nil {
		x = make([]float32, len(rows)*D)
		for j, r := range rows {
			copy(x[j*D:(j+1)*D], h[r*D:(r+1)*D])
		}
	}
	n := len(x) / D
	e.logits = growF(e.logits, n*V)
	out := e.logits
	if e.lmHead.dtype == checkpoints.F32 {
		blas.Sgemm(false, true, n, V, D, 1, x, D, e.lmHead.f, D, 0, out, V)
		return out
	}
	// A low-precision head is widened lmChunk rows at a time, not whole
	// (V·D float32s would be GPT-2's 154 MB).
	for lo := 0; lo < V; lo += lmChunk {
		hi := min(lo+lmChunk, V)
		w := e.lmHead.f32(lo, hi, &e.deq)
		blas.Sgemm(false, true, n, hi-lo, D, 1, x, D, w, D, 0, out[lo:], V)
	}
	return out
}

// ClassLogits returns one row of class logits per sequence (len(off)-1, C):
// decoders score each sequence's last token, BERT and RoBERTa its first
// through their pooler or classification head.
func (e *Engine) ClassLogits(h []float32, off []int) []float32 {
	c, D := e.Config, e.Config.D
	C := len(c.Labels)
	B := len(off) - 1
	x := make([]float32, B*D)
	for s := 0; s < B; s++ {
		r := off[s+1] - 1
		if c.Family == nn.BERT || c.Family == nn.RoBERTa {
			r = off[s]
		}
		copy(x[s*D:(s+1)*D], h[r*D:(r+1)*D])
	}
	if e.poolW != nil {
		pooled := make([]float32, B*D)
		blas.Sgemm(false, true, B, D, D, 1, x, D, e.poolW, D, 0, pooled, D)
		scratch := make([]float32, D)
		for s := 0; s < B; s++ {
			ops.BiasActRow(ops.ActTanh, pooled[s*D:(s+1)*D], scratch, pooled[s*D:(s+1)*D], e.poolB)
		}
		x = pooled
	}
	out := make([]float32, B*C)
	blas.Sgemm(false, true, B, C, D, 1, x, D, e.clsW, D, 0, out, C)
	if e.clsB != nil {
		for s := 0; s < B; s++ {
			addTo(out[s*C:(s+1)*C], e.clsB)
		}
	}
	return out
}

// lmChunk is the number of LM-head rows LMLogits widens at a time: 4096
// rows of GPT-2's 768 are 12 MB, a few products' worth of the batch.
const lmChunk = 4096
