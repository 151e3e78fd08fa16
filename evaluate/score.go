package evaluate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/internal/atomicfile"
	"github.com/sparsetune/sparsetune/metrics"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/train"
)

// ScoreConfig describes a scoring run.
type ScoreConfig struct {
	ModelDir string // Hugging Face model directory
	Sparse   string // a sparse checkpoint, run by the inference engine, instead of ModelDir
	Data     string // JSONL: one {"text": ...} or {"ids": [...]} object per line; or CSV, TSV, text, Parquet texts ("text" column)
	Out      string // output JSONL; "" writes to the Score writer
	PerToken bool   // add "token_logprobs" (decoders)
	Batch    int    // sequences per forward pass (default 8)
	Dense    bool   // with Sparse: run every kept unit for every token (ignore the routers), as an export does
}

// ScoreResult is one output line. Decoders fill Logprob, Tokens, PPL (and
// TokenLogprobs); classifiers fill Probs and Label.
type ScoreResult struct {
	Logprob       *float64   `json:"logprob,omitempty"`
	Tokens        int        `json:"tokens"`
	PPL           *float64   `json:"ppl,omitempty"`
	TokenLogprobs *[]float64 `json:"token_logprobs,omitempty"`
	Probs         []float64  `json:"probs,omitempty"`
	Label         string     `json:"label,omitempty"`
	Truncated     bool       `json:"truncated,omitempty"`
}

