package infer

import (
	"fmt"
	"math"
	"slices"

	"github.com/sparsetune/sparsetune/internal/ops"
	"github.com/sparsetune/sparsetune/internal/parallel"
	"github.com/sparsetune/sparsetune/internal/vec"
	"github.com/sparsetune/sparsetune/nn"
)

// Session decodes one sequence token by token with a key/value cache
// (decoders only). Per token it reads only the weights of the units the
// routers keep: the active heads' query, key/value and output rows, the
// active groups' neurons (matrix-vector products over contiguous row
// runs), and the LM head.
type Session struct {
	e      *Engine
	max    int
	n      int         // tokens in the cache
	k, v   [][]float32 // per layer (max, kvHeads·S), RoPE applied to keys
	x, a   []float32
	q, ctx []float32
	p      []float32
	h, g   []float32
	logit  []float32
	acc    [][]float32 // per worker (D)
	hon    []bool
	gon    []bool
	runs   []run
	in     [][]float32 // per layer (max, D): normed attention inputs
	done   [][]int     // per layer and key/value head: tokens whose keys and values are in the cache
	active []int       // active heads of the current layer
	need   []int       // key/value heads they read
}

// run is a contiguous range of rows [lo, hi) of a layer's FFN.
type run struct{ lo, hi int }

// NewSession starts a decoding session of at most maxLen tokens.
func (e *Engine) NewSession(maxLen int) (*Session, error) {
	c := e.Config
	if c.Family != nn.GPT2 && c.Family != nn.LLaMA {
		return nil, fmt.Errorf("generation needs a decoder (gpt2 or llama), not %s", c.Family)
	}
	if c.Task != nn.CausalLM {
		return nil, fmt.Errorf("generation needs a causal language model, not a %s model", c.Task)
	}
	if c.Family != nn.LLaMA && maxLen > c.MaxPos {
		maxLen = c.MaxPos
	}
	s := &Session{e: e, max: maxLen}
	D := c.D
	for _, ly := range e.layers {
		s.k = append(s.k, make([]float32, maxLen*ly.kvHeads*e.S))
		s.v = append(s.v, make([]float32, maxLen*ly.kvHeads*e.S))
		s.in = append(s.in, make([]float32, maxLen*D))
		s.done = append(s.done, make([]int, ly.kvHeads))
	}
	s.x, s.a = make([]float32, D), make([]float32, D)
	for range parallel.Workers() {
		s.acc = append(s.acc, make([]float32, D))
	}
	return s, nil
}

// Len is the number of tokens decoded so far.
func (s *Session) Len() int { return s.n }

// Step feeds one token and returns the next-token logits (V), valid until
// the next call.
func (s *Session) Step(id int) ([]float32, error) {
	e, c := s.e, s.e.Config
	if id < 0 || id >= c.Vocab {
		return nil, fmt.Errorf("token id %d is outside the vocabulary [0, %d)", id, c.Vocab)
	}
	if s.n >= s.max {
		return nil, fmt.Errorf("the session holds at most %d tokens", s.max)
	}
	pos := []int{0}
	e.embed(s.x, []int{id}, nil, pos, s.n)
	for l, ly := range e.layers {
		s.layerStep(l, ly)
	}
	e.norm(s.x, s.x, e.finW, e.finB, 1)
	s.logit = growF(s.logit, c.Vocab)
	s.rowsDot(s.logit, e.lmHead, []run{{0, c.Vocab}}, s.x, nil)
	s.n++
	e.Stats.Tokens++
	return s.logit, nil
}

