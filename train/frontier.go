package train

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
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
// the run's calibration sequences, then evaluates the hard-masked model on
// valid and test. With AdaptSteps > 0 each point is evaluated again after that many
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
	ckpt, err := sparseRunCheckpoint("frontier", fc.Run)
	if err != nil {
		return nil, nil, err
	}
	if fc.AdaptSteps < 0 {
		return nil, nil, fmt.Errorf("frontier: adapt steps must be ≥ 0, got %d", fc.AdaptSteps)
	}
	r, err := openSparseRun(ckpt, fc.CacheDir, "")
	if err != nil {
		return nil, nil, fmt.Errorf("frontier: %w", err)
	}
	cfg, st, model, ds, tok, sp := r.cfg, r.state, r.model, r.ds, r.tok, r.sp
	floor := sp.cost.Router / sp.cost.Dense()
	for _, t := range fc.Targets {
		if t <= floor || t > 1 {
			return nil, nil, fmt.Errorf("frontier: target %g is outside (%.3f, 1]: the routers alone cost %.3f of the dense routed compute", t, floor, floor)
		}
	}
	f := &frontier{cfg: cfg, model: model, sp: sp, ds: ds, tok: tok, log: log,
		saved:   model.Params.Convert(tensor.Float32), // the checkpoint's weights, restored before each point
		batches: calibrationBatches(ds.Train, cfg, model.Config, tok),
		calib:   frontierCalibration(ds.Train, cfg)}
	curve := &FrontierCurve{Run: fc.Run, Checkpoint: ckpt, MetricName: metricName(model.Config.Task == nn.CausalLM),
		SourceTarget: cfg.Target, SourceTau: st.Tau}
	return f, curve, nil
}

// sparseRunCheckpoint resolves a run directory to its best checkpoint and
// checks that it holds routers; errors start with what (the command).
func sparseRunCheckpoint(what, run string) (string, error) {
	ckpt := run
	if _, err := os.Stat(filepath.Join(run, "best", checkpoints.StateFile)); err == nil {
		ckpt = filepath.Join(run, "best")
	} else if _, err := os.Stat(filepath.Join(run, checkpoints.StateFile)); err != nil {
		return "", fmt.Errorf("%s: %s is neither a finished run (no best checkpoint) nor a checkpoint", what, run)
	}
	if _, err := os.Stat(filepath.Join(ckpt, routerFile)); err != nil {
		return "", fmt.Errorf("%s: %s has no %s: it needs a sparse run's routers (a run trained with target > 0)", what, ckpt, routerFile)
	}
	return ckpt, nil
}

// frontier holds what the points share: the model with the checkpoint's
// weights and routers, the data and the calibration data.
type frontier struct {
	cfg     *Config
	model   *nn.Model
	sp      *sparsity
	ds      *data.Dataset
	tok     data.Tokenizer
	log     io.Writer
	saved   *nn.Params
	batches []*nn.Batch // the run's calibration batches (soft calibration, static routers)
	calib   [][]int     // calibration sequences (hard-mask calibration on the engine)
}

// frontierCalibSeqs is how many training sequences a frontier point's τ is
// calibrated on: as many as the hardening of a run's sparse checkpoint uses
// by default, so both calibrations are equally precise.
const frontierCalibSeqs = 128

// frontierCalibration takes frontierCalibSeqs training sequences in the
// fixed order of the run's own calibration batches.
func frontierCalibration(split *data.Split, cfg *Config) [][]int {
	order := data.Shuffle(len(split.Seqs), cfg.Seed, 1<<30)
	out := make([][]int, 0, frontierCalibSeqs)
	for _, i := range order[:min(len(order), frontierCalibSeqs)] {
		out = append(out, split.Seqs[i])
	}
	return out
}

