package infer

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/internal/vec"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
)

// SyntheticConfig describes a random model for benchmarking the engine
// without a training run.
type SyntheticConfig struct {
	Family    string  // gpt2 or llama
	Layers    int     // 8
	DModel    int     // 512
	Heads     int     // 8
	FFN       int     // 2048
	Vocab     int     // 4096, the size of the BPE vocabularies sparsetune trains
	GroupSize int     // 32
	Target    float64 // compute target the routers are calibrated to, in (0, 1]
	Seed      uint64
}

func (c *SyntheticConfig) defaults() {
	set := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Family == "" {
		c.Family = "gpt2"
	}
	set(&c.Layers, 8)
	set(&c.DModel, 512)
	set(&c.Heads, 8)
	set(&c.FFN, 2048)
	set(&c.Vocab, 4096)
	set(&c.GroupSize, 32)
	if c.Target == 0 {
		c.Target = 0.5
	}
}

// Synthetic builds a random model with random contextual sigmoid routers
// over every head and group, the threshold calibrated (one global τ, by
// bisection) so that the engine's measured compute on random token
// sequences is the target.
func Synthetic(c SyntheticConfig) (*Engine, error) {
	c.defaults()
	if !(c.Target > 0 && c.Target <= 1) {
		return nil, fmt.Errorf("target must be in (0, 1], got %g", c.Target)
	}
	mc := &nn.Config{Family: nn.Family(c.Family), Task: nn.CausalLM, Vocab: c.Vocab, D: c.DModel, L: c.Layers,
		H: c.Heads, KVH: c.Heads, F: c.FFN, MaxPos: 1024, NormEps: 1e-5, PadID: -1, BOSID: -1, EOSID: -1}
	switch mc.Family {
	case nn.GPT2:
		mc.Act, mc.Tied = "gelu_new", true
	case nn.LLaMA:
		mc.Act, mc.RoPETheta = "silu", 10000
	default:
		return nil, fmt.Errorf("synthetic models are gpt2 or llama, not %q", c.Family)
	}
	if mc.D%mc.H != 0 || c.GroupSize <= 0 || mc.F%c.GroupSize != 0 {
		return nil, fmt.Errorf("d-model %d must be a multiple of heads %d and ffn %d of the group size %d", mc.D, mc.H, mc.F, c.GroupSize)
	}
	if err := mc.Validate(); err != nil {
		return nil, err
	}
	m := &nn.Model{Config: mc, Params: nn.InitParams(mc, c.Seed, tensor.Float32)}
	rc := router.DefaultConfig()
	rc.GroupSize = c.GroupSize
	set, err := router.New(rc, mc, c.Seed, tensor.Float32)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(c.Seed, 99))
	for _, p := range set.Params() {
		d := p.Value.Data().([]float32)
		for i := range d {
			if len(p.Shape) == 2 {
				d[i] = float32(rng.NormFloat64())
			} else {
				d[i] = 0
			}
		}
	}
	man := checkpoints.SparseManifest{Router: string(rc.Kind), GroupSize: c.GroupSize, Target: c.Target,
		Calibration: checkpoints.SparseCalib{Source: "random tokens", Sequences: 4, SeqLen: 128}}
	for l := 0; l < mc.L; l++ {
		ml := checkpoints.SparseLayer{Tau: 0.5}
		for h := 0; h < mc.H; h++ {
			ml.Heads = append(ml.Heads, h)
		}
		for g := 0; g < mc.F/c.GroupSize; g++ {
			ml.Groups = append(ml.Groups, g)
		}
		man.Layers = append(man.Layers, ml)
	}
	sp, err := Build(m, set.Params(), man)
	if err != nil {
		return nil, err
	}
	e, err := New(sp)
	if err != nil {
		return nil, err
	}
	calib := RandomTokens(mc.Vocab, 4, 128, c.Seed+1)
	compute, err := e.CalibrateTau(calib, c.Target, 0)
	if err != nil {
		return nil, err
	}
	e.Manifest.Compute = compute
	e.Manifest.Calibration.Tokens = 4 * 128
	e.Source = sp
	e.Source.Manifest = e.Manifest
	return e, nil
}

// RandomTokens returns B sequences of T random token ids.
func RandomTokens(vocab, B, T int, seed uint64) [][]int {
	rng := rand.New(rand.NewPCG(seed, 5))
	out := make([][]int, B)
	for i := range out {
		out[i] = make([]int, T)
		for j := range out[i] {
			out[i][j] = rng.IntN(vocab)
		}
	}
	return out
}

