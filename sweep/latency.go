package sweep

import (
	"errors"
	"io/fs"
	"path/filepath"
)

// Latency is what the inference engine measured for one job's checkpoint.
type Latency struct {
	Measured      bool    `json:"measured"`
	ScoreMS       float64 `json:"score_ms,omitempty"`       // scoring one sequence of seq_len tokens
	DecodeMS      float64 `json:"decode_ms,omitempty"`      // one generated token (language models)
	ScoreSpeedup  float64 `json:"score_speedup,omitempty"`  // the dense model's scoring time over this one's, same engine and machine
	DecodeSpeedup float64 `json:"decode_speedup,omitempty"` // the same for decoding
	Compute       float64 `json:"compute,omitempty"`        // compute the engine's kernels spent, as a fraction of dense
	Note          string  `json:"note,omitempty"`           // why it was not measured
}

// measureLatency times a checkpoint on the inference engine. It is the one
// place the engine is called from; until the engine's benchmark is wired in
// here it reports every checkpoint as not measured, and the tables and the
// latency plot say so.
var measureLatency = func(checkpoint string) (Latency, error) {
	return Latency{Note: "not measured: this build has no inference engine benchmark"}, nil
}

// jobLatency returns the job's latency: the cached measurement in
// latency.json, else a fresh one (cached when measured). Latency is measured
// at collect time, one checkpoint after another, so that every row of a
// table was timed on the same machine without other jobs running.
func jobLatency(jdir string, r *Result) (Latency, error) {
	path := filepath.Join(jdir, LatencyFile)
	var l Latency
	if err := readJSON(path, &l); err == nil && l.Measured {
		return l, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return l, err
	}
	l, err := measureLatency(r.Checkpoint())
	if err != nil || !l.Measured {
		return l, err
	}
	return l, writeJSON(path, l)
}
