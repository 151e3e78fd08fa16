package infer

import (
	"math"

	"github.com/sparsetune/sparsetune/internal/blas"
	"github.com/sparsetune/sparsetune/internal/ops"
	"github.com/sparsetune/sparsetune/internal/parallel"
	"github.com/sparsetune/sparsetune/internal/vec"
)

// attention computes the attention sublayer's output projection (without
// its bias) into b.y from the normed input in.
func (e *Engine) attention(ly *layer, b *batch, in []float32, on int) {
	n, S := b.n, e.S
	clear(b.y)
	nh := len(ly.heads)
	if nh == 0 {
		return
	}
	kvS := ly.kvHeads * S
	b.k, b.v = growF(b.k, n*kvS), growF(b.v, n*kvS)
	e.linear(b.k, in, &ly.k, ly.kb, n)
	e.linear(b.v, in, &ly.v, ly.vb, n)
	dense, done := e.block(b, b.hon, nh, on, 0)
	defer done()
	e.queries(ly, b, in, dense)
	if e.rope != nil || ly.qn != nil {
		e.prepHeads(ly, b)
	}
	e.headContexts(ly, b)
	e.attnOutput(ly, b, dense)
}

// queries computes the queries of the heads on into b.q (n, nh·S): one
// product for all of them on a dense block, else per head over the
// tokens it is on for.
func (e *Engine) queries(ly *layer, b *batch, in []float32, dense bool) {
	n, S, nh := b.n, e.S, len(ly.heads)
	hS := nh * S
	b.q = growF(b.q, n*hS)
	if dense {
		e.linear(b.q, in, &ly.q, ly.qb, n)
		return
	}
	e.eachUnit(nh, func(w *work, i int) {
		rows := b.idx[i]
		if len(rows) == 0 {
			return
		}
		out := grow(&w.out, len(rows)*S)
		vec.DotRows(out, in, rows, ly.q.f32(i*S, (i+1)*S, &w.deq), S)
		bias := ly.qb[i*S : (i+1)*S]
		for j, r := range rows {
			dst := b.q[r*hS+i*S:][:S]
			for s := range dst {
				dst[s] = out[j*S+s] + bias[s]
			}
		}
	})
}

// prepHeads applies the q/k norms and RoPE (prepHead) to the queries of
// the heads on and to every key head.
func (e *Engine) prepHeads(ly *layer, b *batch) {
	S, nh := e.S, len(ly.heads)
	hS, kvS := nh*S, ly.kvHeads*S
	parallel.For(b.n, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			for i := 0; i < nh; i++ {
				if b.hon[r*nh+i] {
					e.prepHead(b.q[r*hS+i*S:][:S], ly.qn, b.pos[r])
				}
			}
			for i := 0; i < ly.kvHeads; i++ {
				e.prepHead(b.k[r*kvS+i*S:][:S], ly.kn, b.pos[r])
			}
		}
	})
}

// headContexts computes the scores and weighted values per (sequence,
// head), over the queries on, into b.ctx (n, nh·S); zero where a head is
// off.
func (e *Engine) headContexts(ly *layer, b *batch) {
	S, nh := e.S, len(ly.heads)
	hS, kvS := nh*S, ly.kvHeads*S
	b.ctx = growF(b.ctx, b.n*hS)
	clear(b.ctx)
	seqs := len(b.off) - 1
	scale := float32(1 / math.Sqrt(float64(S)))
	causal := e.Config.Causal()
	e.perUnit(seqs*nh, func(w *work, si int) {
		s, i := si/nh, si%nh
		lo, hi := b.off[s], b.off[s+1]
		L := hi - lo
		rows := w.rows[:0]
		for r := lo; r < hi; r++ {
			if b.hon[r*nh+i] {
				rows = append(rows, r)
			}
		}
		w.rows = rows
		if len(rows) == 0 {
			return
		}
		m := len(rows)
		kv := ly.kvOf[i] * S
		qs := gatherCols(&w.xg, b.q, rows, hS, i*S, S)
		p := grow(&w.p, m*L)
		blas.Sgemm(false, true, m, L, S, scale, qs, S, b.k[lo*kvS+kv:], kvS, 0, p, L)
		for j, r := range rows {
			keys := L
			if causal {
				keys = b.pos[r] + 1
			}
			ops.SoftmaxRow(p[j*L:(j+1)*L], keys)
		}
		out := grow(&w.out, m*S)
		blas.Sgemm(false, false, m, S, L, 1, p, L, b.v[lo*kvS+kv:], kvS, 0, out, S)
		for j, r := range rows {
			copy(b.ctx[r*hS+i*S:][:S], out[j*S:(j+1)*S])
		}
	})
}

// attnOutput computes the output projection of b.ctx into b.y: one
// product on a dense block, else each head's rows added for the tokens it
// is on for.
func (e *Engine) attnOutput(ly *layer, b *batch, dense bool) {
	n, D, S, nh := b.n, e.Config.D, e.S, len(ly.heads)
	hS := nh * S
	if dense {
		blas.Sgemm(false, false, n, D, hS, 1, b.ctx, hS, ly.o.f32(0, hS, &e.deq), D, 0, b.y, D)
		return
	}
	e.accumulate(b.y, n, nh, func(w *work, acc []float32, i int) {
		rows := b.idx[i]
		if len(rows) == 0 {
			return
		}
		cg := gatherCols(&w.xg, b.ctx, rows, hS, i*S, S)
		vec.AxpyRows(acc, rows, cg, ly.o.f32(i*S, (i+1)*S, &w.deq), S)
	})
}
