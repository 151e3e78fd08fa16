package train

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/internal/jsonfile"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
)

// HardenConfig describes the hardening of a sparse run into a sparse
// checkpoint (docs/sparse-checkpoint.md).
type HardenConfig struct {
	Checkpoint string  // a sparse run directory (its best checkpoint) or a checkpoint
	Out        string  // sparse checkpoint directory to write
	Data       string  // calibration data; "": the run's training data
	Target     float64 // compute target; 0: the run's
	// PruneBelow and DenseAbove: a unit on for at most PruneBelow of the
	// calibration tokens is removed physically; one on for at least
	// DenseAbove of them runs for every token without routing.
	PruneBelow, DenseAbove float64
	Sequences              int    // calibration sequences (default 128)
	CacheDir               string // token cache; "": the run's
}

// HardenResult is what hardening prints as JSON.
type HardenResult struct {
	SparseCheckpoint string  `json:"sparse_checkpoint"`
	Target           float64 `json:"target"`
	Tau              float64 `json:"tau"`
	Compute          float64 `json:"compute"`          // measured on the calibration set
	HeldOutCompute   float64 `json:"held_out_compute"` // measured on the run's validation data
	Removed          int     `json:"units_removed"`
	Dense            int     `json:"units_dense"`
	Routed           int     `json:"units_routed"`
}

func (h *HardenConfig) defaults() {
	if h.PruneBelow == 0 {
		h.PruneBelow = 0.001
	}
	if h.DenseAbove == 0 {
		h.DenseAbove = 0.999
	}
	if h.Sequences == 0 {
		h.Sequences = 128
	}
}

// Harden loads a sparse run's checkpoint with its routers and writes its
// sparse checkpoint (see harden).
func Harden(hc HardenConfig, log io.Writer) (*HardenResult, error) {
	hc.defaults()
	if hc.Out == "" {
		return nil, fmt.Errorf("harden: an output directory is required")
	}
	switch {
	case !in(hc.Target, 0, 1):
		return nil, fmt.Errorf("harden: target must be in (0, 1] (0: the run's), got %g", hc.Target)
	case !(hc.PruneBelow >= 0 && hc.PruneBelow < hc.DenseAbove && hc.DenseAbove <= 1):
		return nil, fmt.Errorf("harden: want 0 ≤ prune_below < dense_above ≤ 1, got %g and %g", hc.PruneBelow, hc.DenseAbove)
	case hc.Sequences <= 0:
		return nil, fmt.Errorf("harden: sequences must be positive, got %d", hc.Sequences)
	}
	ckpt, err := sparseRunCheckpoint("harden", hc.Checkpoint)
	if err != nil {
		return nil, err
	}
	release, err := lockEnclosingRun(hc.Out, "--out")
	if err != nil {
		return nil, fmt.Errorf("harden: %w", err)
	}
	defer release()
	start := time.Now()
	// With --data the run's own data files are not opened: the data is
	// both the calibration set and the held-out set.
	r, err := openSparseRun(ckpt, hc.CacheDir, hc.Data)
	if err != nil {
		return nil, fmt.Errorf("harden: %w", err)
	}
	fmt.Fprintf(log, "harden: loaded %s and its data in %.1f s\n", ckpt, time.Since(start).Seconds())
	calib := r.ds.Train
	if hc.Data != "" {
		calib.Name = hc.Data
	}
	return harden(r.cfg, r.model, r.sp, calib, r.ds.Valid, hc, log)
}

// loadedRun is a sparse run's checkpoint loaded for further work: its
// config, model and routers with the checkpoint's weights, and its data.
type loadedRun struct {
	cfg   *Config
	state State
	model *nn.Model
	sp    *sparsity
	ds    *data.Dataset
	tok   data.Tokenizer
	key   string
	spec  data.Spec
}

