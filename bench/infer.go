package bench

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/internal/vec"
	"github.com/sparsetune/sparsetune/metrics"
	"github.com/sparsetune/sparsetune/nn"
)

// InferConfig sets what Infer measures.
type InferConfig struct {
	Batch, SeqLen int // scoring batch (16 × 128)
	Prompt, Gen   int // decoding: prompt tokens, then generated tokens (16, 112)
	Reps          int // repetitions of each measurement; the median is reported (5)
	Seed          uint64
	// Seqs, when set, is the scoring batch (real data: the compute a
	// checkpoint spends depends on its input) instead of Batch random
	// sequences of SeqLen tokens.
	Seqs [][]int
}

// InferResult holds the figures of one Infer run.
type InferResult struct {
	Kernels        string  `json:"kernels"`         // the row kernels' level (vec.Kernels): scalar, avx2 or avx512
	ScoreMsDense   float64 `json:"score_ms_dense"`  // one scoring batch, dense
	ScoreMsSparse  float64 `json:"score_ms_sparse"` // the same batch, sparse
	ScoreSpeedup   float64 `json:"score_speedup"`
	ScoreTokPerS   float64 `json:"score_tokens_per_s_sparse"`
	DecodeMsDense  float64 `json:"decode_ms_per_token_dense"`
	DecodeMsSparse float64 `json:"decode_ms_per_token_sparse"`
	DecodeSpeedup  float64 `json:"decode_speedup"`
	Compute        float64 `json:"compute"`        // measured compute of the sparse scoring batch
	DecodeCompute  float64 `json:"decode_compute"` // and of the decoded tokens
	// Weight bytes read per decoded token (Stats.Read), dense and sparse,
	// and the sparse tokens' bound (Stats.Bound): the on share of each
	// layer's routed weights plus the fixed ones.
	DecodeBytesDense  float64 `json:"decode_bytes_per_token_dense"`
	DecodeBytesSparse float64 `json:"decode_bytes_per_token_sparse"`
	DecodeBytesBound  float64 `json:"decode_bytes_per_token_bound"`
	DenseBlocks       float64 `json:"dense_block_share"` // share of scoring blocks run dense with masks
	UnionSparsity     float64 `json:"union_sparsity"`    // units off for every token of a scoring block
	Batch             int     `json:"batch"`
	SeqLen            int     `json:"seq_len"`
	GenTokens         int     `json:"gen_tokens"`
	WeightsMB         float64 `json:"weights_mb"` // the engine's weights as stored (Engine.WeightBytes), in MB
}

// Infer measures engine e dense and sparse in one run: scoring a batch
// (forward pass and next-token logits of every position) and batch-1
// greedy decoding. Dense and sparse alternate so that both see the same
// machine state: the two scoring passes within each repetition, the two
// decoding sessions token by token.
func Infer(e *infer.Engine, c InferConfig, log io.Writer) (*InferResult, error) {
	c = c.withDefaults()
	r := &InferResult{Kernels: vec.Kernels().String(), GenTokens: c.Gen}
	if log != nil {
		fmt.Fprintf(log, "kernels: %s\n", r.Kernels)
	}
	m := newInferRun(e, c)
	r.Batch, r.SeqLen = m.c.Batch, m.c.SeqLen
	var sd, ss, dd, ds []float64
	for rep := 0; rep <= c.Reps; rep++ { // rep 0 warms up
		score, dec, err := m.rep(r, rep == 0)
		if err != nil {
			return nil, err
		}
		if rep == 0 {
			continue
		}
		sd, ss = append(sd, score[0]), append(ss, score[1])
		dd, ds = append(dd, dec[0]), append(ds, dec[1])
		if log != nil {
			fmt.Fprintf(log, "rep %d score dense %8.1f ms, sparse %8.1f ms   decode dense %6.2f, sparse %6.2f ms/token\n", rep, score[0], score[1], dec[0], dec[1])
		}
	}
	e.Dense = false
	r.ScoreMsDense, r.ScoreMsSparse = Median(sd), Median(ss)
	r.ScoreSpeedup = r.ScoreMsDense / r.ScoreMsSparse
	tokens := 0
	for _, s := range m.seqs {
		tokens += len(s)
	}
	r.ScoreTokPerS = float64(tokens) / r.ScoreMsSparse * 1e3
	if m.decoder {
		r.DecodeMsDense, r.DecodeMsSparse = Median(dd), Median(ds)
		r.DecodeSpeedup = r.DecodeMsDense / r.DecodeMsSparse
	}
	r.WeightsMB = e.WeightBytes() / 1e6
	return r, nil
}

// withDefaults fills c's unset sizes with the defaults InferConfig names.
func (c InferConfig) withDefaults() InferConfig {
	if c.Batch == 0 {
		c.Batch, c.SeqLen = 16, 128
	}
	if c.Prompt == 0 {
		c.Prompt, c.Gen = 16, 112
	}
	if c.Reps == 0 {
		c.Reps = 5
	}
	return c
}

