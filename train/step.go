package train

import (
	"fmt"
	"math"
	"time"
)

// StepRecord is one optimizer step as metrics.jsonl records it (one JSON
// object per line, under the keys below) and the log line shows it.
type StepRecord struct {
	Step       int     // optimizer steps done, this one included: "step"
	Loss       float64 // task loss, mean over the micro-batches: "loss"
	LR         float64 // learning rate of the step: "lr"
	GradNorm   float64 // global gradient norm before clipping: "grad_norm"
	StepS      float64 // wall time of the step: "step_s"
	TokensPerS float64 // tokens (padding included) per second: "tokens_per_s"
	Sparse     *SparseStep
}

// SparseStep is a sparse run's part of a StepRecord.
type SparseStep struct {
	Stage int // 1 (soft gates, routers learn) or 2 (hard masks): "stage"
	// Stage 1 only: the expected compute ĉ of the step's batch, the
	// target it is held to, the Lagrange multipliers after the update,
	// the share of gate probabilities within 0.1 of τ, and ĉ per layer.
	ExpectedCompute      float64   // "expected_compute"
	Target               float64   // "target"
	Lambda1, Lambda2     float64   // "lambda1", "lambda2"
	NearTau              float64   // "near_tau"
	LayerExpectedCompute []float64 // "layer_expected_compute"
}

// fields are the record's JSON keys and values. metrics.jsonl writes them
// with sorted keys, non-finite numbers as null.
func (r StepRecord) fields() map[string]any {
	m := map[string]any{"step": r.Step, "loss": r.Loss, "lr": r.LR, "grad_norm": r.GradNorm, "step_s": r.StepS, "tokens_per_s": r.TokensPerS}
	if s := r.Sparse; s != nil {
		m["stage"] = s.Stage
		if s.Stage == 1 {
			m["expected_compute"], m["target"], m["lambda1"], m["lambda2"] = s.ExpectedCompute, s.Target, s.Lambda1, s.Lambda2
			m["near_tau"], m["layer_expected_compute"] = s.NearTau, s.LayerExpectedCompute
		}
	}
	return m
}

// columns renders the sparse figures of a step for the log line.
func (s *SparseStep) columns() string {
	switch {
	case s == nil:
		return ""
	case s.Stage == 2:
		return " | stage 2"
	}
	return fmt.Sprintf(" | ĉ %.3f → t %.3f | λ %.3f %.3f | near τ %.2f", s.ExpectedCompute, s.Target, s.Lambda1, s.Lambda2, s.NearTau)
}

// maskSteps keeps a sparse run's masks on its budget (under threshold
// routing; top-k masks are fixed by construction): at the switch it
// hardens the gates (enterStage2), and stage2_calibrations times more
// during stage 2 it calibrates τ again (recalibrate).
func (r *run) maskSteps() error {
	switch {
	case r.st.Step == r.sp.switchStep():
		return r.enterStage2()
	case r.sp.recalibrates(r.st.Step):
		return r.recalibrate()
	}
	return nil
}

// enterStage2 hardens a sparse run's gates: it calibrates τ so that the
// masks spend the target compute, rebuilds the evaluation graph with the
// calibrated masks and the training graph for stage 2 (hard masks, routers
// frozen). A run resumed from the checkpoint saved at the switch
// calibrates here too.
func (r *run) enterStage2() error {
	tau, err := r.calibrateMasks()
	if err != nil {
		return err
	}
	r.sp.stage = 2
	if r.sp.topK() {
		fmt.Fprintf(r.log, "stage 2 at step %d: routers frozen, top-k masks without gradient\n", r.st.Step+1)
	} else {
		fmt.Fprintf(r.log, "stage 2 at step %d: routers frozen, gates hardened at τ = %.4f\n", r.st.Step+1, tau)
	}
	return r.tr.build(r.st)
}

// recalibrate calibrates τ again during stage 2. The routers are frozen,
// but their inputs are not: as the model adapts to its masks, the gates of
// later layers see other hidden states, and the masks drift off the
// target (a SpamAssassin run at target 0.5 went from 0.50 at the switch to
// 0.56 thirty steps later). Without recalibration, the hardening at the
// end pulls τ back to the target and drops units the model had adapted
// to use; with it, the last part of stage 2 adapts the model to the masks
// the sparse checkpoint keeps.
func (r *run) recalibrate() error {
	old := r.sp.set.Config.Tau
	tau, err := r.calibrateMasks()
	if err != nil {
		return err
	}
	fmt.Fprintf(r.log, "stage 2 at step %d: τ recalibrated %.4f → %.4f\n", r.st.Step+1, old, tau)
	return r.tr.build(r.st)
}

