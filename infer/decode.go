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
	team   *parallel.Team
	max    int
	n      int         // tokens in the cache
	k, v   [][]float32 // per layer (kvHeads, max, S), RoPE applied to keys
	x, a   []float32
	q      []float32
	h, g   []float32
	logit  []float32
	acc    [][]float32 // per worker (D)
	hon    []bool
	gon    []bool
	runs   []run
	in     [][]float32 // per layer (max, D): normed attention inputs
	seq    []int       // 0, 1, …, max-1: token rows of in
	done   [][]int     // per layer and key/value head: tokens whose keys and values are in the cache
	active []int       // active heads of the current layer
	need   []int       // key/value heads they read
	topk   topK        // top-k routing's scratch
}

// run is a contiguous range of rows [lo, hi) of a layer's FFN.
type run struct{ lo, hi int }

// NewSession starts a decoding session of at most maxLen tokens.
func (e *Engine) NewSession(maxLen int) (*Session, error) {
	c := e.Config
	if !c.Causal() {
		return nil, fmt.Errorf("generation needs a decoder (gpt2 or the llama layout), not %s", c.Family)
	}
	if c.Task != nn.CausalLM {
		return nil, fmt.Errorf("generation needs a causal language model, not a %s model", c.Task)
	}
	if lim := c.MaxLen(); lim > 0 && maxLen > lim {
		maxLen = lim // learned positions, a sliding window or dynamic RoPE end here
	}
	e.ensureRoPE(maxLen)
	s := &Session{e: e, max: maxLen, team: parallel.Shared()}
	D := c.D
	for _, ly := range e.layers {
		s.k = append(s.k, make([]float32, maxLen*ly.kvHeads*e.S))
		s.v = append(s.v, make([]float32, maxLen*ly.kvHeads*e.S))
		s.in = append(s.in, make([]float32, maxLen*D))
		s.done = append(s.done, make([]int, ly.kvHeads))
	}
	s.x, s.a = make([]float32, D), make([]float32, D)
	for t := range maxLen {
		s.seq = append(s.seq, t)
	}
	for range s.team.Size() {
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
	s.split([]run{{0, c.Vocab}}, func(_ int, lo, hi int) {
		e.lmHead.gemvN(lo, hi, s.x, s.logit[lo:hi])
	})
	fixed := e.lmHead.bytes() + 4*float64(c.D*(1+b2i(e.wpe != nil)))
	e.Stats.Read += fixed
	e.Stats.Bound += fixed
	s.n++
	e.Stats.Tokens++
	return s.logit, nil
}

// layerStep runs one layer for the session's current token.
func (s *Session) layerStep(l int, ly *layer) {
	e, D := s.e, s.e.Config.D
	nh, ng, k := len(ly.heads), len(ly.groups), e.Manifest.GroupSize
	s.hon, s.gon = growBool(s.hon, nh), growBool(s.gon, ng)
	s.gates(ly)
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

	e.norm(s.a, s.x, ly.n1w, ly.n1b, 1)
	copy(s.in[l][s.n*D:(s.n+1)*D], s.a)
	s.clearAcc()
	kv := 0
	if nh > 0 {
		s.attention(l, ly)
		kv = len(s.need)
	}
	s.countReads(ly, heads, groups, kv)
	addRowsBias(s.x, s.sumAcc(), ly.ob, 1)

	// FFN over the active groups' neurons.
	e.norm(s.a, s.x, ly.n2w, ly.n2b, 1)
	s.clearAcc()
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
		gated := ly.gate.cols > 0
		if gated {
			s.g = growF(s.g, F)
		}
		ws := e.workers()
		s.split(s.runs, func(wi, lo, hi int) {
			h := s.h[lo:hi]
			ly.up.gemvN(lo, hi, s.a, h)
			scratch := grow(&ws[wi].scratch, hi-lo)
			if gated {
				g := s.g[lo:hi]
				ly.gate.gemvN(lo, hi, s.a, g)
				if ly.gateb != nil {
					addTo(h, ly.upb[lo:hi])
					addTo(g, ly.gateb[lo:hi])
				}
				ops.SiLUMulRow(h, scratch, g, h)
			} else {
				ops.BiasActRow(e.act, h, scratch, h, ly.upb[lo:hi])
			}
			ly.down.gemvT(lo, hi, h, s.acc[wi])
		})
	}
	addRowsBias(s.x, s.sumAcc(), ly.db, 1)
}