// inferRun is one Infer measurement: the engine, its scoring batch and
// decoding prompt.
type inferRun struct {
	e       *infer.Engine
	c       InferConfig // Batch and SeqLen those of seqs
	seqs    [][]int     // the scoring batch
	decoder bool        // whether the model decodes (a causal LM)
	prompt  []int       // the decoding prompt
}

// newInferRun picks the scoring batch (c.Seqs, or random tokens) and the
// decoding prompt.
func newInferRun(e *infer.Engine, c InferConfig) *inferRun {
	seqs := c.Seqs
	if seqs == nil {
		seqs = infer.RandomTokens(e.Config.Vocab, c.Batch, c.SeqLen, c.Seed+7)
	} else {
		c.Batch, c.SeqLen = len(seqs), 0
		for _, s := range seqs {
			c.SeqLen = max(c.SeqLen, len(s))
		}
	}
	return &inferRun{
		e: e, c: c, seqs: seqs,
		decoder: e.Config.Task == nn.CausalLM && e.Config.Causal(),
		prompt:  infer.RandomTokens(e.Config.Vocab, 1, c.Prompt, c.Seed+8)[0],
	}
}

// rep runs one repetition: the scoring batch dense then sparse, and the
// two decoding sessions (causal LMs), returning their ms (dense, sparse)
// per batch and per generated token. On the warm-up repetition (first) it
// records the compute and bytes of the sparse passes in r.
func (m *inferRun) rep(r *InferResult, first bool) (score, dec [2]float64, err error) {
	e := m.e
	for i, dense := range []bool{true, false} {
		e.Dense = dense
		e.ResetStats()
		if score[i], err = m.score(); err != nil {
			return score, dec, err
		}
		if !dense && first {
			st := e.Stats
			r.Compute = st.Compute()
			r.DenseBlocks = float64(st.DenseBlocks) / float64(st.Blocks)
			r.UnionSparsity = 1 - float64(st.UnionOn)/float64(st.UnionUnits)
		}
	}
	if !m.decoder {
		return score, dec, nil
	}
	var st [2]infer.Stats
	if dec[0], dec[1], st, err = m.decode(); err != nil {
		return score, dec, err
	}
	if first {
		r.DecodeCompute = st[1].Compute()
		if n := float64(st[1].Tokens); n > 0 {
			r.DecodeBytesDense = st[0].Read / n
			r.DecodeBytesSparse, r.DecodeBytesBound = st[1].Read/n, st[1].Bound/n
		}
	}
	return score, dec, nil
}

// score times one pass over the scoring batch (forward and logits), in ms.
func (m *inferRun) score() (float64, error) {
	e := m.e
	start := time.Now()
	h, off, err := e.Forward(m.seqs, nil)
	if err != nil {
		return 0, err
	}
	if e.Config.Task == nn.CausalLM {
		e.LMLogits(h, nil)
	} else {
		e.ClassLogits(h, off)
	}
	return time.Since(start).Seconds() * 1e3, nil
}

// decode runs a dense and a sparse greedy session side by side,
// alternating token by token, so that both see the same machine state
// (memory-bound decoding follows the machine's other load closely); it
// returns their ms per generated token and the stats of their steps
// (dense, sparse).
func (m *inferRun) decode() (dense, sparse float64, st [2]infer.Stats, err error) {
	e, c := m.e, m.c
	var ss [2]*infer.Session
	var logits [2][]float32
	for i := range ss {
		e.Dense = i == 0
		if ss[i], err = e.NewSession(c.Prompt + c.Gen); err != nil {
			return 0, 0, st, err
		}
		for _, id := range m.prompt {
			if logits[i], err = ss[i].Step(id); err != nil {
				return 0, 0, st, err
			}
		}
	}
	var ms [2]float64
	for range c.Gen {
		for i := range ss {
			e.Dense = i == 0
			before := e.Stats
			start := time.Now()
			if logits[i], err = ss[i].Step(metrics.Argmax(logits[i])); err != nil {
				return 0, 0, st, err
			}
			ms[i] += time.Since(start).Seconds() * 1e3
			addStepStats(&st[i], e.Stats, before)
		}
	}
	return ms[0] / float64(c.Gen), ms[1] / float64(c.Gen), st, nil
}

// addStepStats adds to st the tokens, work and bytes of one decoding step:
// the engine's stats now less those before it.
func addStepStats(st *infer.Stats, now, before infer.Stats) {
	st.Tokens += now.Tokens - before.Tokens
	st.Active += now.Active - before.Active
	st.Dense += now.Dense - before.Dense
	st.Read += now.Read - before.Read
	st.Bound += now.Bound - before.Bound
}

// Median is the median of v (the mean of the middle two when their number
// is even; 0 for none): the figure a benchmark reports of its repetitions.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
