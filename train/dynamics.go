package train

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/sparsetune/sparsetune/coreset"
	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/nn"
)

// DynamicsFile is the name of a run's training-dynamics table (see
// coreset.Dynamics.Save), written in the run directory when
// Config.RecordDynamics is set.
const DynamicsFile = "dynamics.jsonl"

// dynamicsRecorder records, every `every` optimizer steps, the logits the
// model gives each training example: one recording is one "epoch" of the
// coreset table (recording k at step (k+1)·every).
//
// A recording is a separate forward pass over the whole training split
// with the evaluation graph (no dropout, hard masks when sparse), not the
// logits of the training minibatches as Pleiss et al. (AUM) and Toneva et
// al. (forgetting) collect them. Every example is then scored by the same
// weights at the same moment, which EL2N (Paul et al. 2021: the score of
// one early checkpoint) needs and which a short fine-tuning run, a few
// epochs long, would otherwise give only once or twice per example. The
// cost is one forward pass over the training data per recording.
type dynamicsRecorder struct {
	every int
	path  string
	table *coreset.Dynamics
}

// newDynamicsRecorder returns nil when cfg does not ask for dynamics. On
// resume it reloads the table and drops the recordings made after the
// checkpoint's step, which the resumed run makes again.
func newDynamicsRecorder(cfg *Config, ds *data.Dataset, mc *nn.Config, st *State) (*dynamicsRecorder, error) {
	if !cfg.RecordDynamics {
		return nil, nil
	}
	if mc.Task != nn.Classification {
		return nil, fmt.Errorf("record_dynamics: training dynamics need a classification task, the model is %s", mc.Task)
	}
	r := &dynamicsRecorder{every: cfg.DynamicsEvery, path: filepath.Join(cfg.OutDir, DynamicsFile)}
	if r.every == 0 {
		r.every = max(1, len(ds.Train.Seqs)/cfg.Batch) // about one epoch
	}
	if cfg.Resume {
		t, err := coreset.LoadDynamics(r.path)
		switch {
		case err == nil:
			t.DropFrom(st.Step / r.every)
			r.table = t
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("resume: %w", err)
		}
	}
	if r.table == nil {
		r.table = coreset.NewDynamics(len(mc.Labels))
	}
	return r, nil
}

// afterStep records the training split after step when a recording is
// due, and saves the table.
func (r *dynamicsRecorder) afterStep(step int, ev *evaluator, split *data.Split, mc *nn.Config, tok data.Tokenizer) error {
	if r == nil || step%r.every != 0 {
		return nil
	}
	epoch := step/r.every - 1
	k := len(mc.Labels)
	err := ev.forward(split, mc, tok, func(i, row int, _ *nn.Batch) error {
		logits := ev.gr.Logits.Value().Data().([]float32)[row*k : (row+1)*k]
		return r.table.Record(epoch, split.IDs[i], logits, split.Labels[i])
	})
	if err != nil {
		return fmt.Errorf("step %d: recording training dynamics: %w", step, err)
	}
	return r.table.Save(r.path)
}

// forward runs the evaluation graph over split in stored order, one batch
// at a time, and calls fn for each sequence with its index in split and
// its row in the batch, while the graph's values hold that batch.
func (e *evaluator) forward(split *data.Split, mc *nn.Config, tok data.Tokenizer, fn func(i, row int, b *nn.Batch) error) error {
	for lo := 0; lo < len(split.Seqs); lo += e.B {
		idx := make([]int, 0, e.B)
		for i := lo; i < min(lo+e.B, len(split.Seqs)); i++ {
			idx = append(idx, i)
		}
		b := makeBatch(split, idx, e.B, e.T, mc, tok)
		if err := e.gr.Feed(b); err != nil {
			return err
		}
		if err := e.run.Run(); err != nil {
			return err
		}
		for row, i := range idx {
			if err := fn(i, row, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// embed returns one vector per sequence of split: the final hidden state
// (after the last LayerNorm/RMSNorm) averaged over the sequence's real
// tokens, then scaled to unit length so that k-means on the vectors
// compares directions (cosine similarity), not the norm, which in small
// GPT-2 models is dominated by a few outlier dimensions.
func (e *evaluator) embed(split *data.Split, mc *nn.Config, tok data.Tokenizer) (map[string][]float32, error) {
	out := make(map[string][]float32, len(split.Seqs))
	D := mc.D
	err := e.forward(split, mc, tok, func(i, row int, b *nn.Batch) error {
		h := e.gr.Hidden[len(e.gr.Hidden)-1].Value().Data().([]float32) // (B*T, D)
		v := make([]float64, D)
		n := 0
		for t := range e.T {
			if b.Mask[row*e.T+t] == 0 {
				continue
			}
			n++
			for j, x := range h[(row*e.T+t)*D : (row*e.T+t+1)*D] {
				v[j] += float64(x)
			}
		}
		norm := 0.0
		for _, x := range v {
			norm += x * x
		}
		norm = math.Sqrt(norm)
		if norm == 0 || n == 0 {
			return fmt.Errorf("example %q: zero embedding", split.IDs[i])
		}
		emb := make([]float32, D)
		for j, x := range v {
			emb[j] = float32(x / norm)
		}
		out[split.IDs[i]] = emb
		return nil
	})
	return out, err
}

// LoadDynamicsOf reads the training-dynamics table at path, or in the run
// directory path (its DynamicsFile).
func LoadDynamicsOf(path string) (*coreset.Dynamics, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, DynamicsFile)
	}
	return coreset.LoadDynamics(path)
}