// CalibrateTau sets one threshold for every layer so that the measured
// compute on seqs is within 0.001 of target, or as close as bisection over
// τ gets in 20 halvings (τ to 1e-6), and returns that compute. start, a
// guess in (0, 1) such as the threshold the model was trained with (0: none),
// is tried first and brackets the search: most calibrations then take a
// few forward passes instead of twenty.
func (e *Engine) CalibrateTau(seqs [][]int, target, start float64) (float64, error) {
	measure := func(tau float64) (float64, error) {
		for i, ly := range e.layers {
			ly.tau = float32(tau)
			e.Manifest.Layers[i].Tau = tau
		}
		return e.MeasureCompute(seqs)
	}
	const tol = 0.001
	lo, hi := 0.0, 1.0 // compute falls as τ rises
	best, bestGap := 0.5, math.Inf(1)
	try := func(tau float64) (bool, error) {
		c, err := measure(tau)
		if err != nil {
			return false, err
		}
		if gap := math.Abs(c - target); gap < bestGap {
			best, bestGap = tau, gap
		}
		if c > target {
			lo = max(lo, tau)
		} else {
			hi = min(hi, tau)
		}
		return bestGap < tol, nil
	}
	if start > 0 && start < 1 {
		for _, tau := range []float64{start, start - 0.02, start + 0.02} {
			if tau <= lo || tau >= hi {
				continue
			}
			if done, err := try(tau); err != nil || done {
				c, err2 := measure(best)
				return c, errors.Join(err, err2)
			}
		}
	}
	for range 20 {
		if done, err := try((lo + hi) / 2); err != nil {
			return 0, err
		} else if done {
			break
		}
	}
	return measure(best)
}

// MeasureCompute runs seqs (32 at a time) and returns their measured
// compute; the engine's Stats are reset before and after.
func (e *Engine) MeasureCompute(seqs [][]int) (float64, error) {
	e.ResetStats()
	for lo := 0; lo < len(seqs); lo += 32 {
		if _, _, err := e.Forward(seqs[lo:min(lo+32, len(seqs))], nil); err != nil {
			return 0, err
		}
	}
	c := e.Stats.Compute()
	e.ResetStats()
	return c, nil
}

// BenchConfig sets what Bench measures.
type BenchConfig struct {
	Batch, SeqLen int // scoring batch (16 × 128)
	Prompt, Gen   int // decoding: prompt tokens, then generated tokens (16, 112)
	Reps          int // repetitions of each measurement; the median is reported (5)
	Seed          uint64
	// Seqs, when set, is the scoring batch (real data: the compute a
	// checkpoint spends depends on its input) instead of Batch random
	// sequences of SeqLen tokens.
	Seqs [][]int
}

// BenchResult holds the figures of one Bench run.
type BenchResult struct {
	Kernels        string  `json:"kernels"`         // the row kernels' level (vec.Kernels): scalar, avx2 or avx512
	ScoreMsDense   float64 `json:"score_ms_dense"`  // one scoring batch, dense
	ScoreMsSparse  float64 `json:"score_ms_sparse"` // the same batch, sparse
	ScoreSpeedup   float64 `json:"score_speedup"`
	ScoreTokPerS   float64 `json:"score_tokens_per_s_sparse"`
	DecodeMsDense  float64 `json:"decode_ms_per_token_dense"`
	DecodeMsSparse float64 `json:"decode_ms_per_token_sparse"`
	DecodeSpeedup  float64 `json:"decode_speedup"`
	Compute        float64 `json:"compute"`           // measured compute of the sparse scoring batch
	DecodeCompute  float64 `json:"decode_compute"`    // and of the decoded tokens
	DenseBlocks    float64 `json:"dense_block_share"` // share of scoring blocks run dense with masks
	UnionSparsity  float64 `json:"union_sparsity"`    // units off for every token of a scoring block
	Batch          int     `json:"batch"`
	SeqLen         int     `json:"seq_len"`
	GenTokens      int     `json:"gen_tokens"`
	WeightsMB      float64 `json:"weights_mb"`
}

