package harden

import (
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
)

// tinyInput is a random two-layer GPT-2 with random contextual routers and
// random calibration and held-out tokens: something Harden can harden in
// well under a second.
func tinyInput(t *testing.T) Input { return tinyInputL(t, 2) }

// tinyInputL is tinyInput with L layers.
func tinyInputL(t *testing.T, L int) Input {
	t.Helper()
	sc := SyntheticConfig{Layers: L, DModel: 32, Heads: 4, FFN: 64, Vocab: 50, GroupSize: 16, Seed: 3}
	mc, err := SyntheticModelConfig(sc)
	if err != nil {
		t.Fatal(err)
	}
	m := &nn.Model{Config: mc, Params: nn.InitParams(mc, 3, tensor.Float32)}
	rc := router.DefaultConfig()
	rc.GroupSize = 16
	set, err := router.New(rc, mc, 3, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	randomize(set.Params(), 4)
	return Input{Model: m, Routers: set.Params(), Router: rc, Target: 0.5, Seed: 1, SeqLen: 16,
		Calib:   Sequences{Name: "calib", Seqs: infer.RandomTokens(mc.Vocab, 24, 16, 5)},
		HeldOut: Sequences{Name: "held out", Seqs: infer.RandomTokens(mc.Vocab, 8, 16, 6)}}
}

// TestHardenWritesWhatTheEngineMeasures: the written checkpoint reads
// back, its manifest's compute is what the engine measures on the
// calibration set, and it is near the target.
func TestHardenWritesWhatTheEngineMeasures(t *testing.T) {
	in := tinyInput(t)
	out := filepath.Join(t.TempDir(), "sparse")
	var log strings.Builder
	res, err := Harden(in, DefaultOptions(out), &log)
	if err != nil {
		t.Fatal(err)
	}
	sp, c := readMeasured(t, out, in.Calib.Seqs)
	if c != sp.Manifest.Compute || c != res.Compute {
		t.Fatalf("engine measures %.6f on the calibration set, manifest says %.6f, result %.6f", c, sp.Manifest.Compute, res.Compute)
	}
	if math.Abs(c-0.5) > 0.01 { // 384 tokens: one token's units move the compute by ~0.003
		t.Errorf("compute %.4f, target 0.5", c)
	}
	t.Logf("compute %.4f ± %.4f, τ %.4f", c, res.ComputeSE, res.Tau)
	if !strings.Contains(log.String(), "hardened: τ") {
		t.Errorf("log: %s", log.String())
	}
}

// TestPruneBelowZeroMeansZero: prune_below 0 is recorded and applied as
// 0 (it used to become 0.001 silently): a unit never on is removed, and
// the manifest says 0.
func TestPruneBelowZeroMeansZero(t *testing.T) {
	in := tinyInput(t)
	for _, p := range in.Routers {
		if p.Name == "router.layers.0.head.bias" {
			p.Value.Data().([]float32)[1] = -1e3 // head 1 of layer 0 is never on
		}
	}
	out := filepath.Join(t.TempDir(), "zero")
	o := DefaultOptions(out)
	o.PruneBelow = 0
	res, sp := hardenRead(t, in, o, &strings.Builder{})
	if got := sp.Manifest.Calibration.PruneBelow; got != 0 {
		t.Fatalf("manifest prune_below %g, want 0", got)
	}
	if res.Removed < 1 || slices.Contains(sp.Manifest.Layers[0].Heads, 1) {
		t.Fatalf("prune-below 0 removed %d units, layer 0 keeps heads %v: want head 1 (never on) removed", res.Removed, sp.Manifest.Layers[0].Heads)
	}
}

// TestOptionsErrors: options out of range are refused before anything is
// loaded, wrapping ErrOptions; no calibration data is ErrNoSequences.
func TestOptionsErrors(t *testing.T) {
	for name, o := range map[string]Options{
		"no out":          {PruneBelow: 0, DenseAbove: 1, Sequences: 1},
		"target above 1":  {Out: "x", Target: 1.5, DenseAbove: 1, Sequences: 1},
		"target NaN":      {Out: "x", Target: math.NaN(), DenseAbove: 1, Sequences: 1},
		"prune ≥ dense":   {Out: "x", PruneBelow: 0.5, DenseAbove: 0.4, Sequences: 1},
		"negative prune":  {Out: "x", PruneBelow: -0.1, DenseAbove: 1, Sequences: 1},
		"no sequences":    {Out: "x", DenseAbove: 1},
		"dense above one": {Out: "x", DenseAbove: 1.5, Sequences: 1},
	} {
		if err := o.Check(); !errors.Is(err, ErrOptions) {
			t.Errorf("%s: %v, want ErrOptions", name, err)
		}
	}
	in := tinyInput(t)
	in.Calib.Seqs = nil
	if _, err := Harden(in, DefaultOptions(filepath.Join(t.TempDir(), "x")), &strings.Builder{}); !errors.Is(err, ErrNoSequences) {
		t.Fatalf("no calibration sequences: %v", err)
	}
}

// TestManifestRecordsTheCalibration: the manifest says what the compute
// was calibrated on (source, sequences, tokens), its standard error, each
// layer's compute (their mean is the compute) and the reference of the
// per-layer correction; a checkpoint written before these fields existed
// (version 1) still reads, without them.
func TestManifestRecordsTheCalibration(t *testing.T) {
	in := tinyInput(t)
	in.Reference = Sequences{Name: "train", Seqs: infer.RandomTokens(in.Model.Config.Vocab, 10, 16, 8)}
	out := filepath.Join(t.TempDir(), "sparse")
	res, sp := hardenRead(t, in, DefaultOptions(out), &strings.Builder{})
	cal := sp.Manifest.Calibration
	mean := 0.0
	for _, c := range cal.LayerCompute {
		mean += c / float64(len(cal.LayerCompute))
	}
	if cal.Source != "calib" || cal.Sequences != 24 || cal.Tokens != 24*16 || cal.Reference != "train" {
		t.Errorf("calibration %+v: want source calib, 24 sequences, 384 tokens, reference train", cal)
	}
	if cal.ComputeSE <= 0 || cal.ComputeSE != res.ComputeSE || len(cal.LayerCompute) != 2 || math.Abs(mean-sp.Manifest.Compute) > 1e-9 {
		t.Errorf("compute %.4f ± %.4g (result %.4g), layers %v", sp.Manifest.Compute, cal.ComputeSE, res.ComputeSE, cal.LayerCompute)
	}
	old, err := checkpoints.ReadSparse(filepath.Join("..", "checkpoints", "testdata", "sparse-v1-gpt2"))
	if err != nil {
		t.Fatalf("a version-1 checkpoint: %v", err)
	}
	if c := old.Manifest.Calibration; c.ComputeSE != 0 || c.LayerCompute != nil || c.Reference != "" {
		t.Errorf("version-1 calibration read as %+v", c)
	}
}

// TestHardenDTypeMeasuresWhatIsWritten: with Options.DType the weights
// written are stored in that dtype and the τ and compute in the manifest
// and the result are those of the quantised model: the engine of the
// checkpoint read back measures the manifest's compute exactly. Hardening
// in float32 and quantising the directory afterwards (what sparsetune
// harden --dtype did) leaves a manifest whose compute the stored model
// does not spend: the negative control. Whether rounding the weights flips
// a gate depends on how close a logit lies to τ, so the control must
// differ for one dtype at least (int8 rounds the coarser).
func TestHardenDTypeMeasuresWhatIsWritten(t *testing.T) {
	differs := map[checkpoints.DType]bool{}
	for _, d := range []checkpoints.DType{checkpoints.BF16, checkpoints.Int8} {
		t.Run(string(d), func(t *testing.T) {
			in := tinyInput(t)
			o := DefaultOptions(filepath.Join(t.TempDir(), "sparse"))
			o.DType = d
			res, err := Harden(in, o, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			sp, c := readMeasured(t, o.Out, in.Calib.Seqs)
			if sp.Manifest.DType != d || res.DType != d {
				t.Fatalf("manifest dtype %q, result %q, want %q", sp.Manifest.DType, res.DType, d)
			}
			if q := sp.Tensors["transformer.h.0.mlp.c_fc.weight"]; q == nil || q.DType != d {
				t.Fatalf("c_fc of layer 0 not stored as %s: %+v", d, q)
			}
			if c != sp.Manifest.Compute || c != res.Compute {
				t.Fatalf("engine measures %.6f on the calibration set, manifest says %.6f, result %.6f", c, sp.Manifest.Compute, res.Compute)
			}
			if res.Tau != sp.Manifest.Layers[0].Tau {
				t.Errorf("result τ %.6f, manifest's %.6f", res.Tau, sp.Manifest.Layers[0].Tau)
			}

			o.Out, o.DType = filepath.Join(t.TempDir(), "after"), ""
			if _, err := Harden(in, o, io.Discard); err != nil {
				t.Fatal(err)
			}
			if err := checkpoints.QuantizeDir(o.Out, d); err != nil {
				t.Fatal(err)
			}
			sp, c = readMeasured(t, o.Out, in.Calib.Seqs)
			differs[d] = c != sp.Manifest.Compute
		})
	}
	if !differs[checkpoints.BF16] && !differs[checkpoints.Int8] {
		t.Errorf("quantised after hardening: the engine measures the manifest's compute in both dtypes; want the control to differ")
	}
}

// readMeasured reads the sparse checkpoint in dir and returns it with the
// compute its engine measures on seqs.
func readMeasured(t *testing.T, dir string, seqs [][]int) (*checkpoints.Sparse, float64) {
	t.Helper()
	sp, err := checkpoints.ReadSparse(dir)
	if err != nil {
		t.Fatal(err)
	}
	e, err := infer.New(sp)
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.MeasureCompute(seqs)
	if err != nil {
		t.Fatal(err)
	}
	return sp, c
}

// TestHardenTopKDType: a top-k hardening with Options.DType writes its
// weights in that dtype and the compute the stored model measures.
func TestHardenTopKDType(t *testing.T) {
	in := topKInput(t)
	o := DefaultOptions(filepath.Join(t.TempDir(), "sparse"))
	o.DType = checkpoints.Int8
	res, err := Harden(in, o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	sp, c := readMeasured(t, o.Out, in.Calib.Seqs)
	if sp.Manifest.DType != checkpoints.Int8 || res.DType != checkpoints.Int8 || sp.Manifest.Routing != checkpoints.RoutingTopK {
		t.Fatalf("manifest dtype %q routing %q, result dtype %q: want int8 and top-k", sp.Manifest.DType, sp.Manifest.Routing, res.DType)
	}
	if c != sp.Manifest.Compute || c != res.Compute {
		t.Fatalf("engine measures %.6f on the calibration set, manifest says %.6f, result %.6f", c, sp.Manifest.Compute, res.Compute)
	}
}

// hardenRead hardens in with o, logging to w, and reads the written sparse
// checkpoint back; t fails on an error.
func hardenRead(t *testing.T, in Input, o Options, w io.Writer) (*Result, *checkpoints.Sparse) {
	t.Helper()
	res, err := Harden(in, o, w)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := checkpoints.ReadSparse(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	return res, sp
}

// TestHardenStaticSpendsTheTarget: a static router's units end up dense or
// removed, and its routers with them, so the hardened model spends less
// than the routed model calibrated to the target, by the routers' cost
// (0.4375 at target 0.5 here before Harden aimed past it). The written
// checkpoint spends the target to within about a head.
func TestHardenStaticSpendsTheTarget(t *testing.T) {
	sc := SyntheticConfig{Layers: 2, DModel: 64, Heads: 8, FFN: 512, Vocab: 50, GroupSize: 8, Seed: 3}
	mc, err := SyntheticModelConfig(sc)
	if err != nil {
		t.Fatal(err)
	}
	m := &nn.Model{Config: mc, Params: nn.InitParams(mc, 3, tensor.Float32)}
	rc := router.DefaultConfig()
	rc.Kind, rc.GroupSize = router.Static, 8
	set, err := router.New(rc, mc, 3, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, p := range set.Params() {
		for i, d := 0, p.Value.Data().([]float32); i < len(d); i++ {
			d[i] = float32(rng.NormFloat64())
		}
	}
	in := Input{Model: m, Routers: set.Params(), Router: rc, Target: 0.5, Seed: 1, SeqLen: 16,
		Calib: Sequences{Name: "calib", Seqs: infer.RandomTokens(mc.Vocab, 8, 16, 5)}}
	o := DefaultOptions(filepath.Join(t.TempDir(), "sparse"))
	res, err := Harden(in, o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Routed != 0 {
		t.Fatalf("a static router hardened into %d routed units", res.Routed)
	}
	_, c := readMeasured(t, o.Out, in.Calib.Seqs)
	if c != res.Compute {
		t.Fatalf("engine measures %.4f, result %.4f", c, res.Compute)
	}
	t.Logf("static compute %.4f", c)
	if math.Abs(c-0.5) > 0.025 {
		t.Errorf("static hardening spends %.4f, target 0.5", c)
	}
}
