package harden

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
)

// ErrOptions is wrapped by every error Harden returns for options out of
// range (target, thresholds, sequences, output), so that callers can tell
// a usage mistake from a failure to harden.
var ErrOptions = errors.New("harden: invalid options")

// ErrNoSequences is wrapped by the error Harden returns when the
// calibration set is empty.
var ErrNoSequences = errors.New("harden: no calibration sequences")

// Sequences is a named set of token sequences: calibration or held-out
// data, named as the manifest records it (a file, or a run's split).
type Sequences struct {
	Name string
	Seqs [][]int
}

// Input is what Harden hardens: a model with the weights to keep, its
// routers, and the data and provenance the manifest records.
type Input struct {
	Model   *nn.Model
	Routers []*nn.Param   // router.Set.Params(): contextual weights and biases, or static logits
	Router  router.Config // kind, group size and the trained τ (the bisection's first guess)
	// Target is the run's compute target, used when Options.Target is 0.
	Target float64
	// Calib are the calibration sequences (at most Options.Sequences of
	// them are used, picked with Seed); HeldOut are measured only.
	Calib, HeldOut Sequences
	Seed           uint64
	SeqLen         int             // the run's sequence length, recorded
	ModelDir       string          // the base model directory the tokenizer files are copied from
	Tokenizer      []string        // those files' names
	TrainConfig    json.RawMessage // the run's resolved config, recorded verbatim
}

// Options are the choices of a hardening.
type Options struct {
	Out    string  // sparse checkpoint directory to write
	Target float64 // compute target in (0, 1]; 0: Input.Target
	// PruneBelow and DenseAbove: a unit on for at most PruneBelow of the
	// calibration tokens is removed physically; one on for at least
	// DenseAbove of them runs for every token without routing. Callers
	// take DefaultPruneBelow and DefaultDenseAbove when the user gave none:
	// 0 means 0 (remove only units never on).
	PruneBelow, DenseAbove float64
	Sequences              int // calibration sequences to use at most
}

// Defaults of Options, the CLI's flag defaults.
const (
	DefaultPruneBelow = 0.001 // a unit on for one token in a thousand costs more to route than to drop
	DefaultDenseAbove = 0.999 // and one off for one in a thousand costs more to route than to run
	DefaultSequences  = 128   // enough tokens (16 k at 128 per sequence) for a compute within 0.01
)

// DefaultOptions returns the options a sparse run hardens with, writing to out.
func DefaultOptions(out string) Options {
	return Options{Out: out, PruneBelow: DefaultPruneBelow, DenseAbove: DefaultDenseAbove, Sequences: DefaultSequences}
}

// Result is what a hardening reports (printed as JSON by sparsetune harden).
type Result struct {
	SparseCheckpoint string  `json:"sparse_checkpoint"`
	Target           float64 `json:"target"`
	Tau              float64 `json:"tau"`
	Compute          float64 `json:"compute"`          // measured on the calibration set
	HeldOutCompute   float64 `json:"held_out_compute"` // measured on the held-out set
	Removed          int     `json:"units_removed"`
	Dense            int     `json:"units_dense"`
	Routed           int     `json:"units_routed"`
}

// Check checks that o is usable: an output directory, a target in [0, 1]
// (0: the run's), 0 ≤ PruneBelow < DenseAbove ≤ 1 and Sequences > 0. Its
// errors wrap ErrOptions.
func (o *Options) Check() error {
	switch {
	case o.Out == "":
		return fmt.Errorf("%w: an output directory is required", ErrOptions)
	case !(o.Target >= 0 && o.Target <= 1):
		return fmt.Errorf("%w: target must be in (0, 1] (0: the run's), got %g", ErrOptions, o.Target)
	case !(o.PruneBelow >= 0 && o.PruneBelow < o.DenseAbove && o.DenseAbove <= 1):
		return fmt.Errorf("%w: want 0 ≤ prune_below < dense_above ≤ 1, got %g and %g", ErrOptions, o.PruneBelow, o.DenseAbove)
	case o.Sequences <= 0:
		return fmt.Errorf("%w: sequences must be positive, got %d", ErrOptions, o.Sequences)
	}
	return nil
}

