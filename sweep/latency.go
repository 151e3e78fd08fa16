package sweep

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sparsetune/sparsetune/bench"
	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/internal/jsonfile"
)

// Latency is what the inference engine measured for one job's sparse
// checkpoint: the same scoring batch and greedy decode run dense and sparse,
// alternating, the medians of several repetitions.
type Latency struct {
	Measured      bool    `json:"measured"`
	ScoreMS       float64 `json:"score_ms,omitempty"`        // scoring one batch of latencyBatch × seq_len tokens, sparse
	DenseScoreMS  float64 `json:"dense_score_ms,omitempty"`  // the same batch run dense by the same engine
	DecodeMS      float64 `json:"decode_ms,omitempty"`       // one generated token, sparse (language models)
	DenseDecodeMS float64 `json:"dense_decode_ms,omitempty"` // and dense
	ScoreSpeedup  float64 `json:"score_speedup,omitempty"`   // DenseScoreMS / ScoreMS
	DecodeSpeedup float64 `json:"decode_speedup,omitempty"`  // DenseDecodeMS / DecodeMS
	Compute       float64 `json:"compute,omitempty"`         // compute the engine's kernels spent on the scoring batch
	Note          string  `json:"note,omitempty"`            // why it was not measured
}

// latencyBatch is the scoring batch of the latency measurement: the batch
// the sweeps train with by default, so a row's latency is the cost of
// scoring what one training step sees.
const latencyBatch = 16

// measureLatency times a sparse checkpoint on the inference engine (scoring
// latencyBatch sequences of the run's validation data (random ones of seqLen
// tokens when it cannot be read), and greedy decoding for
// language models). It is the one place the engine is called from; a
// checkpoint that is not a sparse one (a dense model) is not measured.
var measureLatency = func(checkpoint string, seqLen int) (Latency, error) {
	if _, err := os.Stat(filepath.Join(checkpoint, checkpoints.SparseManifestFile)); err != nil {
		return Latency{Note: "not measured: not a sparse checkpoint"}, nil
	}
	sp, err := checkpoints.ReadSparse(checkpoint)
	if err != nil {
		return Latency{}, err
	}
	e, err := infer.New(sp)
	if err != nil {
		return Latency{}, err
	}
	bc := bench.InferConfig{Batch: latencyBatch, SeqLen: seqLen}
	// Time the run's own validation data: random tokens make routers
	// spend other compute than real text does.
	if seqs, err := bench.ValidSequences(checkpoint, latencyBatch); err == nil && len(seqs) > 0 {
		bc.Seqs = seqs
	}
	r, err := bench.Infer(e, bc, nil)
	if err != nil {
		return Latency{}, err
	}
	return Latency{Measured: true, ScoreMS: r.ScoreMsSparse, DenseScoreMS: r.ScoreMsDense, DecodeMS: r.DecodeMsSparse,
		DenseDecodeMS: r.DecodeMsDense, ScoreSpeedup: r.ScoreSpeedup, DecodeSpeedup: r.DecodeSpeedup, Compute: r.Compute}, nil
}

// jobLatency returns the job's latency: the cached measurement in
// latency.json, else a fresh one (cached when measured). Latency is measured
// at collect time, one checkpoint after another, so that every row of a
// table was timed on the same machine without other jobs running.
func jobLatency(jdir string, r *Result, seqLen int, measure bool) (Latency, error) {
	path := filepath.Join(jdir, LatencyFile)
	var l Latency
	if err := jsonfile.Read(path, &l); err == nil && l.Measured {
		return l, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return l, err
	}
	if !measure {
		return Latency{Note: "not measured: collected without latency"}, nil
	}
	l, err := measureLatency(r.Checkpoint(), seqLen)
	if err != nil || !l.Measured {
		return l, err
	}
	return l, jsonfile.Write(path, l)
}

// denseLatency is the dense point's latency: the same engine's dense runs,
// which every sparse measurement includes (the median over the jobs, whose
// models share one architecture).
func denseLatency(rows []Row) Latency {
	var score, decode []float64
	for _, r := range rows {
		if r.Kind == KindRun && r.Latency.Measured {
			score, decode = append(score, r.Latency.DenseScoreMS), append(decode, r.Latency.DenseDecodeMS)
		}
	}
	if len(score) == 0 {
		return Latency{Note: "not measured: no sparse run was measured"}
	}
	l := Latency{Measured: true, ScoreMS: bench.Median(score), DenseScoreMS: bench.Median(score), DecodeMS: bench.Median(decode), DenseDecodeMS: bench.Median(decode), ScoreSpeedup: 1, Compute: 1}
	if l.DecodeMS > 0 {
		l.DecodeSpeedup = 1
	}
	return l
}
