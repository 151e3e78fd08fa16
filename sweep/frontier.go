package sweep

import (
	"fmt"
	"io"
	"math"
	"time"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/harden"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
	"github.com/sparsetune/sparsetune/train"
)

// FrontierConfig asks for a quality/compute curve from one finished sparse
// run: its routers are kept and only the hardening threshold τ moves.
type FrontierConfig struct {
	Run        string    // a sparse run directory (its best checkpoint is used) or one of its checkpoints
	Targets    []float64 // compute targets, each in (router cost, 1]
	AdaptSteps int       // > 0: also adapt each point with this many stage-2 steps (hard masks, frozen routers)
	CacheDir   string    // tokenized-data cache; "" keeps the run's
}

// FrontierPoint is one point of a frontier: the masks calibrated for Target
// and what they measure.
type FrontierPoint struct {
	Target     float64  `json:"target"`
	Tau        float64  `json:"tau"`         // calibrated hardening threshold
	AdaptSteps int      `json:"adapt_steps"` // 0: thresholds moved post hoc only
	Metric     float64  `json:"metric"`      // the run's metric on valid (same eval_batches cap as the run)
	TestMetric *float64 `json:"test_metric,omitempty"`
	Compute    float64  `json:"compute"` // measured hard-mask compute on valid
	// KHeads and KGroups are a top-k run's heads and groups per token and
	// layer for Target (router.Config.ChooseK); its Tau stays the trained one.
	KHeads  []int `json:"k_heads,omitempty"`
	KGroups []int `json:"k_groups,omitempty"`
}

// FrontierCurve is the result of Frontier, written as frontier.json.
type FrontierCurve struct {
	Run          string          `json:"run"`
	Checkpoint   string          `json:"checkpoint"`
	MetricName   string          `json:"metric_name"`
	SourceTarget float64         `json:"source_target"` // the target the routers were trained for
	SourceTau    float64         `json:"source_tau"`    // and the τ the run calibrated
	Points       []FrontierPoint `json:"points"`        // by target, post hoc before adapted
	WallS        float64         `json:"wall_s"`
}

// Frontier loads a finished sparse run's best checkpoint with its routers and,
// for each target, calibrates τ so that the hard masks spend the target on
// the sequences the run's sparse checkpoint was calibrated on (its
// calibrate_on, held-out valid by default), then evaluates the hard-masked
// model on valid and test. With AdaptSteps > 0 each point is evaluated again after that many
// stage-2 steps (hard masks, frozen routers) started from the checkpoint, with
// the learning rates of the run's own stage 2 compressed into AdaptSteps
// steps. Every point starts from the same checkpoint, so the points are
// independent of their order.
func Frontier(fc FrontierConfig, log io.Writer) (*FrontierCurve, error) {
	start := time.Now()
	f, curve, err := loadFrontier(fc, log)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "frontier: %s (trained for target %.2f, τ %.4f), %d targets, %d adaptation steps\n", curve.Checkpoint, curve.SourceTarget, curve.SourceTau, len(fc.Targets), fc.AdaptSteps)
	for _, t := range fc.Targets {
		steps := []int{0}
		if fc.AdaptSteps > 0 {
			steps = append(steps, fc.AdaptSteps)
		}
		for _, n := range steps {
			p, err := f.point(t, n)
			if err != nil {
				return nil, fmt.Errorf("frontier: target %g: %w", t, err)
			}
			curve.Points = append(curve.Points, *p)
		}
	}
	curve.WallS = time.Since(start).Seconds()
	return curve, nil
}

