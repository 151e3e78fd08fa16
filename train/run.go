package train

import (
	"io"
	"time"

	"github.com/sparsetune/sparsetune/nn"
)

// Summary is the last line a run prints: what scripts and sweeps consume.
// A sparse run's metric, test_metric, compute and test_compute are those
// of what it delivers, the sparse checkpoint, measured by the inference
// engine on the valid and test splits; the training graph's figures for
// the best checkpoint (hard masks, before hardening) stay under the train_
// keys. A dense run has no train_ keys: its metric is the best checkpoint's.
type Summary struct {
	RunDir      string   `json:"run_dir"`
	Checkpoint  string   `json:"checkpoint"`  // the best checkpoint (by the validation metric, among on-budget evaluations when sparse)
	MetricName  string   `json:"metric_name"` // "accuracy" (classification) or "perplexity" (causal LM)
	Metric      float64  `json:"metric"`      // MetricName on valid: the best checkpoint's (dense) or the sparse checkpoint's (sparse)
	TestMetric  *float64 `json:"test_metric,omitempty"`
	Steps       int      `json:"steps"`
	WallS       float64  `json:"wall_s"`
	TokensPerS  float64  `json:"tokens_per_s"`
	Target      *float64 `json:"target,omitempty"`       // sparse runs: the compute target
	Compute     *float64 `json:"compute,omitempty"`      // sparse runs: the sparse checkpoint's compute measured by the engine on valid
	TestCompute *float64 `json:"test_compute,omitempty"` // and on test
	// Sparse runs end by hardening the best checkpoint into a sparse
	// checkpoint for the engine. SparseCompute repeats Compute under its
	// older name, for readers of that key; it will be removed.
	SparseCheckpoint string   `json:"sparse_checkpoint,omitempty"`
	SparseCompute    *float64 `json:"sparse_compute,omitempty"`
	// The best checkpoint in the training graph (sparse runs): its
	// validation metric and measured hard-mask compute at its evaluation,
	// and its test metric.
	TrainMetric     *float64 `json:"train_metric,omitempty"`
	TrainCompute    *float64 `json:"train_compute,omitempty"`
	TrainTestMetric *float64 `json:"train_test_metric,omitempty"`
	DenseMetric     *float64 `json:"dense_metric,omitempty"`      // dense_reference's MetricName on valid
	DenseTest       *float64 `json:"dense_test_metric,omitempty"` // and on test
	StoppedEarly    bool     `json:"stopped_early,omitempty"`
	// BudgetMet (sparse runs): whether what the run delivers, the sparse
	// checkpoint, spends within budget_tol of the target on valid (its
	// Compute). TrainBudgetMet: whether the best checkpoint's compute in
	// the training graph was; false when no evaluation was, and the
	// checkpoint closest to the target was kept.
	BudgetMet      *bool `json:"budget_met,omitempty"`
	TrainBudgetMet *bool `json:"train_budget_met,omitempty"`
}

// State is the trainer's position, saved in every checkpoint so that a
// resumed run continues exactly.
type State struct {
	Step           int      `json:"step"`        // optimizer steps done
	Epoch          int      `json:"epoch"`       // current pass over the training data
	Cursor         int      `json:"cursor"`      // next example position in this epoch's order
	BestMetric     float64  `json:"best_metric"` // best validation metric so far
	BestStep       int      `json:"best_step"`   // step of the best checkpoint, -1 before any
	EvalsSinceBest int      `json:"evals_since_best"`
	Dropout        [][]byte `json:"dropout_rng"` // dropout RNG states, one per dropout site
	TrainTokens    int64    `json:"train_tokens"`
	BestCompute    float64  `json:"best_compute,omitempty"` // measured compute of the best checkpoint (sparse)
	Lambda1        float64  `json:"lambda1,omitempty"`      // Lagrange multipliers (sparse)
	Lambda2        float64  `json:"lambda2,omitempty"`
	RouterRNG      []byte   `json:"router_rng,omitempty"`
	Tau            float64  `json:"tau,omitempty"` // hardening threshold in use (calibrated at stage 2) // hard-concrete noise state (sparse)
}

// Run trains cfg.Model on cfg.Train and returns the run's summary. Log
// lines go to log; the summary is not printed here. hooks, at most one
// (more is a programming error and panics), extend the loop (Hooks).
func Run(cfg Config, log io.Writer, hooks ...Hooks) (*Summary, error) {
	start := time.Now()
	// Setup: the resolved config, the run directory's lock, the model and
	// the data, routers when sparse, the optimizer, and the state: fresh or
	// exactly where the latest checkpoint left off (setup.go).
	r, err := setup(cfg, log, hooks)
	if err != nil {
		return nil, err
	}
	defer r.close()
	if err := r.hook(r.hooks.Start); err != nil {
		return nil, err
	}
	for r.st.Step < r.cfg.Steps {
		// Stage 2 of a sparse run starts by calibrating τ and hardening
		// the gates into masks, and calibrates τ again a few times as the
		// model adapts to them (step.go).
		if r.sp != nil {
			if err := r.maskSteps(); err != nil {
				return nil, err
			}
		}
		// The step: forward and backward over grad_accum micro-batches,
		// then the weights and the Lagrange multipliers.
		rec, err := r.step()
		if err != nil {
			return nil, err
		}
		r.record(rec)
		if err := r.hook(r.hooks.AfterStep); err != nil {
			return nil, err
		}
		// Evaluate, keep the best checkpoint, stop early when it stalls.
		last := r.st.Step == r.cfg.Steps
		stop := false
		if r.st.Step%r.cfg.EvalEvery == 0 || last {
			if stop, err = r.evaluate(last); err != nil {
				return nil, err
			}
		}
		if r.st.Step%r.cfg.SaveEvery == 0 || last || stop {
			if err := r.saver.checkpoint(); err != nil {
				return nil, err
			}
		}
		if stop {
			r.stoppedEarly = true
			break
		}
		if err := r.hook(r.hooks.EndStep); err != nil {
			return nil, err
		}
	}
	r.bar.clear()
	// Deliver: test the best checkpoint once, harden a sparse run's into
	// the engine's sparse checkpoint and measure it there (finish.go).
	sum, err := r.finish()
	if err != nil {
		return nil, err
	}
	sum.WallS = time.Since(start).Seconds()
	sum.TokensPerS = float64(r.st.TrainTokens) / sum.WallS
	return sum, nil
}

// better reports whether metric a improves on b.
func better(a, b float64, lower bool) bool {
	if lower {
		return a < b
	}
	return a > b
}

func metricName(lower bool) string {
	if lower {
		return "perplexity"
	}
	return "accuracy"
}

// copyParams loads src's weights into dst in place (graphs keep pointing at dst's tensors).
func copyParams(dst, src *nn.Model) {
	for i, p := range dst.Params.List {
		copy(p.Value.Data().([]float32), src.Params.List[i].Value.Data().([]float32))
	}
}