// attention adds the active heads' share of the output projection (without
// its bias) into the workers' accumulators.
//
// Keys and values are computed lazily: the normed inputs of every token
// are kept, and a key/value head's projections run, for all the tokens
// since it was last needed, only when an active query head reads it. The
// values are the same as computing them at every token, but a head's
// key/value weights are read once per use instead of once per token.
//
// Every worker takes the same share of the rows of every active head (S/W
// of its key, value, query and output rows), so the work is even whatever
// the number of active heads and however long each key/value head has
// waited.
func (s *Session) attention(l int, ly *layer) {
	e, S, n := s.e, s.e.S, s.n
	s.active, s.need = s.active[:0], s.need[:0]
	for i, on := range s.hon {
		if !on {
			continue
		}
		s.active = append(s.active, i)
		if kv := ly.kvOf[i]; !slices.Contains(s.need, kv) {
			s.need = append(s.need, kv)
		}
	}
	if len(s.active) == 0 {
		return
	}
	s.q = growF(s.q, len(ly.heads)*S)
	done, K, V, in := s.done[l], s.k[l], s.v[l], s.in[l]
	ws := e.workers()
	W := min(len(ws), len(s.acc))
	// Pass 1: the keys and values not yet cached, and the queries.
	s.team.Run(func(wi int) {
		if wi >= W {
			return
		}
		r0, r1 := wi*S/W, (wi+1)*S/W
		for _, kv := range s.need {
			bk, bv := ly.kb[kv*S+r0:kv*S+r1], ly.vb[kv*S+r0:kv*S+r1]
			// The tokens since the head was last read, in one product per
			// matrix (its rows come from memory once for all of them).
			lo, k := done[kv], r1-r0
			toks := s.seq[lo : n+1]
			buf := grow(&ws[wi].out, 2*len(toks)*k)
			ly.k.dotRows(buf, in, toks, kv*S+r0, kv*S+r1)
			ly.v.dotRows(buf[len(toks)*k:], in, toks, kv*S+r0, kv*S+r1)
			for i, t := range toks {
				kr, vr := K[(kv*s.max+t)*S:][r0:r1], V[(kv*s.max+t)*S:][r0:r1]
				for j := range kr {
					kr[j] = buf[i*k+j] + bk[j]
					vr[j] = buf[(len(toks)+i)*k+j] + bv[j]
				}
			}
		}
		for _, i := range s.active {
			q := s.q[i*S+r0 : i*S+r1]
			ly.q.gemvN(i*S+r0, i*S+r1, s.a, q)
			addTo(q, ly.qb[i*S+r0:i*S+r1])
		}
	})
	for _, kv := range s.need {
		for t := done[kv]; t <= n; t++ {
			e.prepHead(K[(kv*s.max+t)*S:][:S], ly.kn, t)
		}
		done[kv] = n + 1
	}
	for _, i := range s.active {
		e.prepHead(s.q[i*S:(i+1)*S], ly.qn, n)
	}
	// Pass 2: every worker computes each active head's attention weights
	// (S multiply-adds per key, cheap next to the weights) and its share of
	// the head's context rows and output rows.
	T := n + 1
	scale := float32(1 / math.Sqrt(float64(S)))
	s.team.Run(func(wi int) {
		r0, r1 := wi*S/W, (wi+1)*S/W
		if wi >= W || r0 == r1 {
			return
		}
		w := ws[wi]
		for _, i := range s.active {
			kv := ly.kvOf[i]
			q := s.q[i*S : (i+1)*S]
			keys, vals := K[kv*s.max*S:], V[kv*s.max*S:]
			p := grow(&w.p, T)
			for t := 0; t < T; t++ {
				p[t] = vec.Dot(q, keys[t*S:(t+1)*S]) * scale
			}
			ops.SoftmaxRow(p, T)
			ctx := grow(&w.ctx, r1-r0)
			clear(ctx)
			for t := 0; t < T; t++ {
				vec.Axpy(p[t], vals[t*S+r0:t*S+r1], ctx)
			}
			ly.o.gemvT(i*S+r0, i*S+r1, ctx, s.acc[wi])
		}
	})
}