// loadFrontier loads the run's model, data and checkpoint (weights and
// routers) and checks the targets.
func loadFrontier(fc FrontierConfig, log io.Writer) (*frontier, *FrontierCurve, error) {
	ckpt, err := train.SparseRunCheckpoint(fc.Run)
	if err != nil {
		return nil, nil, fmt.Errorf("frontier: %w", err)
	}
	if fc.AdaptSteps < 0 {
		return nil, nil, fmt.Errorf("frontier: adapt steps must be ≥ 0, got %d", fc.AdaptSteps)
	}
	r, err := train.OpenRun(ckpt, fc.CacheDir, "")
	if err != nil {
		return nil, nil, fmt.Errorf("frontier: %w", err)
	}
	floor := r.RouterFloor()
	for _, t := range fc.Targets {
		if t <= floor || t > 1 {
			return nil, nil, fmt.Errorf("frontier: target %g is outside (%.3f, 1]: the routers alone cost %.3f of the dense routed compute", t, floor, floor)
		}
	}
	calib, err := r.CalibrationSplit(r.Config.CalibrateOn)
	if err != nil {
		return nil, nil, fmt.Errorf("frontier: %w", err)
	}
	f := &frontier{run: r, log: log,
		saved: r.Model.Params.Convert(tensor.Float32), // the checkpoint's weights and τ, restored before each point
		tau:   r.Tau(),
		calib: harden.Pick(calib.Seqs, harden.DefaultSequences, r.Config.Seed)}
	curve := &FrontierCurve{Run: fc.Run, Checkpoint: ckpt, MetricName: r.MetricName(),
		SourceTarget: r.Config.Target, SourceTau: r.State.Tau}
	return f, curve, nil
}

// frontier holds what the points share: the loaded run (model with the
// checkpoint's weights, routers, data) and the calibration data.
type frontier struct {
	run   *train.LoadedRun
	log   io.Writer
	saved *nn.Params
	tau   float64 // the checkpoint's τ: where each point's calibration starts
	calib [][]int // the sequences the run's hardening calibrates on (calibrate_on, harden.Pick)
}

// point restores the checkpoint's weights, calibrates τ for target, adapts
// for steps stage-2 steps (0: none) and evaluates.
func (f *frontier) point(target float64, steps int) (*FrontierPoint, error) {
	r := f.run
	for i, p := range r.Model.Params.List {
		copy(p.Value.Data().([]float32), f.saved.List[i].Value.Data().([]float32))
	}
	r.SetTau(f.tau) // a point's calibration starts from the checkpoint's τ, not the last point's
	var ks router.TopKChoice
	tau, err := r.Tau(), error(nil)
	if r.RouterConfig().Routing == router.TopK { // no τ: the k for target
		ks, err = r.SetTopK(target)
	} else {
		tau, err = f.calibrate(target)
	}
	if err != nil {
		return nil, err
	}
	adaptLoss := math.NaN()
	if steps > 0 {
		if adaptLoss, err = r.Adapt(steps); err != nil {
			return nil, err
		}
	}
	m, tm, err := r.EvaluateHard(r.Data.Valid, r.Data.Test)
	if err != nil {
		return nil, err
	}
	p := &FrontierPoint{Target: target, Tau: tau, AdaptSteps: steps, Metric: m.Main(), Compute: m.Compute, KHeads: ks.KHeads, KGroups: ks.KGroups}
	choice := fmt.Sprintf("τ %.4f", tau)
	if ks.KHeads != nil || ks.KGroups != nil {
		choice = fmt.Sprintf("top-k heads %v groups %v", ks.KHeads, ks.KGroups)
	}
	line := fmt.Sprintf("frontier target %.2f, %3d adaptation steps | %s | valid %s", target, steps, choice, m)
	if steps > 0 {
		line += fmt.Sprintf(" | last adaptation loss %.4f", adaptLoss)
	}
	if tm != nil {
		v := tm.Main()
		p.TestMetric = &v
		line += fmt.Sprintf(" | test %.4f", v)
	}
	fmt.Fprintln(f.log, line)
	return p, nil
}

// calibrate sets the routers' τ so that the hard masks spend target on the
// calibration sequences as the inference engine measures them, as the
// stage switch and the hardening of a run do (harden.CalibrateRouters),
// and returns it.
func (f *frontier) calibrate(target float64) (float64, error) {
	return f.run.Calibrate(f.calib, target)
}