// openSparseRun loads checkpoint ckpt of a sparse run (train_config.json,
// trainer_state.json, weights and router.safetensors), re-reading the
// run's data through the token cache (cacheDir, "" for the run's own).
// A non-empty dataFile replaces the run's data files: it is read as both the
// training and the validation split, and the run's files are not opened.
func openSparseRun(ckpt, cacheDir, dataFile string) (*loadedRun, error) {
	cfg := DefaultConfig()
	if err := jsonfile.Read(filepath.Join(ckpt, checkpoints.ConfigFile), &cfg); err != nil {
		return nil, err
	}
	if cfg.Target <= 0 {
		return nil, fmt.Errorf("%s is from a dense run; this needs a sparse run's routers", ckpt)
	}
	if dataFile != "" {
		cfg.Train, cfg.Valid, cfg.Test = dataFile, dataFile, ""
	}
	r := &loadedRun{cfg: &cfg}
	if err := checkpoints.ReadState(ckpt, &r.state); err != nil {
		return nil, err
	}
	if cacheDir != "" {
		cfg.CacheDir = cacheDir
	}
	cfg.Resume = false
	var err error
	if r.tok, err = data.LoadTokenizer(cfg.Model); err != nil {
		return nil, fmt.Errorf("the run's base model: %w", err)
	}
	if r.key, err = data.TokenizerKey(cfg.Model); err != nil {
		return nil, err
	}
	if r.model, r.ds, err = loadModelAndData(&cfg, r.tok); err != nil {
		return nil, err
	}
	r.spec = r.ds.Spec
	if r.sp, err = newSparsity(&cfg, r.model); err != nil {
		return nil, err
	}
	if err := loadCheckpointWeights(ckpt, r.model, r.sp); err != nil {
		return nil, err
	}
	if r.state.Tau > 0 {
		r.sp.set.Config.Tau = r.state.Tau
	}
	return r, nil
}

