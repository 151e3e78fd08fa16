package train

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"time"

	"github.com/sparsetune/sparsetune/data"
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
	// BudgetMet (sparse runs): whether the best checkpoint's measured
	// compute is within budget_tol of the target; false when no
	// evaluation was, and the checkpoint closest to the target was kept.
	BudgetMet *bool `json:"budget_met,omitempty"`
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
// lines go to log; the summary is not printed here.
func Run(cfg Config, log io.Writer) (*Summary, error) {
	start := time.Now()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lock, err := prepareRunDir(&cfg)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	if cfg.Coreset != "" { // train on a subset chosen first (coreset.go)
		if err := applyCoreset(&cfg, log); err != nil {
			return nil, err
		}
	}
	// Data: tokenized once, cached by tokenizer and data hash.
	tok, err := data.LoadTokenizer(cfg.Model)
	if err != nil {
		return nil, err
	}
	model, ds, err := loadModelAndData(&cfg, tok)
	if err != nil {
		return nil, err
	}
	// Sparsity: routers, cost model and target control (target > 0 only);
	// with trainable routers the base weights are frozen (trainable.go).
	var sp *sparsity
	if err := freezeBase(&cfg, model); err != nil {
		return nil, err
	}
	if cfg.Target > 0 {
		if sp, err = newSparsity(&cfg, model); err != nil {
			return nil, err
		}
	}
	opt, err := newOptimizer(&cfg, model, sp)
	if err != nil {
		return nil, err
	}

	// State: fresh, or exactly where the latest checkpoint left off.
	st := &State{BestStep: -1}
	if cfg.Resume {
		if err := resume(&cfg, model, sp, opt, st, log); err != nil {
			return nil, err
		}
	}
	printConfig(log, &cfg, model, ds, sp) // resolved, and checked against a resumed run's

	// Graphs: one for training (backward, dropout; rebuilt when stage 2
	// starts), one for evaluation (hard masks when sparse).
	T := cfg.SeqLen
	tr := &trainer{model: model, sp: sp, opt: opt, opts: nn.BuildOptions{B: cfg.Batch, T: T, Dropout: cfg.Dropout, Seed: cfg.Seed}, borrow: cfg.GradAccum == 1}
	if err := tr.build(st); err != nil {
		return nil, err
	}
	defer tr.Close()
	ev, err := newEvaluator(model, cfg.Batch, T, sp)
	if err != nil {
		return nil, err
	}
	defer func() { ev.Close() }() // ev is rebuilt when the masks are calibrated
	// Training dynamics for coreset selection (nil unless record_dynamics).
	dyn, err := newDynamicsRecorder(&cfg, ds, model.Config, st)
	if err != nil {
		return nil, err
	}
	metrics, err := openMetrics(cfg.OutDir, st.Step)
	if err != nil {
		return nil, err
	}
	defer metrics.Close()
	saver := &saver{cfg: &cfg, model: model, opt: opt, tr: tr, sp: sp, st: st}
	lower := model.Config.Task == nn.CausalLM // perplexity: lower is better
	bud := newBudget(&cfg)                    // which sparse evaluations compete for best (budget.go)
	bar := newProgress(cfg.Steps, log)
	stoppedEarly := false
	stepTokens := int64(cfg.Batch * T * cfg.GradAccum)
	order := &epochOrder{}
	timer := time.Now()

	for st.Step < cfg.Steps {
		if sp != nil && st.Step == cfg.Steps-cfg.Stage2Steps {
			// Hardening: calibrate τ so the masks spend the target compute,
			// then evaluate with the calibrated masks. A run resumed from
			// the checkpoint saved at the switch calibrates here too: its
			// stage-2 graph was built before τ was known, so enterStage
			// rebuilds it.
			tr.stage = 1
			batches := calibrationBatches(ds.Train, &cfg, model.Config, tok)
			tau, err := sp.calibrate(model, batches)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(log, "calibrated τ = %.4f for compute %.2f on %d training batches\n", tau, cfg.Target, len(batches))
			ev.Close()
			if ev, err = newEvaluator(model, cfg.Batch, T, sp); err != nil {
				return nil, err
			}
		}
		if err := tr.enterStage(st, log); err != nil {
			return nil, err
		}
		lr := cfg.LearningRate(st.Step)
		if err := tr.beforeStep(st.Step); err != nil {
			return nil, err
		}
		// Forward and backward over grad_accum micro-batches.
		var loss float64
		for range cfg.GradAccum {
			batch := nextBatch(ds.Train, st, &cfg, model.Config, tok, order)
			l, err := tr.forwardBackward(batch, 1/float64(cfg.GradAccum))
			if err != nil {
				return nil, fmt.Errorf("step %d: %w", st.Step+1, err)
			}
			if math.IsNaN(l) || math.IsInf(l, 0) {
				opt.ZeroGrad()
				return nil, fmt.Errorf("step %d: loss is %v; lower the learning rate (lr %g) or check the data", st.Step+1, l, lr)
			}
			loss += l / float64(cfg.GradAccum)
		}
		// Update the weights, then the Lagrange multipliers.
		gnorm := opt.Step(lr)
		sparseRec, err := tr.afterStep(st.Step)
		if err != nil {
			return nil, err
		}
		st.Step++
		st.TrainTokens += stepTokens
		dt := time.Since(timer).Seconds()
		timer = time.Now()
		rec := map[string]any{"step": st.Step, "loss": loss, "lr": lr, "grad_norm": gnorm, "step_s": dt, "tokens_per_s": float64(stepTokens) / dt}
		for k, v := range sparseRec {
			rec[k] = v
		}
		metrics.write(rec)
		if st.Step%cfg.LogEvery == 0 || st.Step == 1 {
			bar.clear()
			fmt.Fprintf(log, "step %6d/%-6d | loss %8.4f | lr %.2e | gnorm %7.3f | %7.0f tok/s | %5.2f s/step%s\n",
				st.Step, cfg.Steps, loss, lr, gnorm, float64(stepTokens)/dt, dt, sparseColumns(sparseRec))
		}
		bar.update(st.Step, loss)
		if err := dyn.afterStep(st.Step, ev, ds.Train, model.Config, tok); err != nil {
			return nil, err
		}

		// Evaluate, keep the best checkpoint, stop early when it stalls.
		// A sparse model's checkpoints compete only once its masks are
		// final (stage 2).
		last := st.Step == cfg.Steps
		if st.Step%cfg.EvalEvery == 0 || last {
			m, err := ev.Evaluate(ds.Valid, model.Config, tok, cfg.EvalBatches)
			if err != nil {
				return nil, err
			}
			bar.clear()
			fmt.Fprintf(log, "eval  %6d        | %s\n", st.Step, m)
			metrics.write(m.record(st.Step, "valid"))
			eligible := sp == nil || tr.stage == 2
			if eligible && bud.improves(m.Main(), m.Compute, st, lower) {
				st.BestMetric, st.BestStep, st.EvalsSinceBest, st.BestCompute = m.Main(), st.Step, 0, m.Compute
				if _, err := saver.save("best"); err != nil {
					return nil, err
				}
			} else if eligible {
				st.EvalsSinceBest++
			}
			if cfg.Patience > 0 && st.EvalsSinceBest >= cfg.Patience && !last {
				fmt.Fprintf(log, "stopping early: no improvement in %d evaluations\n", cfg.Patience)
				stoppedEarly = true
			}
		}
		if st.Step%cfg.SaveEvery == 0 || last || stoppedEarly {
			if err := saver.checkpoint(); err != nil {
				return nil, err
			}
		}
		if stoppedEarly {
			break
		}
		if cfg.stopAfter > 0 && st.Step >= cfg.stopAfter {
			return nil, nil
		}
	}
	bar.clear()

	// Test the best checkpoint once.
	sum := &Summary{RunDir: cfg.OutDir, Checkpoint: filepath.Join(cfg.OutDir, "best"), MetricName: metricName(lower),
		Metric: st.BestMetric, Steps: st.Step, StoppedEarly: stoppedEarly}
	if sp != nil {
		met := bud.met(st.BestCompute)
		sum.Target, sum.BudgetMet = &cfg.Target, &met
		sum.TrainMetric, sum.TrainCompute = &st.BestMetric, &st.BestCompute
		if !met {
			fmt.Fprintf(log, "budget not met: no evaluation's compute was within %g of target %.2f; best is the closest, step %d at compute %.4f\n",
				cfg.BudgetTol, cfg.Target, st.BestStep, st.BestCompute)
		}
	}
	if ds.Test != nil {
		if err := loadCheckpointWeights(sum.Checkpoint, model, sp); err != nil {
			return nil, err
		}
		m, err := ev.Evaluate(ds.Test, model.Config, tok, 0)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "test  (best, step %d) | %s\n", st.BestStep, m)
		metrics.write(m.record(st.BestStep, "test"))
		v := m.Main()
		if sp != nil {
			sum.TrainTestMetric = &v
		} else {
			sum.TestMetric = &v
		}
	}
	// Harden the best checkpoint into the engine's sparse checkpoint.
	if sp != nil {
		if err := loadCheckpointWeights(sum.Checkpoint, model, sp); err != nil {
			return nil, err
		}
		hr, err := harden(&cfg, model, sp, ds.Train, ds.Valid, HardenConfig{Out: filepath.Join(cfg.OutDir, "sparse")}, log)
		if err != nil {
			return nil, err
		}
		sum.SparseCheckpoint = hr.SparseCheckpoint
		if err := evaluateDelivered(&cfg, ds, sum, log); err != nil {
			return nil, err
		}
	}
	if cfg.DenseRef != "" {
		if err := evaluateDenseRef(&cfg, ds, tok, sum, log); err != nil {
			return nil, err
		}
	}
	sum.WallS = time.Since(start).Seconds()
	sum.TokensPerS = float64(st.TrainTokens) / sum.WallS
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

// printConfig prints the resolved configuration (one JSON object), the
// model, the data and the sparsity settings.
func printConfig(w io.Writer, cfg *Config, m *nn.Model, ds *data.Dataset, sp *sparsity) {
	b, err := json.Marshal(cfg)
	if err != nil { // Validate rejects non-finite settings, so this is a bug worth seeing
		b = fmt.Appendf(nil, "(cannot be rendered: %v)", err)
	}
	fmt.Fprintf(w, "config: %s\n", b)
	fmt.Fprintf(w, "model: %s %s, %d layers, d %d, %d heads, ffn %d, %d parameters\n", m.Config.Family, m.Config.Task, m.Config.L, m.Config.D, m.Config.H, m.Config.F, m.Params.Count())
	fmt.Fprintf(w, "data: %d train, %d valid sequences of ≤ %d tokens; %+v\n", len(ds.Train.Seqs), len(ds.Valid.Seqs), cfg.SeqLen, ds.Report)
	if sp != nil {
		sp.describe(w)
	}
}
