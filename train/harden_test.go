package train

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/data"
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
	dir := t.TempDir()
	c := sparseRun(t, dir)
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
	hr, err := Harden(HardenConfig{Checkpoint: c.OutDir, Out: out, Data: c.Train, Sequences: 1 << 20, PruneBelow: 1e-9, DenseAbove: 1 - 1e-9}, &log)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", log.String())
	if math.Abs(hr.Compute-c.Target) > 0.1 {
		t.Errorf("calibrated compute %.3f, target %.2f", hr.Compute, c.Target)
	}
	sp, err := checkpoints.ReadSparse(out)
	if err != nil {
		t.Fatal(err)
	}
	e, err := infer.New(sp)
	if err != nil {
		t.Fatal(err)
	}
	r, err := openSparseRun(filepath.Join(c.OutDir, "best"), "")
	if err != nil {
		t.Fatal(err)
	}
	r.sp.set.Config.Tau = hr.Tau
	spec := r.spec
	spec.Train, spec.Valid, spec.Test = c.Train, c.Train, ""
	ds, err := data.Load(spec, r.tok, r.key)
	if err != nil {
		t.Fatal(err)
	}
	split, B, T := ds.Train, 4, r.cfg.SeqLen
	gr, err := r.model.Build(nn.BuildOptions{B: B, T: T, Dtype: tensor.Float32, Gates: r.sp.set.GateFunc(router.Hard)})
	if err != nil {
		t.Fatal(err)
	}
	run, err := gr.Compile(false)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	worst, masking := 0.0, 0.0
	for lo := 0; lo+B <= len(split.Seqs); lo += B {
		idx := []int{lo, lo + 1, lo + 2, lo + 3}
		if err := gr.Feed(makeBatch(split, idx, B, T, r.model.Config, r.tok)); err != nil {
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
		e.Dense = true
		h, off, _ = e.Forward(split.Seqs[lo:lo+B], nil)
		dense := e.ClassLogits(h, off)
		e.Dense = false
		for i := range got {
			worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
			masking = math.Max(masking, math.Abs(float64(dense[i]-want[i])))
		}
	}
	if masking < 1e-4 {
		t.Fatalf("running every kept unit changes the logits by only %.2g: the comparison cannot see the masks", masking)
	}
	if worst > 1e-4 {
		t.Fatalf("engine vs hard-masked training graph: max abs logit error %.3g", worst)
	}
	t.Logf("engine vs hard-masked graph on %d sequences: max abs logit error %.2g; τ %.4f, %d removed, %d dense, %d routed",
		len(split.Seqs), worst, hr.Tau, hr.Removed, hr.Dense, hr.Routed)
}