// harden turns a model and its trained routers into a sparse checkpoint:
//
//  1. one global threshold τ is calibrated (bisection, starting from the
//     trained τ) so that the
//     engine's measured compute on the calibration sequences is the target;
//  2. with that τ, units on for at most PruneBelow of the calibration tokens
//     are removed physically and units on for at least DenseAbove of them
//     become dense (no routing);
//  3. the pruned weights, the kept units' router columns and the manifest
//     are written atomically to hc.Out, and the compute of the pruned model
//     is measured again on the calibration set (the manifest's compute) and
//     on held-out data.
func harden(cfg *Config, m *nn.Model, sp *sparsity, calib, heldOut *data.Split, hc HardenConfig, log io.Writer) (*HardenResult, error) {
	hc.defaults()
	target := hc.Target
	if target == 0 {
		target = cfg.Target
	}
	c := m.Config
	seqs := calib.Seqs
	if len(seqs) > hc.Sequences {
		order := data.Shuffle(len(seqs), cfg.Seed, 1<<31)
		picked := make([][]int, hc.Sequences)
		for i := range picked {
			picked[i] = seqs[order[i]]
		}
		seqs = picked
	}
	if len(seqs) == 0 {
		return nil, fmt.Errorf("harden: no calibration sequences")
	}
	rc := sp.set.Config
	trainCfg, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("harden: the run's config cannot be recorded: %v", err)
	}
	man := checkpoints.SparseManifest{Router: string(rc.Kind), GroupSize: rc.GroupSize, Shift: rc.ProbShift(), Target: target,
		TrainConfig: trainCfg, Calibration: checkpoints.SparseCalib{Source: calib.Name, Sequences: len(seqs), SeqLen: cfg.SeqLen,
			PruneBelow: hc.PruneBelow, DenseAbove: hc.DenseAbove}}
	for l := 0; l < c.L; l++ {
		ml := checkpoints.SparseLayer{Tau: rc.Tau}
		for h := 0; h < c.H; h++ {
			ml.Heads = append(ml.Heads, h)
		}
		for g := 0; g < c.F/rc.GroupSize; g++ {
			ml.Groups = append(ml.Groups, g)
		}
		man.Layers = append(man.Layers, ml)
	}
	// A static router's gates are σ(logit) for every token: calibrate and
	// count usage with the logits as the biases of a router whose weights
	// are zero, then fold the decisions into the pruning.
	routers, calibMan := sp.params(), man
	if rc.Kind == router.Static {
		routers, calibMan.Router = staticAsContextual(sp.params(), c.D), string(router.Sigmoid)
	}
	full, err := infer.Build(m, routers, calibMan)
	if err != nil {
		return nil, err
	}
	e, err := infer.New(full)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if _, err := e.CalibrateTau(seqs, target, rc.Tau); err != nil {
		return nil, err
	}
	tau := e.Manifest.Layers[0].Tau
	whose := ""
	if hc.Target == 0 {
		whose = " (the run's)"
	}
	fmt.Fprintf(log, "harden: τ %.4f calibrated for target %g%s on %d sequences in %.1f s\n", tau, target, whose, len(seqs), time.Since(start).Seconds())
	e.RecordUsage()
	if _, err := e.MeasureCompute(seqs); err != nil {
		return nil, err
	}
	use := e.Usage
	res := &HardenResult{SparseCheckpoint: hc.Out, Target: target, Tau: tau}
	for l := range man.Layers {
		ml := checkpoints.SparseLayer{Tau: tau}
		pick := func(counts []int, kept, dense *[]int) {
			for u, n := range counts {
				f := float64(n) / float64(use.Tokens)
				switch {
				case f <= hc.PruneBelow:
					res.Removed++
				case f >= hc.DenseAbove || rc.Kind == router.Static:
					*kept, *dense = append(*kept, u), append(*dense, u)
					res.Dense++
				default:
					*kept = append(*kept, u)
					res.Routed++
				}
			}
		}
		pick(use.Heads[l], &ml.Heads, &ml.HeadsDense)
		pick(use.Groups[l], &ml.Groups, &ml.GroupsDense)
		man.Layers[l] = ml
	}
	pruned, err := infer.Build(m, routers, man)
	if err != nil {
		return nil, err
	}
	e, err = infer.New(pruned)
	if err != nil {
		return nil, err
	}
	if res.Compute, err = e.MeasureCompute(seqs); err != nil {
		return nil, err
	}
	pruned.Manifest.Compute = res.Compute
	pruned.Manifest.Calibration.Tokens = use.Tokens
	if heldOut != nil && len(heldOut.Seqs) > 0 {
		if res.HeldOutCompute, err = e.MeasureCompute(heldOut.Seqs); err != nil {
			return nil, err
		}
	}
	if err := checkpoints.WriteSparse(hc.Out, pruned, cfg.Model, tokenizerFiles(cfg.Model)); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "hardened: τ %.4f, compute %.4f on %d calibration sequences (%s), %.4f held out; %d units removed, %d dense, %d routed → %s\n",
		tau, res.Compute, len(seqs), calib.Name, res.HeldOutCompute, res.Removed, res.Dense, res.Routed, hc.Out)
	return res, nil
}

// staticAsContextual turns static router logits (router.layers.{l}.{part}.logits)
// into the weight (zero) and bias (the logits) of a contextual router with
// the same gates.
func staticAsContextual(ps []*nn.Param, D int) []*nn.Param {
	var out []*nn.Param
	for _, p := range ps {
		pre, ok := strings.CutSuffix(p.Name, ".logits")
		if !ok {
			continue
		}
		u := p.Shape[0]
		out = append(out,
			&nn.Param{Name: pre + ".weight", Shape: []int{D, u}, Value: tensor.New(tensor.WithShape(D, u), tensor.Of(tensor.Float32))},
			&nn.Param{Name: pre + ".bias", Shape: []int{u}, Value: p.Value})
	}
	return out
}
