package harden

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
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
	Router  router.Config // kind, group size and the trained τ (the calibration search's first guess)
	// Target is the run's compute target, used when Options.Target is 0.
	Target float64
	// Calib are the calibration sequences (at most Options.Sequences of
	// them are used, picked with Seed), on which the compute is the
	// target; HeldOut are measured only. Reference, when given, is the
	// data the routers were trained on (as many sequences, picked the same
	// way): each layer's compute there is the allocation CalibrateLayers
	// restores on Calib where a layer drifts.
	Calib, HeldOut, Reference Sequences
	Seed                      uint64
	SeqLen                    int             // the run's sequence length, recorded
	ModelDir                  string          // the base model directory the tokenizer files are copied from
	Tokenizer                 []string        // those files' names
	TrainConfig               json.RawMessage // the run's resolved config, recorded verbatim
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
	// DType stores the hardened weight matrices as f32, bf16 or int8
	// (checkpoints.Quantize) before the final τ refit and measurements, so
	// that they are those of the checkpoint written; "" is f32.
	DType checkpoints.DType
}

// Defaults of Options, the CLI's flag defaults.
const (
	DefaultPruneBelow = 0.001 // a unit on for one token in a thousand costs more to route than to drop
	DefaultDenseAbove = 0.999 // and one off for one in a thousand costs more to route than to run
	// DefaultSequences: the embedded task's valid split (400 sequences,
	// 43 k tokens) is used whole, and its compute has a standard error of
	// 0.008 over the sequences (at 128, as before, about 0.014 by 1/√n,
	// most of the budget tolerance 0.02: a τ calibrated on 128 training
	// sequences missed the target by 0.027 on valid).
	DefaultSequences = 512
)

// DefaultOptions returns the options a sparse run hardens with, writing to out.
func DefaultOptions(out string) Options {
	return Options{Out: out, PruneBelow: DefaultPruneBelow, DenseAbove: DefaultDenseAbove, Sequences: DefaultSequences}
}

// Result is what a hardening reports (printed as JSON by sparsetune harden).
type Result struct {
	SparseCheckpoint string  `json:"sparse_checkpoint"`
	Target           float64 `json:"target"`
	Tau              float64 `json:"tau"`              // the global τ; corrected layers have their own (LayerTau)
	CalibratedOn     string  `json:"calibrated_on"`    // the calibration set's name
	Compute          float64 `json:"compute"`          // measured on the calibration set
	ComputeSE        float64 `json:"compute_se"`       // its standard error over the calibration sequences
	HeldOutCompute   float64 `json:"held_out_compute"` // measured on the held-out set
	// LayerTau is every layer's τ when CalibrateLayers corrected some
	// (Corrected lists them); nil when every layer has Tau.
	LayerTau  []float64 `json:"layer_tau,omitempty"`
	Corrected []int     `json:"corrected_layers,omitempty"`
	// Routing is "topk" for top-k routing (topk.go), with each layer's
	// heads and groups per token; absent for threshold routing.
	Routing string `json:"routing,omitempty"`
	KHeads  []int  `json:"k_heads,omitempty"`
	KGroups []int  `json:"k_groups,omitempty"`
	Removed int    `json:"units_removed"`
	Dense   int    `json:"units_dense"`
	Routed  int    `json:"units_routed"`
	// DType is the dtype of the weight matrices written when not float32
	// (Options.DType): the figures above are measured on them.
	DType checkpoints.DType `json:"dtype,omitempty"`
}

// Check checks that o is usable: an output directory, a target in [0, 1]
// (0: the run's), 0 ≤ PruneBelow < DenseAbove ≤ 1, Sequences > 0 and a
// known DType or none. Its
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
	if o.DType != "" {
		if _, err := checkpoints.ParseDType(string(o.DType)); err != nil {
			return fmt.Errorf("%w: dtype: %v", ErrOptions, err)
		}
	}
	return nil
}

// stored is the dtype the hardened weight matrices are stored as, when
// not float32; "" otherwise.
func (o *Options) stored() checkpoints.DType {
	if o.DType == checkpoints.F32 {
		return ""
	}
	return o.DType
}

// quantize stores s's weight matrices as o.DType (checkpoints.Quantize);
// float32, or none given, leaves s as it is.
func (o *Options) quantize(s *checkpoints.Sparse) error {
	if o.stored() == "" {
		return nil
	}
	return checkpoints.Quantize(s, o.DType)
}