// point restores the checkpoint's weights, calibrates τ for target, adapts
// for steps stage-2 steps (0: none) and evaluates.
func (f *frontier) point(target float64, steps int) (*FrontierPoint, error) {
	for i, p := range f.model.Params.List {
		copy(p.Value.Data().([]float32), f.saved.List[i].Value.Data().([]float32))
	}
	tau, err := f.calibrate(target)
	if err != nil {
		return nil, err
	}
	adaptLoss := math.NaN()
	if steps > 0 {
		if adaptLoss, err = f.adapt(steps); err != nil {
			return nil, err
		}
	}
	ev, err := newEvaluator(f.model, f.cfg.Batch, f.cfg.SeqLen, f.sp)
	if err != nil {
		return nil, err
	}
	defer ev.Close()
	mc := f.model.Config
	m, err := ev.Evaluate(f.ds.Valid, mc, f.tok, f.cfg.EvalBatches)
	if err != nil {
		return nil, err
	}
	p := &FrontierPoint{Target: target, Tau: tau, AdaptSteps: steps, Metric: m.Main(), Compute: m.Compute}
	line := fmt.Sprintf("frontier target %.2f, %3d adaptation steps | τ %.4f | valid %s", target, steps, tau, m)
	if steps > 0 {
		line += fmt.Sprintf(" | last adaptation loss %.4f", adaptLoss)
	}
	if f.ds.Test != nil {
		tm, err := ev.Evaluate(f.ds.Test, mc, f.tok, 0)
		if err != nil {
			return nil, err
		}
		v := tm.Main()
		p.TestMetric = &v
		line += fmt.Sprintf(" | test %.4f", v)
	}
	fmt.Fprintln(f.log, line)
	return p, nil
}

// calibrate sets the routers' τ so that the hard masks spend target on the
// calibration sequences as the inference engine measures them (bisection on
// τ, infer.Engine.CalibrateTau, as the hardening of a run does), and
// returns it. The soft calibration a run does at its stage switch reads the
// gate probabilities of a pass in which every unit runs a little; after
// stage 2 the model is adapted to hard masks and those probabilities no
// longer predict what the masks spend once earlier layers' masks change
// later layers' inputs (at target 0.2, a SpamAssassin run trained for 0.5
// kept no unit at all), so the frontier measures the masks themselves. A
// static router's gates do not depend on the input, and the soft
// calibration is exact for it.
func (f *frontier) calibrate(target float64) (float64, error) {
	rc := f.sp.set.Config
	if rc.Kind == router.Static {
		runTarget := f.cfg.Target
		f.cfg.Target = target // the soft calibration reads the target from the config
		defer func() { f.cfg.Target = runTarget }()
		return f.sp.calibrate(f.model, f.batches)
	}
	mc := f.model.Config
	man := checkpoints.SparseManifest{Router: string(rc.Kind), GroupSize: rc.GroupSize, Shift: rc.ProbShift(), Target: target}
	for l := 0; l < mc.L; l++ {
		ml := checkpoints.SparseLayer{Tau: rc.Tau}
		for h := 0; h < mc.H; h++ {
			ml.Heads = append(ml.Heads, h)
		}
		for g := 0; g < mc.F/rc.GroupSize; g++ {
			ml.Groups = append(ml.Groups, g)
		}
		man.Layers = append(man.Layers, ml)
	}
	sp, err := infer.Build(f.model, f.sp.params(), man)
	if err != nil {
		return 0, err
	}
	e, err := infer.New(sp)
	if err != nil {
		return 0, err
	}
	if _, err := e.CalibrateTau(f.calib, target, 0); err != nil {
		return 0, err
	}
	tau := e.Manifest.Layers[0].Tau
	f.sp.set.Config.Tau = tau
	return tau, nil
}

// adapt runs steps stage-2 steps on the model: hard masks at the calibrated
// τ, routers frozen (they are not in the optimizer), the run's data order and
// dropout. Step k takes the learning rate the run's schedule had at the
// matching fraction of its own stage 2, so a short adaptation follows the
// same decay as a full one. It returns the last step's loss.
func (f *frontier) adapt(steps int) (float64, error) {
	cfg := f.cfg
	f.sp.stage = 2
	defer func() { f.sp.stage = 1 }()
	opt, err := NewAdamW(f.model.Params.List, AdamWConfig{Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps, WeightDecay: cfg.WeightDecay, ClipNorm: cfg.ClipNorm})
	if err != nil {
		return 0, err
	}
	opts := nn.BuildOptions{B: cfg.Batch, T: cfg.SeqLen, Dropout: cfg.Dropout, Seed: cfg.Seed}
	gr, run, err := f.sp.buildTrain(f.model, opts)
	if err != nil {
		return 0, err
	}
	tr := &trainer{model: f.model, sp: f.sp, opt: opt, opts: opts, gr: gr, run: run, stage: 2}
	defer tr.Close()
	st, order := &State{}, &epochOrder{}
	stage2Start := cfg.Steps - cfg.Stage2Steps
	var loss float64
	for k := 0; k < steps; k++ {
		lr := cfg.LearningRate(stage2Start + k*cfg.Stage2Steps/steps)
		loss = 0
		for range cfg.GradAccum {
			b := nextBatch(f.ds.Train, st, cfg, f.model.Config, f.tok, order)
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
