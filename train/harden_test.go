package train

import (
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/harden"
	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
)

// TestHardenedCheckpointMatchesMaskedModel trains a sparse classifier,
// which hardens its best checkpoint at the end, hardens it again on its
// whole training file, and checks that the engine running the written
// sparse checkpoint gives the training graph's hard-masked logits (with the
// calibrated τ) on that file: units removed were never on there and dense
// units always were, so pruning changes nothing on it.
func TestHardenedCheckpointMatchesMaskedModel(t *testing.T) {
	for _, kind := range []string{"sigmoid", "static"} {
		t.Run(kind, func(t *testing.T) { testHardened(t, kind) })
	}
}

func testHardened(t *testing.T, kind string) {
	dir := t.TempDir()
	c := sparseRun(t, dir)
	if c.Router = router.Kind(kind); kind == "static" {
		c.RouterLR = 0.1 // one logit per unit: see Config.RouterLR
	}
	sum, err := Run(c, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.SparseCheckpoint == "" || sum.SparseCompute == nil {
		t.Fatalf("a sparse run's summary has no sparse checkpoint: %+v", sum)
	}
	if _, err := checkpoints.ReadSparse(sum.SparseCheckpoint); err != nil {
		t.Fatalf("the run's sparse checkpoint: %v", err)
	}
	var log strings.Builder
	out := filepath.Join(dir, "hardened")
	onTrain, err := OpenRun(c.OutDir, "", c.Train)
	if err != nil {
		t.Fatal(err)
	}
	in, err := onTrain.HardenInput(onTrain.Data.Train) // one global τ, as the training graph has
	if err != nil {
		t.Fatal(err)
	}
	hr, err := harden.Harden(in, harden.Options{Out: out, Sequences: 1 << 20, PruneBelow: 1e-9, DenseAbove: 1 - 1e-9}, &log)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", log.String())
	if math.Abs(hr.Compute-c.Target) > 0.1 {
		t.Errorf("calibrated compute %.3f, target %.2f", hr.Compute, c.Target)
	}
	if kind == "static" && (hr.Routed != 0 || hr.Removed == 0) {
		t.Errorf("a static router hardened into %d routed and %d removed units; want every kept unit dense and some removed", hr.Routed, hr.Removed)
	}
	sp, err := checkpoints.ReadSparse(out)
	if err != nil {
		t.Fatal(err)
	}
	e, err := infer.New(sp)
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenRun(filepath.Join(c.OutDir, "best"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	r.SetTau(hr.Tau)
	spec := r.spec
	spec.Train, spec.Valid, spec.Test = c.Train, c.Train, ""
	ds, err := data.Load(spec, r.Tokenizer, r.key)
	if err != nil {
		t.Fatal(err)
	}
	split, B, T := ds.Train, 4, r.Config.SeqLen
	gr, err := r.Model.Build(nn.BuildOptions{B: B, T: T, Dtype: tensor.Float32, Gates: r.sp.set.GateFunc(router.Hard)})
	if err != nil {
		t.Fatal(err)
	}
	run, err := gr.Compile(false)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	// The control: the model without gates (every unit of the dense model).
	plain, err := r.Model.Build(nn.BuildOptions{B: B, T: T, Dtype: tensor.Float32})
	if err != nil {
		t.Fatal(err)
	}
	plainRun, err := plain.Compile(false)
	if err != nil {
		t.Fatal(err)
	}
	defer plainRun.Close()
	worst, masking := 0.0, 0.0
	for lo := 0; lo+B <= len(split.Seqs); lo += B {
		idx := []int{lo, lo + 1, lo + 2, lo + 3}
		if err := gr.Feed(makeBatch(split, idx, B, T, r.Model.Config, r.Tokenizer)); err != nil {
			t.Fatal(err)
		}
		if err := run.Run(); err != nil {
			t.Fatal(err)
		}
		want := gr.Logits.Value().Data().([]float32)
		h, off, err := e.Forward(split.Seqs[lo:lo+B], nil)
		if err != nil {
			t.Fatal(err)
		}
		got := e.ClassLogits(h, off)
		if err := plain.Feed(makeBatch(split, idx, B, T, r.Model.Config, r.Tokenizer)); err != nil {
			t.Fatal(err)
		}
		if err := plainRun.Run(); err != nil {
			t.Fatal(err)
		}
		dense := plain.Logits.Value().Data().([]float32)
		for i := range got {
			worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
			masking = math.Max(masking, math.Abs(float64(dense[i]-want[i])))
		}
	}
	if masking < 1e-4 {
		t.Fatalf("the ungated model's logits differ by only %.2g: the comparison cannot see the masks", masking)
	}
	if worst > 1e-4 {
		t.Fatalf("engine vs hard-masked training graph: max abs logit error %.3g", worst)
	}
	t.Logf("engine vs hard-masked graph on %d sequences: max abs logit error %.2g; τ %.4f, %d removed, %d dense, %d routed",
		len(split.Seqs), worst, hr.Tau, hr.Removed, hr.Dense, hr.Routed)
}

// TestCalibrateOn: a sparse run calibrates its sparse checkpoint on the
// validation split by default, checked against the allocation of the
// training split; calibrate_on train is the old behaviour (no reference),
// a file is read with the run's tokenizer, and a missing file is refused
// at validation, naming the key.
func TestCalibrateOn(t *testing.T) {
	dir := t.TempDir()
	c := sparseRun(t, dir)
	sum, err := Run(c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := checkpoints.ReadSparse(sum.SparseCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	if cal := sp.Manifest.Calibration; cal.Source != CalibrateValid || cal.Reference != CalibrateTrain || cal.ComputeSE <= 0 || len(cal.LayerCompute) != sp.Config.L {
		t.Errorf("default calibration %+v: want source valid, reference train, a standard error and per-layer compute", cal)
	}
	r, err := OpenRun(c.OutDir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	for on, want := range map[string]string{CalibrateTrain: "", c.Train: CalibrateTrain} {
		split, err := r.CalibrationSplit(on)
		if err != nil {
			t.Fatal(err)
		}
		in, err := r.HardenInput(split)
		if err != nil {
			t.Fatal(err)
		}
		if in.Calib.Name != on || in.Reference.Name != want || len(in.Calib.Seqs) == 0 {
			t.Errorf("calibrate on %s: calibration %q (%d sequences), reference %q; want reference %q", on, in.Calib.Name, len(in.Calib.Seqs), in.Reference.Name, want)
		}
	}
	bad := c
	bad.CalibrateOn = filepath.Join(dir, "missing.jsonl")
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "calibrate_on") {
		t.Fatalf("calibrate_on a missing file: %v", err)
	}
}
