package train

import (
	"fmt"
	"math"

	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/metrics"
	"github.com/sparsetune/sparsetune/nn"
)

// What a loaded sparse run offers the commands above train that retune it
// (the one-run frontier of package sweep): the routers' threshold, the
// soft calibration of static routers, evaluation with hard masks, and a
// short stage-2 adaptation.

// MetricName is the name of the run's main metric: perplexity for a
// causal LM, accuracy for a classifier.
func (r *LoadedRun) MetricName() string { return metricName(r.Model.Config.Task == nn.CausalLM) }

// RouterFloor is the share of the dense routed compute that the routers
// alone cost: no target at or below it can be met.
func (r *LoadedRun) RouterFloor() float64 { return r.sp.cost.Router / r.sp.cost.Dense() }

// Tau returns the routers' hardening threshold.
func (r *LoadedRun) Tau() float64 { return r.sp.set.Config.Tau }

// SetTau sets the routers' hardening threshold (every layer's).
func (r *LoadedRun) SetTau(tau float64) { r.sp.set.Config.Tau = tau }

// Calibrate sets τ so that the hard masks spend target on seqs, as the
// run's stage switch does (harden.CalibrateRouters), and returns τ.
func (r *LoadedRun) Calibrate(seqs [][]int, target float64) (float64, error) {
	tau, _, err := r.sp.calibrate(r.Model, seqs, target)
	return tau, err
}

// EvaluateHard evaluates the model with hard masks at the current τ in the
// training graph: valid (with the run's eval_batches cap) and, when not
// nil, test (whole).
func (r *LoadedRun) EvaluateHard(valid, test *data.Split) (metrics.Metrics, *metrics.Metrics, error) {
	ev, err := newEvaluator(r.Model, r.Config.Batch, r.Config.SeqLen, r.sp)
	if err != nil {
		return metrics.Metrics{}, nil, err
	}
	defer ev.Close()
	mc := r.Model.Config
	m, err := ev.Evaluate(valid, mc, r.Tokenizer, r.Config.EvalBatches)
	if err != nil || test == nil {
		return m, nil, err
	}
	tm, err := ev.Evaluate(test, mc, r.Tokenizer, 0)
	if err != nil {
		return m, nil, err
	}
	return m, &tm, nil
}

// Adapt runs steps stage-2 steps on the model: hard masks at the current
// τ, routers frozen (they are not in the optimizer), the run's data order
// and dropout. Step k takes the learning rate the run's schedule had at the
// matching fraction of its own stage 2, so a short adaptation follows the
// same decay as a full one. It returns the last step's loss.
func (r *LoadedRun) Adapt(steps int) (float64, error) {
	cfg := r.Config
	r.sp.stage = 2
	defer func() { r.sp.stage = 1 }()
	opt, err := NewAdamW(r.Model.Params.List, AdamWConfig{Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps, WeightDecay: cfg.WeightDecay, ClipNorm: cfg.ClipNorm})
	if err != nil {
		return 0, err
	}
	opts := nn.BuildOptions{B: cfg.Batch, T: cfg.SeqLen, Dropout: cfg.Dropout, Seed: cfg.Seed}
	gr, run, err := r.sp.buildTrain(r.Model, opts)
	if err != nil {
		return 0, err
	}
	tr := &trainer{model: r.Model, sp: r.sp, opt: opt, opts: opts, gr: gr, run: run}
	defer tr.Close()
	st, order := &State{}, &epochOrder{}
	stage2Start := cfg.Steps - cfg.Stage2Steps
	var loss float64
	for k := 0; k < steps; k++ {
		lr := cfg.LearningRate(stage2Start + k*cfg.Stage2Steps/steps)
		loss = 0
		for range cfg.GradAccum {
			b := nextBatch(r.Data.Train, st, cfg, r.Model.Config, r.Tokenizer, order)
			l, err := tr.forwardBackward(b, 1/float64(cfg.GradAccum))
			if err != nil {
				return 0, fmt.Errorf("adaptation step %d: %w", k+1, err)
			}
			if math.IsNaN(l) || math.IsInf(l, 0) {
				return 0, fmt.Errorf("adaptation step %d: loss is %v", k+1, l)
			}
			loss += l / float64(cfg.GradAccum)
		}
		opt.Step(lr)
	}
	return loss, nil
}