// calibrateMasks calibrates τ for the target on the run's calibration
// sequences (sparsity.calibrate) and rebuilds the evaluation graph with
// the new masks; the caller rebuilds the training graph. It returns τ.
func (r *run) calibrateMasks() (float64, error) {
	seqs := calibrationSeqs(r.ds.Train, &r.cfg)
	tau, compute, err := r.sp.calibrate(r.model, seqs, r.cfg.Target)
	if err != nil {
		return 0, err
	}
	if !r.sp.topK() { // top-k has no τ (sparse_topk.go)
		fmt.Fprintf(r.log, "calibrated τ = %.4f: the hard masks spend %.4f (target %.2f) on %d training sequences\n", tau, compute, r.cfg.Target, len(seqs))
	}
	r.ev.Close()
	if r.ev, err = newEvaluator(r.model, r.cfg.Batch, r.cfg.SeqLen, r.sp); err != nil {
		return 0, err
	}
	return tau, r.tr.saveDropout(r.st)
}

// step runs one optimizer step: forward and backward over grad_accum
// micro-batches, then the update of the weights and of the Lagrange
// multipliers. A non-finite loss is an error naming the step.
func (r *run) step() (StepRecord, error) {
	c, st := &r.cfg, r.st
	rec := StepRecord{Step: st.Step + 1, LR: c.LearningRate(st.Step)}
	if err := r.tr.beforeStep(st.Step); err != nil {
		return rec, err
	}
	for range c.GradAccum {
		batch := nextBatch(r.ds.Train, st, c, r.model.Config, r.tok, r.order)
		l, err := r.tr.forwardBackward(batch, 1/float64(c.GradAccum))
		if err != nil {
			return rec, fmt.Errorf("step %d: %w", rec.Step, err)
		}
		if math.IsNaN(l) || math.IsInf(l, 0) {
			r.opt.ZeroGrad()
			return rec, fmt.Errorf("step %d: loss is %v; lower the learning rate (lr %g) or check the data", rec.Step, l, rec.LR)
		}
		rec.Loss += l / float64(c.GradAccum)
	}
	rec.GradNorm = r.opt.Step(rec.LR)
	var err error
	if rec.Sparse, err = r.tr.afterStep(st.Step); err != nil {
		return rec, err
	}
	tokens := int64(c.Batch * c.SeqLen * c.GradAccum)
	st.Step++
	st.TrainTokens += tokens
	rec.StepS = time.Since(r.timer).Seconds() // since the previous step ended: its evaluation and checkpoint count
	r.timer = time.Now()
	rec.TokensPerS = float64(tokens) / rec.StepS
	return rec, nil
}

// record writes the step's record to metrics.jsonl and, every log_every
// steps, its log line.
func (r *run) record(rec StepRecord) {
	r.last = rec
	r.metrics.write(rec.fields())
	if rec.Step%r.cfg.LogEvery == 0 || rec.Step == 1 {
		r.bar.clear()
		fmt.Fprintf(r.log, "step %6d/%-6d | loss %8.4f | lr %.2e | gnorm %7.3f | %7.0f tok/s | %5.2f s/step%s\n",
			rec.Step, r.cfg.Steps, rec.Loss, rec.LR, rec.GradNorm, rec.TokensPerS, rec.StepS, rec.Sparse.columns())
	}
	r.bar.update(rec.Step, rec.Loss)
}

// evaluate scores the validation data and keeps the best checkpoint. A
// sparse model's checkpoints compete only once its masks are final
// (stage 2), and then by the budget (budget.go). stop reports that
// patience ran out before the last step.
func (r *run) evaluate(last bool) (stop bool, err error) {
	st := r.st
	m, err := r.ev.Evaluate(r.ds.Valid, r.model.Config, r.tok, r.cfg.EvalBatches)
	if err != nil {
		return false, err
	}
	r.bar.clear()
	fmt.Fprintf(r.log, "eval  %6d        | %s\n", st.Step, m)
	r.metrics.write(m.Record(st.Step, "valid"))
	eligible := r.sp == nil || r.sp.stage == 2
	if eligible && r.bud.improves(m.Main(), m.Compute, st, r.lower) {
		st.BestMetric, st.BestStep, st.EvalsSinceBest, st.BestCompute = m.Main(), st.Step, 0, m.Compute
		if _, err := r.saver.save("best"); err != nil {
			return false, err
		}
	} else if eligible {
		st.EvalsSinceBest++
	}
	if p := r.cfg.Patience; p > 0 && st.EvalsSinceBest >= p && !last {
		fmt.Fprintf(r.log, "stopping early: no improvement in %d evaluations\n", p)
		return true, nil
	}
	return false, nil
}
