package coreset

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/train"
)

// DynamicsFile is the name of a run's training-dynamics table (see
// Dynamics.Save), written in the run directory by a Recorder
// (Settings.RecordDynamics).
const DynamicsFile = "dynamics.jsonl"

// Recorder records a training run's dynamics through train.Hooks: every
// `every` optimizer steps, the logits the model gives each training
// example; one recording is one "epoch" of the table (recording k at step
// (k+1)·every; a run shorter than every records once, at its end), saved
// in the run directory as DynamicsFile after each.
//
// A recording is a separate forward pass over the whole training split
// with the evaluation graph (no dropout, hard masks when sparse), not the
// logits of the training minibatches as Pleiss et al. (AUM) and Toneva et
// al. (forgetting) collect them. Every example is then scored by the same
// weights at the same moment, which EL2N (Paul et al. 2021: the score of
// one early checkpoint) needs and which a short fine-tuning run, a few
// epochs long, would otherwise give only once or twice per example. The
// cost is one forward pass over the training data per recording.
type Recorder struct {
	every int // steps between recordings; 0 until the run starts: about one epoch
	path  string
	table *Dynamics
}

// NewRecorder records every `every` steps (0: about one epoch, the
// training examples over the batch size).
func NewRecorder(every int) *Recorder { return &Recorder{every: every} }

// Hooks are the recorder's hooks for train.Run.
func (r *Recorder) Hooks() train.Hooks {
	return train.Hooks{Start: r.start, AfterStep: r.afterStep}
}

// start checks that the run classifies and opens the table. On resume it
// reloads the table and drops the recordings made after the checkpoint's
// step, which the resumed run makes again.
func (r *Recorder) start(p *train.Progress) error {
	cfg, mc := p.Config(), p.Model()
	if mc.Task != nn.Classification {
		return fmt.Errorf("record_dynamics: training dynamics need a classification task, the model is %s", mc.Task)
	}
	r.path = filepath.Join(cfg.OutDir, DynamicsFile)
	if r.every == 0 {
		r.every = max(1, len(p.TrainSplit().Seqs)/cfg.Batch) // about one epoch
	}
	r.table = nil
	if cfg.Resume {
		t, err := LoadDynamics(r.path)
		switch {
		case err == nil:
			t.DropFrom(p.Step() / r.every)
			r.table = t
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("resume: %w", err)
		}
	}
	if r.table == nil {
		r.table = NewDynamics(len(mc.Labels))
	}
	return nil
}

// afterStep records the training split after a step when a recording is
// due, and saves the table. A run shorter than one interval records once,
// at its last step, so that it leaves a table to score with.
func (r *Recorder) afterStep(p *train.Progress) error {
	step := p.Step()
	if step%r.every != 0 && !(step == p.Config().Steps && step < r.every) {
		return nil
	}
	epoch := max(step/r.every-1, 0)
	split := p.TrainSplit()
	err := p.Logits(split, func(i int, logits []float32) error {
		return r.table.Record(epoch, split.IDs[i], logits, split.Labels[i])
	})
	if err != nil {
		return fmt.Errorf("step %d: recording training dynamics: %w", step, err)
	}
	return r.table.Save(r.path)
}

// LoadDynamicsOf reads the training-dynamics table at path, or in the run
// directory path (its DynamicsFile).
func LoadDynamicsOf(path string) (*Dynamics, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, DynamicsFile)
	}
	return LoadDynamics(path)
}
