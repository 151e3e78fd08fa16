package infer

import (
	"time"

	"github.com/sparsetune/sparsetune/internal/blas"
	"github.com/sparsetune/sparsetune/internal/parallel"
)

// The per-unit machinery of batched forward passes: which path a block
// takes, the rows each unit runs on, and the workers that run one product
// per unit.

// block lists, per unit, the rows on (b.idx) for one of a layer's parts
// (part 0 heads, 1 FFN groups) with U units and on (token, unit) pairs on,
// accounts for it in the stats, and reports whether it runs dense with the
// mask applied; done records how long the block took.
//
// With Engine.DenseAbove in [0, 1] the choice is that threshold on the
// fraction of pairs on. Otherwise (the default) it is measured: each part
// keeps the running time per pair of both paths over all layers (their
// products have the same shapes, so one layer's timings predict the
// next's, and a choice settles within the first forward pass), tries each
// once, then runs the one predicted faster for this block's pairs, and
// re-times the other every 16th block while the two are within a factor 2
// (a sparse path slower than dense never runs for long).
func (e *Engine) block(b *batch, flags []bool, U, on, part int) (dense bool, done func()) {
	b.idx = unitRows(b.idx, flags, b.n, U)
	all := float64(b.n * U)
	switch {
	case e.Dense:
		dense = true
	case e.DenseAbove >= 0:
		dense = float64(on) > e.DenseAbove*all
	default:
		dense = e.tuner(part).choose(float64(on), all)
	}
	e.Stats.Blocks++
	e.Stats.UnionOn += union(b.idx)
	e.Stats.UnionUnits += U
	if dense {
		e.Stats.DenseBlocks++
	}
	start := time.Now()
	return dense, func() {
		if !e.Dense && e.DenseAbove < 0 {
			e.tuner(part).record(dense, time.Since(start).Seconds(), float64(on), all)
		}
	}
}

// pathTimer is the measured cost per (token, unit) pair of a layer part's
// two paths: per unit over the pairs on, and dense over all pairs.
type pathTimer struct {
	sparse, dense float64 // seconds per pair, running means (0: not measured)
	blocks        int
}

func (e *Engine) tuner(part int) *pathTimer {
	return &e.timers[part]
}

func (t *pathTimer) choose(on, all float64) bool {
	switch {
	case t.dense == 0:
		return true
	case t.sparse == 0:
		return false
	}
	s, d := on*t.sparse, all*t.dense
	dense := d <= s
	t.blocks++
	if t.blocks%16 == 0 && max(s, d) < 2*min(s, d) {
		dense = !dense // keep the other path's time current
	}
	return dense
}

func (t *pathTimer) record(dense bool, seconds, on, all float64) {
	ewma := func(old, v float64) float64 {
		if old == 0 {
			return v
		}
		return 0.7*old + 0.3*v
	}
	if dense {
		t.dense = ewma(t.dense, seconds/all)
	} else if on > 0 {
		t.sparse = ewma(t.sparse, seconds/on)
	}
}

// unitRows fills idx[u] with the rows on for each of U units.
func unitRows(idx [][]int, on []bool, n, U int) [][]int {
	for len(idx) < U {
		idx = append(idx, nil)
	}
	for u := 0; u < U; u++ {
		idx[u] = idx[u][:0]
	}
	for r := 0; r < n; r++ {
		for u := 0; u < U; u++ {
			if on[r*U+u] {
				idx[u] = append(idx[u], r)
			}
		}
	}
	return idx[:U]
}

// union counts the units on for at least one row.
func union(idx [][]int) int {
	k := 0
	for _, rows := range idx {
		if len(rows) > 0 {
			k++
		}
	}
	return k
}

// gatherCols copies columns off..off+w of the given rows of x (row stride
// ld) into a (len(rows), w) buffer.
func gatherCols(buf *[]float32, x []float32, rows []int, ld, off, w int) []float32 {
	g := grow(buf, len(rows)*w)
	for j, r := range rows {
		copy(g[j*w:(j+1)*w], x[r*ld+off:][:w])
	}
	return g
}

// work is one worker's scratch space.
type work struct {
	xg, h, g, out, p, scratch, acc []float32
	ctx                            []float32 // a decoding step's share of a head's context rows
	deq                            []float32 // a unit's low-precision rows widened to float32
	rows                           []int
}

// workers returns the engine's per-worker scratch.
func (e *Engine) workers() []*work {
	n := parallel.Workers()
	for len(e.work) < n {
		e.work = append(e.work, &work{})
	}
	return e.work[:n]
}

// perUnit runs f for units 0..n-1 spread over the workers, each worker
// with its own scratch and the linear algebra single-threaded.
func (e *Engine) perUnit(n int, f func(w *work, u int)) {
	blas.Serial(func() { e.eachUnit(n, f) })
}

// eachUnit is perUnit for work that does not call the library (the row
// kernels of internal/vec): it leaves the library's threads alone, since
// changing their number wakes them, and woken threads spin on the cores
// the workers need.
func (e *Engine) eachUnit(n int, f func(w *work, u int)) {
	ws := e.workers()
	parallel.For(len(ws), 1, func(lo, hi int) {
		for wi := lo; wi < hi; wi++ {
			for u := wi * n / len(ws); u < (wi+1)*n/len(ws); u++ {
				f(ws[wi], u)
			}
		}
	})
}

// accumulate runs f for units 0..n-1 spread over the workers, each adding
// into its own (rows, D) accumulator, then sums the accumulators into y.
// f must not call the library (it runs the row kernels; see eachUnit).
// Units go to workers in fixed contiguous ranges, so the sums, and with
// them every gate decided downstream, are the same on every run.
func (e *Engine) accumulate(y []float32, rows, n int, f func(w *work, acc []float32, u int)) {
	ws := e.workers()
	D := len(y) / max(rows, 1)
	for wi, w := range ws {
		if wi == 0 {
			continue
		}
		clear(grow(&w.acc, rows*D))
	}
	parallel.For(len(ws), 1, func(lo, hi int) {
		for wi := lo; wi < hi; wi++ {
			acc := y
			if wi > 0 {
				acc = ws[wi].acc
			}
			for u := wi * n / len(ws); u < (wi+1)*n/len(ws); u++ {
				f(ws[wi], acc, u)
			}
		}
	})
	for wi := 1; wi < len(ws); wi++ {
		acc := ws[wi].acc
		parallel.For(rows, 64, func(lo, hi int) {
			addTo(y[lo*D:hi*D], acc[lo*D:hi*D])
		})
	}
}