// Harden turns a model and its trained routers into a sparse checkpoint
// (under top-k routing, topk.go says how instead):
//
//  1. one global threshold τ is calibrated (a search over its logit,
//     starting from the trained τ) so that the engine's measured compute
//     on the calibration sequences is the target;
//  2. with that τ, units on for at most PruneBelow of the calibration tokens
//     are removed physically and units on for at least DenseAbove of them
//     become dense (no routing);
//  3. the pruned weights are stored as Options.DType, the τ of the layers
//     left at the global τ is refit on that model, its compute is measured
//     on the calibration set (the manifest's compute) and on the held-out
//     set, and the pruned weights, the kept units' router columns and the
//     manifest are written atomically to o.Out (checkpoints.WriteSparse):
//     every figure reported is that of the model written.
func Harden(in Input, o Options, log io.Writer) (*Result, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	target := o.Target
	if target == 0 {
		target = in.Target
	}
	seqs := Pick(in.Calib.Seqs, o.Sequences, in.Seed)
	if len(seqs) == 0 {
		return nil, ErrNoSequences
	}
	if in.Router.Routing == router.TopK {
		return hardenTopK(in, o, target, seqs, log)
	}
	man := in.manifest(target, o)
	man.Calibration.Sequences = len(seqs)
	routers, calibMan := in.calibrationRouters(man)
	res := &Result{SparseCheckpoint: o.Out, Target: target, CalibratedOn: in.Calib.Name, DType: o.stored()}
	var pruned *checkpoints.Sparse
	var e *infer.Engine
	// A static router's units end up dense or removed, and its routers with
	// them: the pruned model spends less than the one calibrated, by the
	// routers' cost. Its calibration aims that much higher, once.
	for aim, try := target, 0; try < 2; try++ {
		full, err := calibrated(in, routers, calibMan, seqs, aim, o, res, log)
		if err != nil {
			return nil, err
		}
		man.Calibration.Reference, man.Calibration.Corrected = in.Reference.Name, res.Corrected
		if len(in.Reference.Seqs) == 0 {
			man.Calibration.Reference = ""
		}
		if pruned, e, err = pruneSelected(full, in, routers, man, seqs, o, res); err != nil {
			return nil, err
		}
		if in.Router.Kind != router.Static {
			break
		}
		c, err := e.MeasureCompute(seqs)
		if err != nil {
			return nil, err
		}
		if math.Abs(c-target) <= calibTol {
			break
		}
		aim = min(1, aim+target-c)
	}
	if in.Router.Kind != router.Static {
		if err := refit(e, pruned, seqs, target, res); err != nil {
			return nil, err
		}
	}
	if err := measureAndWrite(e, pruned, in, o, seqs, res); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "hardened: τ %.4f, compute %.4f ± %.4f (standard error) on %d calibration sequences (%s), %.4f held out; %d units removed, %d dense, %d routed → %s\n",
		res.Tau, res.Compute, res.ComputeSE, len(seqs), in.Calib.Name, res.HeldOutCompute, res.Removed, res.Dense, res.Routed, o.Out)
	return res, nil
}

// calibrationRouters returns the routers and manifest calibration runs
// with. A static router's gates are σ(logit) for every token: calibrate
// and count usage with the logits as the biases of a router whose weights
// are zero, then fold the decisions into the pruning.
func (in Input) calibrationRouters(man checkpoints.SparseManifest) ([]*nn.Param, checkpoints.SparseManifest) {
	if in.Router.Kind == router.Static {
		man.Router = string(router.Sigmoid)
		return StaticAsContextual(in.Routers, in.Model.Config.D), man
	}
	return in.Routers, man
}

// calibrated returns the engine of in's model keeping every unit of man,
// its thresholds calibrated for target on seqs (calibrate).
func calibrated(in Input, routers []*nn.Param, man checkpoints.SparseManifest, seqs [][]int, target float64, o Options, res *Result, log io.Writer) (*infer.Engine, error) {
	full, err := Prune(in.Model, routers, man)
	if err != nil {
		return nil, err
	}
	e, err := infer.New(full)
	if err != nil {
		return nil, err
	}
	return e, calibrate(e, in, seqs, target, o, res, log)
}

// pruneSelected measures with e (calibrated, keeping every unit) the
// usage of every unit on seqs, selects the units to remove, run dense and
// route (Select), and returns in's model pruned to them, its weight
// matrices stored as o.DType, with its engine. It fills res's counts.
func pruneSelected(e *infer.Engine, in Input, routers []*nn.Param, man checkpoints.SparseManifest, seqs [][]int, o Options, res *Result) (*checkpoints.Sparse, *infer.Engine, error) {
	if _, err := Measure(e, seqs); err != nil { // the usage Select reads
		return nil, nil, err
	}
	var n Counts
	man.Layers, n = Select(e.Usage, e.Manifest.Layers, o.PruneBelow, o.DenseAbove, in.Router.Kind == router.Static)
	res.Removed, res.Dense, res.Routed = n.Removed, n.Dense, n.Routed
	pruned, err := Prune(in.Model, routers, man)
	if err != nil {
		return nil, nil, err
	}
	if err := o.quantize(pruned); err != nil {
		return nil, nil, err
	}
	if e, err = infer.New(pruned); err != nil {
		return nil, nil, err
	}
	return pruned, e, nil
}