// countReads adds the weight bytes a layer step reads, and their bound,
// to the engine's Stats (Stats.Read, Stats.Bound): heads and groups are
// the units on, kv the key/value heads they read.
func (s *Session) countReads(ly *layer, heads, groups, kv int) {
	e, S := s.e, s.e.S
	attn := ly.q.bytes() + ly.k.bytes() + ly.v.bytes() + ly.o.bytes()
	ffn := ly.up.bytes() + ly.gate.bytes() + ly.down.bytes()
	read := float64(heads*S)*(ly.q.rowBytes()+ly.o.rowBytes()) + float64(kv*S)*(ly.k.rowBytes()+ly.v.rowBytes())
	bound := 0.0
	if nh := len(ly.heads); nh > 0 {
		bound += attn * float64(heads) / float64(nh)
	}
	if ng := len(ly.groups); ng > 0 {
		read += ffn * float64(groups) / float64(ng)
		bound += ffn * float64(groups) / float64(ng)
	}
	if ly.rt != nil && !e.Dense {
		read += 4 * float64(len(ly.rt)) // the routers stay float32
		bound += 4 * float64(len(ly.rt))
	}
	e.Stats.Read += read
	e.Stats.Bound += bound
}

// clearAcc zeroes the workers' accumulators.
func (s *Session) clearAcc() {
	for _, a := range s.acc {
		clear(a)
	}
}

// sumAcc adds the workers' accumulators into the first and returns it.
func (s *Session) sumAcc() []float32 {
	y := s.acc[0]
	for _, a := range s.acc[1:] {
		addTo(y, a)
	}
	return y
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

// gates decides the layer's heads and groups for the current token: one
// matrix-vector product over both routers' rows, then the gate rule.
func (s *Session) gates(ly *layer) {
	e := s.e
	routed := ly.rt != nil && !e.Dense
	if routed {
		U := len(ly.rt) / len(s.x)
		s.logit = growF(s.logit, U)
		s.rowsDot(s.logit, ly.rt, s.x)
	}
	off := 0
	g := newGateRule(ly.tau, e.Manifest.Shift)
	decide := func(on []bool, w, bias []float32, always []bool, k int) {
		r := routed && w != nil
		if r && k >= 0 { // top-k routing (topk.go)
			lg := s.logit[off:]
			s.topk.decide(on, always, k, func(u int) float64 { return float64(lg[u]) + float64(bias[u]) })
			off += len(always)
			return
		}
		for u := range always {
			v := always[u] || !r
			if !v {
				v = g.on(float64(s.logit[off+u]) + float64(bias[u]))
			}
			on[u] = v
		}
		if w != nil {
			off += len(always)
		}
	}
	decide(s.hon, ly.rh, ly.rhb, ly.headOn, ly.kh)
	decide(s.gon, ly.rg, ly.rgb, ly.groupOn, ly.kg)
}

// rowsDot sets y = W·x for the row-major W of len(x) columns, its rows
// split over the workers.
func (s *Session) rowsDot(y, w, x []float32) {
	D := len(x)
	s.split([]run{{0, len(w) / D}}, func(_ int, lo, hi int) {
		vec.GemvN(w[lo*D:hi*D], x, 0, y[lo:hi])
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
	each := s.team.Run
	if total < 64 {
		W, each = 1, func(f func(int)) { f(0) }
	}
	each(func(wi int) {
		from, to := wi*total/W, (wi+1)*total/W
		seen := 0
		for _, r := range runs {
			lo, hi := max(r.lo, r.lo+from-seen), min(r.hi, r.lo+to-seen)
			if lo < hi {
				f(wi, lo, hi)
			}
			seen += r.hi - r.lo
		}
	})
}