// layerStep runs one layer for the session's current token.
func (s *Session) layerStep(l int, ly *layer) {
	e, D, S := s.e, s.e.Config.D, s.e.S
	nh, ng, k := len(ly.heads), len(ly.groups), e.Manifest.GroupSize
	s.hon, s.gon = growBool(s.hon, nh), growBool(s.gon, ng)
	s.gatesStep(s.hon, ly.rh, ly.rhb, ly.headOn, ly.tau)
	s.gatesStep(s.gon, ly.rg, ly.rgb, ly.groupOn, ly.tau)
	heads, groups := 0, 0
	for _, on := range s.hon {
		heads += b2i(on)
	}
	for _, on := range s.gon {
		groups += b2i(on)
	}
	ct := e.cost
	e.Stats.Active += float64(heads)*ct.head(s.n+1) + float64(groups)*ct.group
	e.Stats.Dense += float64(ct.h)*ct.head(s.n+1) + float64(ct.g)*ct.group
	if !e.Dense {
		e.Stats.Active += float64(2*D+1) * float64(len(ly.rhb)+len(ly.rgb))
	}

	// Attention over the active heads. Keys and values are computed
	// lazily: the normed inputs of every token are kept, and a key/value
	// head's projections run, for all the tokens since it was last needed,
	// only when an active query head reads it. The values are the same as
	// computing them at every token, but a head's key/value weights are
	// read once per use instead of once per token.
	e.norm(s.a, s.x, ly.n1w, ly.n1b, 1)
	y := s.acc[0]
	clear(y)
	if nh > 0 {
		kvS := ly.kvHeads * S
		copy(s.in[l][s.n*D:(s.n+1)*D], s.a)
		s.runs, s.active, s.need = s.runs[:0], s.active[:0], s.need[:0]
		for i, on := range s.hon {
			if !on {
				continue
			}
			s.runs = appendRun(s.runs, i*S, (i+1)*S)
			s.active = append(s.active, i)
			if kv := ly.kvOf[i]; !slices.Contains(s.need, kv) {
				s.need = append(s.need, kv)
			}
		}
		s.q = growF(s.q, nh*S)
		done := s.done[l]
		e.eachUnit(len(s.need), func(w *work, u int) {
			kv := s.need[u]
			lo, hi := done[kv], s.n+1
			m := hi - lo
			A := s.in[l][lo*D : hi*D]
			kb := grow(&w.out, 2*m*S)
			wk, wv := ly.k[kv*S*D:(kv+1)*S*D], ly.v[kv*S*D:(kv+1)*S*D]
			// Matrix-vector products: the head's weights (2·S·D) come from
			// memory once and stay in L2 for the other tokens.
			for j := 0; j < m; j++ {
				vec.GemvN(wk, A[j*D:(j+1)*D], 0, kb[j*S:(j+1)*S])
				vec.GemvN(wv, A[j*D:(j+1)*D], 0, kb[(m+j)*S:(m+j+1)*S])
			}
			bk, bv := ly.kb[kv*S:(kv+1)*S], ly.vb[kv*S:(kv+1)*S]
			for j := 0; j < m; j++ {
				kr, vr := s.k[l][(lo+j)*kvS+kv*S:][:S], s.v[l][(lo+j)*kvS+kv*S:][:S]
				for c := range kr {
					kr[c] = kb[j*S+c] + bk[c]
					vr[c] = kb[(m+j)*S+c] + bv[c]
				}
				if e.rope != nil {
					e.rope.Rotate(kr, lo+j)
				}
			}
			done[kv] = hi
		})
		// One pass per active head: its query rows, its scores and values,
		// its output-projection rows into the worker's accumulator.
		s.ctx = growF(s.ctx, nh*S)
		T := s.n + 1
		scale := float32(1 / math.Sqrt(float64(S)))
		ws := e.workers()
		for _, w := range ws {
			clear(grow(&w.dec, D))
		}
		e.eachUnit(len(s.active), func(w *work, u int) {
			i := s.active[u]
			q := s.q[i*S : (i+1)*S]
			vec.GemvN(ly.q[i*S*D:(i+1)*S*D], s.a, 0, q)
			addTo(q, ly.qb[i*S:(i+1)*S])
			if e.rope != nil {
				e.rope.Rotate(q, s.n)
			}
			kv := ly.kvOf[i] * S
			p := grow(&w.p, T)
			for t := 0; t < T; t++ {
				p[t] = vec.Dot(q, s.k[l][t*kvS+kv:]) * scale
			}
			ops.SoftmaxRow(p, T)
			ctx := s.ctx[i*S : (i+1)*S]
			clear(ctx)
			for t := 0; t < T; t++ {
				vec.Axpy(p[t], s.v[l][t*kvS+kv:t*kvS+kv+S], ctx)
			}
			vec.GemvT(ly.o[i*S*D:(i+1)*S*D], ctx, w.dec)
		})
		for _, w := range ws {
			addTo(y, w.dec)
		}
	}
	addRowsBias(s.x, y, ly.ob, 1)

	// FFN over the active groups' neurons.
	e.norm(s.a, s.x, ly.n2w, ly.n2b, 1)
	clear(y)
	if ng > 0 {
		s.runs = s.runs[:0]
		for j, on := range s.gon {
			if on {
				s.runs = appendRun(s.runs, j*k, (j+1)*k)
			}
		}
		// One pass per worker over its share of the active rows: input
		// projection, activation, output projection into its accumulator.
		F := ng * k
		s.h = growF(s.h, F)
		if ly.gate != nil {
			s.g = growF(s.g, F)
		}
		for _, a := range s.acc[1:] {
			clear(a)
		}
		ws := e.workers()
		s.split(s.runs, func(wi, lo, hi int) {
			h := s.h[lo:hi]
			vec.GemvN(ly.up[lo*D:hi*D], s.a, 0, h)
			scratch := grow(&ws[wi].scratch, hi-lo)
			if ly.gate != nil {
				g := s.g[lo:hi]
				vec.GemvN(ly.gate[lo*D:hi*D], s.a, 0, g)
				ops.SiLUMulRow(h, scratch, g, h)
			} else {
				ops.BiasActRow(e.act, h, scratch, h, ly.upb[lo:hi])
			}
			vec.GemvT(ly.down[lo*D:hi*D], h, s.acc[wi])
		})
		for _, a := range s.acc[1:] {
			addTo(y, a)
		}
	}
	addRowsBias(s.x, y, ly.db, 1)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// appendRun adds rows [lo, hi), merging with the last run when adjacent.
func appendRun(runs []run, lo, hi int) []run {
	if n := len(runs); n > 0 && runs[n-1].hi == lo {
		runs[n-1].hi = hi
		return runs
	}
	return append(runs, run{lo, hi})
}

// gatesStep decides one router's units for the current token.
func (s *Session) gatesStep(on []bool, w, bias []float32, always []bool, tau float32) {
	e := s.e
	routed := w != nil && !e.Dense
	U := len(always)
	if routed {
		s.logit = growF(s.logit, U)
		clear(s.logit)
		vec.GemvT(w, s.x, s.logit)
	}
	for u := 0; u < U; u++ {
		v := always[u] || !routed
		if !v {
			v = float32(sigmoid(float64(s.logit[u])+float64(bias[u])-e.Manifest.Shift)) > tau
		}
		on[u] = v
	}
}

// rowsDot sets y[r] = W[r,:]·x (+ bias[r]) for the rows of runs, W having
// D columns, split over the workers by rows.
func (s *Session) rowsDot(y, w []float32, runs []run, x, bias []float32) {
	D := len(x)
	s.split(runs, func(_ int, lo, hi int) {
		vec.GemvN(w[lo*D:hi*D], x, 0, y[lo:hi])
		if bias != nil {
			addTo(y[lo:hi], bias[lo:hi])
		}
	})
}

// split divides the rows of runs evenly over the workers and calls f for
// each worker's pieces, in parallel.
func (s *Session) split(runs []run, f func(worker, lo, hi int)) {
	total := 0
	for _, r := range runs {
		total += r.hi - r.lo
	}
	W := len(s.acc)
	if total < 256 {
		W = 1
	}
	parallel.For(W, 1, func(wlo, whi int) {
		for wi := wlo; wi < whi; wi++ {
			from, to := wi*total/W, (wi+1)*total/W
			seen := 0
			for _, r := range runs {
				lo, hi := max(r.lo, r.lo+from-seen), min(r.hi, r.lo+to-seen)
				if lo < hi {
					f(wi, lo, hi)
				}
				seen += r.hi - r.lo
			}
		}
	})
}