// refit calibrates once more the τ of the layers left at the global τ, on
// e, the engine of pruned: units made dense no longer pay for their router
// columns (and weights stored in low precision gate a little differently),
// so the pruned model spends a little less than the one calibrated. It
// copies the τ into pruned's manifest and fills res's Tau and LayerTau.
func refit(e *infer.Engine, pruned *checkpoints.Sparse, seqs [][]int, target float64, res *Result) error {
	if _, err := Refit(e, seqs, target, uncorrected(len(e.Manifest.Layers), res.Corrected)); err != nil {
		return err
	}
	for l, ml := range e.Manifest.Layers {
		pruned.Manifest.Layers[l].Tau = ml.Tau
	}
	res.Tau, res.LayerTau = layerTaus(e.Manifest.Layers, res.Corrected)
	return nil
}

// measureAndWrite measures the compute of e, the engine of pruned, on the
// calibration sequences seqs (the manifest's compute and res's) and on the
// held-out set, and writes pruned to o.Out.
func measureAndWrite(e *infer.Engine, pruned *checkpoints.Sparse, in Input, o Options, seqs [][]int, res *Result) error {
	m, err := Measure(e, seqs)
	if err != nil {
		return err
	}
	e.Usage = nil
	res.Compute, res.ComputeSE = m.Compute, m.SE
	cal := &pruned.Manifest.Calibration
	pruned.Manifest.Compute, cal.Tokens, cal.ComputeSE, cal.LayerCompute = m.Compute, m.Tokens, m.SE, m.Layers
	if len(in.HeldOut.Seqs) > 0 {
		if res.HeldOutCompute, err = e.MeasureCompute(in.HeldOut.Seqs); err != nil {
			return err
		}
	}
	return checkpoints.WriteSparse(o.Out, pruned, in.ModelDir, in.Tokenizer)
}

// calibrate sets the thresholds of e, an engine that keeps every unit:
// one τ so that the compute on seqs is target (CalibrateTau, from the
// trained τ), then, with reference data, the per-layer corrections of the
// layers that drift (CalibrateLayers). It fills res's Tau and Corrected.
func calibrate(e *infer.Engine, in Input, seqs [][]int, target float64, o Options, res *Result, log io.Writer) error {
	start := time.Now()
	if _, err := CalibrateTau(e, seqs, target, in.Router.Tau); err != nil {
		return err
	}
	res.Tau = e.Manifest.Layers[0].Tau
	whose := ""
	if o.Target == 0 {
		whose = " (the run's)"
	}
	fmt.Fprintf(log, "harden: τ %.4f calibrated for target %g%s on %d sequences (%s) in %.1f s\n", res.Tau, target, whose, len(seqs), in.Calib.Name, time.Since(start).Seconds())
	ref := Pick(in.Reference.Seqs, o.Sequences, in.Seed)
	if len(ref) == 0 {
		return nil
	}
	start = time.Now()
	var err error
	if res.Corrected, err = CalibrateLayers(e, seqs, ref, target); err != nil {
		return err
	}
	for _, l := range res.Corrected {
		fmt.Fprintf(log, "harden: layer %d drifted from its allocation on %s: τ %.4f\n", l, in.Reference.Name, e.Manifest.Layers[l].Tau)
	}
	fmt.Fprintf(log, "harden: %d of %d layers corrected towards the per-layer compute on %s in %.1f s\n", len(res.Corrected), len(e.Manifest.Layers), in.Reference.Name, time.Since(start).Seconds())
	return nil
}

// uncorrected lists the layers of L not in corrected (ascending).
func uncorrected(L int, corrected []int) []int {
	var out []int
	for l := range L {
		if !slices.Contains(corrected, l) {
			out = append(out, l)
		}
	}
	return out
}

// layerTaus returns the global τ (that of the first uncorrected layer;
// the first layer's when all were corrected) and, when some layers were
// corrected, every layer's τ.
func layerTaus(layers []checkpoints.SparseLayer, corrected []int) (float64, []float64) {
	free := uncorrected(len(layers), corrected)
	tau := layers[0].Tau
	if len(free) > 0 {
		tau = layers[free[0]].Tau
	}
	if len(corrected) == 0 {
		return tau, nil
	}
	all := make([]float64, len(layers))
	for l, ml := range layers {
		all[l] = ml.Tau
	}
	return tau, all
}

// manifest is the manifest of in's model keeping every unit at the
// trained τ, for target: where calibration starts.
func (in Input) manifest(target float64, o Options) checkpoints.SparseManifest {
	rc := in.Router
	return checkpoints.SparseManifest{Router: string(rc.Kind), GroupSize: rc.GroupSize, Shift: rc.ProbShift(), Target: target,
		TrainConfig: in.TrainConfig, Layers: AllUnits(in.Model.Config, rc.GroupSize, rc.Tau),
		Calibration: checkpoints.SparseCalib{Source: in.Calib.Name, SeqLen: in.SeqLen, PruneBelow: o.PruneBelow, DenseAbove: o.DenseAbove}}
}

// Pick returns n of seqs in a shuffled order fixed by seed, or all of
// them (in their order) when there are no more than n: the sequences
// Harden calibrates on (Options.Sequences of Input.Calib, Input.Seed), and
// those the one-run frontier of package sweep calibrates each point on.
func Pick(seqs [][]int, n int, seed uint64) [][]int {
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