// Bench measures the engine dense and sparse in one run: scoring a batch
// (forward pass and next-token logits of every position) and batch-1
// greedy decoding. Dense and sparse alternate so that both see the same
// machine state: the two scoring passes within each repetition, the two
// decoding sessions token by token.
func Bench(e *Engine, c BenchConfig, log io.Writer) (*BenchResult, error) {
	if c.Batch == 0 {
		c.Batch, c.SeqLen = 16, 128
	}
	if c.Prompt == 0 {
		c.Prompt, c.Gen = 16, 112
	}
	if c.Reps == 0 {
		c.Reps = 5
	}
	r := &BenchResult{Kernels: vec.Kernels().String(), GenTokens: c.Gen}
	if log != nil {
		fmt.Fprintf(log, "kernels: %s\n", r.Kernels)
	}
	seqs := c.Seqs
	if seqs == nil {
		seqs = RandomTokens(e.Config.Vocab, c.Batch, c.SeqLen, c.Seed+7)
	} else {
		c.Batch, c.SeqLen = len(seqs), 0
		for _, s := range seqs {
			c.SeqLen = max(c.SeqLen, len(s))
		}
	}
	score := func() (float64, error) {
		start := time.Now()
		h, off, err := e.Forward(seqs, nil)
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
	r.Batch, r.SeqLen = c.Batch, c.SeqLen
	decoder := e.Config.Task == nn.CausalLM && e.Config.Causal()
	prompt := RandomTokens(e.Config.Vocab, 1, c.Prompt, c.Seed+8)[0]
	// decode runs a dense and a sparse greedy session side by side,
	// alternating token by token, so that both see the same machine state
	// (memory-bound decoding follows the machine's other load closely); it
	// returns their ms per generated token and the sparse steps' stats.
	decode := func() (dense, sparse float64, st Stats, err error) {
		var ss [2]*Session
		var logits [2][]float32
		for i := range ss {
			e.Dense = i == 0
			if ss[i], err = e.NewSession(c.Prompt + c.Gen); err != nil {
				return 0, 0, st, err
			}
			for _, id := range prompt {
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
				if logits[i], err = ss[i].Step(Argmax(logits[i])); err != nil {
					return 0, 0, st, err
				}
				ms[i] += time.Since(start).Seconds() * 1e3
				if i == 1 {
					st.Tokens += e.Stats.Tokens - before.Tokens
					st.Active += e.Stats.Active - before.Active
					st.Dense += e.Stats.Dense - before.Dense
				}
			}
		}
		return ms[0] / float64(c.Gen), ms[1] / float64(c.Gen), st, nil
	}
	var sd, ss, dd, ds []float64
	for rep := 0; rep <= c.Reps; rep++ { // rep 0 warms up
		var ms [2]float64
		for i, dense := range []bool{true, false} {
			e.Dense = dense
			e.ResetStats()
			var err error
			if ms[i], err = score(); err != nil {
				return nil, err
			}
			if !dense && rep == 0 {
				st := e.Stats
				r.Compute = st.Compute()
				r.DenseBlocks = float64(st.DenseBlocks) / float64(st.Blocks)
				r.UnionSparsity = 1 - float64(st.UnionOn)/float64(st.UnionUnits)
			}
		}
		var dms, sms float64
		if decoder {
			var st Stats
			var err error
			if dms, sms, st, err = decode(); err != nil {
				return nil, err
			}
			if rep == 0 {
				r.DecodeCompute = st.Compute()
			}
		}
		if rep == 0 {
			continue
		}
		sd, ss = append(sd, ms[0]), append(ss, ms[1])
		dd, ds = append(dd, dms), append(ds, sms)
		if log != nil {
			fmt.Fprintf(log, "rep %d score dense %8.1f ms, sparse %8.1f ms   decode dense %6.2f, sparse %6.2f ms/token\n", rep, ms[0], ms[1], dms, sms)
		}
	}
	e.Dense = false
	r.ScoreMsDense, r.ScoreMsSparse = median(sd), median(ss)
	r.ScoreSpeedup = r.ScoreMsDense / r.ScoreMsSparse
	tokens := 0
	for _, s := range seqs {
		tokens += len(s)
	}
	r.ScoreTokPerS = float64(tokens) / r.ScoreMsSparse * 1e3
	if decoder {
		r.DecodeMsDense, r.DecodeMsSparse = median(dd), median(ds)
		r.DecodeSpeedup = r.DecodeMsDense / r.DecodeMsSparse
	}
	r.WeightsMB = float64(e.weightCount()) * 4 / 1e6
	return r, nil
}

func (e *Engine) weightCount() int {
	n := len(e.wte) + len(e.wpe)
	for _, ly := range e.layers {
		n += len(ly.q) + len(ly.k) + len(ly.v) + len(ly.o) + len(ly.up) + len(ly.gate) + len(ly.down)
	}
	if e.Config.Task == nn.CausalLM && !e.Config.Tied {
		n += len(e.lmHead)
	}
	return n
}

// Argmax returns the index of the largest logit (the first on ties):
// greedy decoding's choice.
func Argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
