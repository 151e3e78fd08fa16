package train

import (
	"errors"
	"fmt"

	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/nn"
)

// ErrStopped is returned by Run when a hook stopped the run (Hooks.EndStep):
// the run ends there as if its process were killed, without the final
// checkpoint, the test or the hardening; a resume continues it.
var ErrStopped = errors.New("train: run stopped by a hook")

// Hooks extend Run from the packages above train (package coreset records
// training dynamics through them) and from tests. Every field may be nil;
// an error a hook returns ends the run with that error. Hooks are not
// settings: they are never printed or saved with the config.
type Hooks struct {
	// Start runs once the run is set up (a resumed run at its
	// checkpoint's step), before its first step.
	Start func(*Progress) error
	// AfterStep runs after each optimizer step has updated the weights
	// and written its record, before the step's evaluation and checkpoint,
	// so that what it writes is never older than the latest checkpoint.
	AfterStep func(*Progress) error
	// EndStep runs at the end of each step, after its evaluation and
	// checkpoint. Returning ErrStopped stops the run there.
	EndStep func(*Progress) error
}

// hook runs hook f, when there is one, on the run's progress.
func (r *run) hook(f func(*Progress) error) error {
	if f == nil {
		return nil
	}
	return f(&Progress{r: r})
}

// Progress is a running Run as a hook sees it: where it is, what it
// trains on, and a forward pass of its evaluation graph.
type Progress struct{ r *run }

// Step is the number of optimizer steps done.
func (p *Progress) Step() int { return p.r.st.Step }

// Config is the run's resolved config.
func (p *Progress) Config() Config { return p.r.cfg }

// Model is the running model's config (its task and labels).
func (p *Progress) Model() *nn.Config { return p.r.model.Config }

// TrainSplit is the training data, in stored order.
func (p *Progress) TrainSplit() *data.Split { return p.r.ds.Train }

// Record is the latest step's record (zero before the first step).
func (p *Progress) Record() StepRecord { return p.r.last }

// Logits runs the evaluation graph (no dropout; hard masks when sparse)
// over split in stored order and calls fn with each sequence's index in
// split and its class logits (C), valid only during the call. Only a
// classification model has one row of logits per sequence.
func (p *Progress) Logits(split *data.Split, fn func(i int, logits []float32) error) error {
	mc := p.r.model.Config
	if mc.Task != nn.Classification {
		return fmt.Errorf("logits per sequence need a classification task, the model is %s", mc.Task)
	}
	ev, k := p.r.ev, len(mc.Labels)
	return ev.forward(split, mc, p.r.tok, func(i, row int, _ *nn.Batch) error {
		return fn(i, ev.gr.Logits.Value().Data().([]float32)[row*k:(row+1)*k])
	})
}