// Harden turns a model and its trained routers into a sparse checkpoint:
//
//  1. one global threshold τ is calibrated (bisection, starting from the
//     trained τ) so that the engine's measured compute on the calibration
//     sequences is the target;
//  2. with that τ, units on for at most PruneBelow of the calibration tokens
//     are removed physically and units on for at least DenseAbove of them
//     become dense (no routing);
//  3. the pruned weights, the kept units' router columns and the manifest
//     are written atomically to o.Out (checkpoints.WriteSparse), and the
//     compute of the pruned model is measured again on the calibration set
//     (the manifest's compute) and on the held-out set.
func Harden(in Input, o Options, log io.Writer) (*Result, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	target := o.Target
	if target == 0 {
		target = in.Target
	}
	c := in.Model.Config
	seqs := pick(in.Calib.Seqs, o.Sequences, in.Seed)
	if len(seqs) == 0 {
		return nil, ErrNoSequences
	}
	rc := in.Router
	trainCfg := in.TrainConfig
	man := checkpoints.SparseManifest{Router: string(rc.Kind), GroupSize: rc.GroupSize, Shift: rc.ProbShift(), Target: target,
		TrainConfig: trainCfg, Calibration: checkpoints.SparseCalib{Source: in.Calib.Name, Sequences: len(seqs), SeqLen: in.SeqLen,
			PruneBelow: o.PruneBelow, DenseAbove: o.DenseAbove}}
	man.Layers = AllUnits(c, rc.GroupSize, rc.Tau)
	// A static router's gates are σ(logit) for every token: calibrate and
	// count usage with the logits as the biases of a router whose weights
	// are zero, then fold the decisions into the pruning.
	routers, calibMan := in.Routers, man
	if rc.Kind == router.Static {
		routers, calibMan.Router = StaticAsContextual(in.Routers, c.D), string(router.Sigmoid)
	}
	full, err := Prune(in.Model, routers, calibMan)
	if err != nil {
		return nil, err
	}
	e, err := infer.New(full)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if _, err := CalibrateTau(e, seqs, target, rc.Tau); err != nil {
		return nil, err
	}
	tau := e.Manifest.Layers[0].Tau
	whose := ""
	if o.Target == 0 {
		whose = " (the run's)"
	}
	fmt.Fprintf(log, "harden: τ %.4f calibrated for target %g%s on %d sequences in %.1f s\n", tau, target, whose, len(seqs), time.Since(start).Seconds())
	e.RecordUsage()
	if _, err := e.MeasureCompute(seqs); err != nil {
		return nil, err
	}
	use := e.Usage
	res := &Result{SparseCheckpoint: o.Out, Target: target, Tau: tau}
	var n Counts
	man.Layers, n = Select(use, e.Manifest.Layers, o.PruneBelow, o.DenseAbove, rc.Kind == router.Static)
	res.Removed, res.Dense, res.Routed = n.Removed, n.Dense, n.Routed
	pruned, err := Prune(in.Model, routers, man)
	if err != nil {
		return nil, err
	}
	if e, err = infer.New(pruned); err != nil {
		return nil, err
	}
	if res.Compute, err = e.MeasureCompute(seqs); err != nil {
		return nil, err
	}
	pruned.Manifest.Compute = res.Compute
	pruned.Manifest.Calibration.Tokens = use.Tokens
	if len(in.HeldOut.Seqs) > 0 {
		if res.HeldOutCompute, err = e.MeasureCompute(in.HeldOut.Seqs); err != nil {
			return nil, err
		}
	}
	if err := checkpoints.WriteSparse(o.Out, pruned, in.ModelDir, in.Tokenizer); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "hardened: τ %.4f, compute %.4f on %d calibration sequences (%s), %.4f held out; %d units removed, %d dense, %d routed → %s\n",
		tau, res.Compute, len(seqs), in.Calib.Name, res.HeldOutCompute, res.Removed, res.Dense, res.Routed, o.Out)
	return res, nil
}

// pick returns n of seqs in a shuffled order fixed by seed, or all of
// them (in their order) when there are no more than n.
func pick(seqs [][]int, n int, seed uint64) [][]int {
	if len(seqs) <= n {
		return seqs
	}
	order := data.Shuffle(len(seqs), seed, 1<<31)
	picked := make([][]int, n)
	for i := range picked {
		picked[i] = seqs[order[i]]
	}
	return picked
}

// AllUnits returns the manifest layers of a model c that keeps and routes
// every head and every group of k neurons, each layer at threshold tau:
// the model calibration starts from.
func AllUnits(c *nn.Config, k int, tau float64) []checkpoints.SparseLayer {
	var layers []checkpoints.SparseLayer
	for l := 0; l < c.L; l++ {
		ml := checkpoints.SparseLayer{Tau: tau}
		for h := 0; h < c.H; h++ {
			ml.Heads = append(ml.Heads, h)
		}
		for g := 0; g < c.F/k; g++ {
			ml.Groups = append(ml.Groups, g)
		}
		layers = append(layers, ml)
	}
	return layers
}

// StaticAsContextual turns static router logits (router.layers.{l}.{part}.logits)
// into the weight (zero) and bias (the logits) of a contextual router with
// the same gates.
func StaticAsContextual(ps []*nn.Param, D int) []*nn.Param {
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