// Score runs a model over every input of cfg.Data and writes one JSON line
// per input, in input order. Notes (truncations) go to log.
func Score(cfg ScoreConfig, out, log io.Writer) error {
	if cfg.Batch <= 0 {
		cfg.Batch = 8
	}
	var (
		mc      *nn.Config
		results []ScoreResult
		seqs    [][]int
		trunc   []bool
	)
	if cfg.Sparse != "" {
		sp, err := checkpoints.ReadSparse(cfg.Sparse)
		if err != nil {
			return err
		}
		e, err := infer.New(sp)
		if err != nil {
			return err
		}
		e.Dense = cfg.Dense
		mc = sp.Config
		if seqs, trunc, err = readScoreInputs(cfg.Data, cfg.Sparse, mc); err != nil {
			return err
		}
		if results, err = scoreSparse(e, seqs, cfg); err != nil {
			return err
		}
		fmt.Fprintf(log, "measured compute %.4f over %d tokens\n", e.Stats.Compute(), e.Stats.Tokens)
	} else {
		switch train.KindOf(cfg.ModelDir) {
		case train.SparseCheckpoint:
			return fmt.Errorf("%s is a sparse checkpoint (%s): score it with --checkpoint %s", cfg.ModelDir, checkpoints.SparseManifestFile, cfg.ModelDir)
		case train.RoutedCheckpoint: // scoring its weights densely would be another model
			return fmt.Errorf("%s is a checkpoint of a sparse run (%s): score the run's sparse checkpoint with --checkpoint (harden the run first if it has none)", cfg.ModelDir, train.RouterFile)
		}
		model, err := nn.Load(cfg.ModelDir, nn.LoadOptions{})
		if err != nil {
			return err
		}
		mc = model.Config
		if seqs, trunc, err = readScoreInputs(cfg.Data, cfg.ModelDir, mc); err != nil {
			return err
		}
		if results, err = scoreAll(model, seqs, cfg); err != nil {
			return err
		}
	}
	nTrunc := 0
	for i := range results {
		if trunc[i] {
			results[i].Truncated = true
			nTrunc++
		}
	}
	if nTrunc > 0 {
		fmt.Fprintf(log, "note: %d of %d inputs were longer than the %d tokens the model runs and were truncated\n", nTrunc, len(seqs), scoreLimit(mc))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range results {
		if err := enc.Encode(&results[i]); err != nil {
			return err
		}
	}
	if cfg.Out == "" {
		_, err := out.Write(buf.Bytes())
		return err
	}
	return atomicfile.WriteFile(cfg.Out, buf.Bytes(), 0o644)
}

// scoreAll batches sequences of similar length (sorted by length, padded to
// a multiple of 16 so few graphs are built) and scores them.
func scoreAll(model *nn.Model, seqs [][]int, cfg ScoreConfig) ([]ScoreResult, error) {
	c := model.Config
	order := make([]int, len(seqs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(seqs[order[a]]) < len(seqs[order[b]]) })
	graphs := map[int]*scoreGraph{}
	results := make([]ScoreResult, len(seqs))
	pad := max(c.PadID, 0)
	for lo := 0; lo < len(order); lo += cfg.Batch {
		idx := order[lo:min(lo+cfg.Batch, len(order))]
		T := (len(seqs[idx[len(idx)-1]]) + 15) / 16 * 16
		if lim := c.MaxLen(); lim > 0 {
			T = min(T, lim) // learned positions, a sliding window or dynamic RoPE end there
		}
		sg, ok := graphs[T]
		if !ok {
			gr, err := model.Build(nn.BuildOptions{B: cfg.Batch, T: T})
			if err != nil {
				return nil, err
			}
			run, err := gr.Compile(false)
			if err != nil {
				return nil, err
			}
			defer run.Close()
			sg = &scoreGraph{gr: gr, run: run}
			graphs[T] = sg
		}
		batch := &nn.Batch{IDs: make([]int, cfg.Batch*T), Mask: make([]int, cfg.Batch*T)}
		if c.Task == nn.Classification {
			batch.Labels = make([]int, cfg.Batch)
		}
		for r := range cfg.Batch {
			for t := range T {
				batch.IDs[r*T+t] = pad
			}
			if r < len(idx) {
				for t, id := range seqs[idx[r]] {
					batch.IDs[r*T+t], batch.Mask[r*T+t] = id, 1
				}
			} else {
				batch.Mask[r*T] = 1 // an unused row still needs one visible token
			}
		}
		if err := sg.gr.Feed(batch); err != nil {
			return nil, err
		}
		if err := sg.run.Run(); err != nil {
			return nil, err
		}
		logits := sg.gr.Logits.Value().Data().([]float32)
		for r, i := range idx {
			results[i] = scoreRow(c, logits, r, T, seqs[i], cfg.PerToken)
		}
	}
	return results, nil
}

// scoreSparse scores sequences with the inference engine, cfg.Batch at a
// time.
func scoreSparse(e *infer.Engine, seqs [][]int, cfg ScoreConfig) ([]ScoreResult, error) {
	c := e.Config
	results := make([]ScoreResult, len(seqs))
	for lo := 0; lo < len(seqs); lo += cfg.Batch {
		batch := seqs[lo:min(lo+cfg.Batch, len(seqs))]
		h, off, err := e.Forward(batch, nil)
		if err != nil {
			return nil, err
		}
		if c.Task == nn.Classification {
			logits := e.ClassLogits(h, off)
			for r := range batch {
				results[lo+r] = scoreRow(c, logits, r, 1, batch[r], cfg.PerToken)
			}
			continue
		}
		logits := e.LMLogits(h, nil)
		for r := range batch {
			results[lo+r] = scoreRow(c, logits[off[r]*c.Vocab:off[r+1]*c.Vocab], 0, len(batch[r]), batch[r], cfg.PerToken)
		}
	}
	return results, nil
}

type scoreGraph struct {
	gr  *nn.Graph
	run *nn.Runner
}

// scoreRow turns row r of a batch's logits into a result.
func scoreRow(c *nn.Config, logits []float32, r, T int, ids []int, perToken bool) ScoreResult {
	if c.Task == nn.Classification {
		k := len(c.Labels)
		row := logits[r*k : (r+1)*k]
		return ScoreResult{Tokens: len(ids), Probs: metrics.Softmax(row), Label: c.Labels[metrics.Argmax(row)]}
	}
	V := c.Vocab
	var total float64
	var lps []float64
	for t := 0; t+1 < len(ids); t++ {
		row := logits[(r*T+t)*V : (r*T+t+1)*V]
		lp := metrics.LogProb(row, ids[t+1])
		total += lp
		if perToken {
			lps = append(lps, lp)
		}
	}
	res := ScoreResult{Logprob: &total, Tokens: len(ids)}
	if perToken {
		if lps == nil {
			lps = []float64{}
		}
		res.TokenLogprobs = &lps
	}
	if n := len(ids) - 1; n > 0 {
		ppl := math.Exp(-total / float64(n))
		res.PPL = &ppl
	}
	return res
}
