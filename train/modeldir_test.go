package train

import (
	"github.com/sparsetune/sparsetune/harden"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/internal/safetensors"
	"github.com/sparsetune/sparsetune/internal/testmodel"
)

// topicData writes n topic examples into a new subdirectory of dir.
func topicData(t *testing.T, dir, sub string, n int) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
		t.Fatal(err)
	}
	return testmodel.Topic(t, filepath.Join(dir, sub), n)
}

// TestSparseRunCheckpointAsModel covers a sparse run's best checkpoint
// (weights + router.safetensors) and its sparse checkpoint given where a
// plain model is expected: training refuses both, a NaN router weight is
// named on load, and harden --data reads only that file. (Package evaluate
// tests that eval applies the routers exactly as the run's own evaluation
// did and refuses the sparse checkpoint.)
func TestSparseRunCheckpointAsModel(t *testing.T) {
	dir := t.TempDir()
	c := sparseRun(t, dir)
	c.Valid = topicData(t, dir, "valid", 12)
	sum, err := Run(c, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	for _, model := range []string{sum.Checkpoint, sum.SparseCheckpoint} {
		d := c
		d.Model, d.Target, d.OutDir = model, 0, filepath.Join(dir, "again")
		_, err := Run(d, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), "model "+model+" is a") {
			t.Errorf("training from %s: got %v, want a refusal naming it", model, err)
		}
	}

	// harden --data: the run's own data files are not opened.
	calib := topicData(t, dir, "calib", 16)
	if err := os.Rename(c.Train, c.Train+".moved"); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRun(c.OutDir, "", calib)
	if err != nil {
		t.Fatalf("opening the run with --data and its training file gone: %v", err)
	}
	in, err := r.HardenInput(r.Data.Train)
	if err != nil {
		t.Fatal(err)
	}
	o := harden.DefaultOptions(filepath.Join(dir, "hardened"))
	o.Sequences = 16
	hr, err := harden.Harden(in, o, &strings.Builder{})
	if err != nil {
		t.Fatalf("harden --data with the run's training file gone: %v", err)
	}
	if hr.Target != c.Target {
		t.Errorf("harden target %g, want the run's %g", hr.Target, c.Target)
	}

	// A NaN router weight is an error naming the tensor, never a pruned unit.
	rp := filepath.Join(sum.Checkpoint, routerFile)
	f, err := safetensors.Read(rp)
	if err != nil {
		t.Fatal(err)
	}
	var ts []*safetensors.Tensor
	for _, n := range f.Names {
		ts = append(ts, f.Tensors[n])
	}
	ts[0].Data[3] = float32(math.NaN())
	if err := safetensors.Write(rp, ts, safetensors.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := rp + ": tensor " + ts[0].Name + " has NaN at element 3"
	if _, err := OpenEvalModel(sum.Checkpoint, 0); err == nil || err.Error() != want {
		t.Errorf("loading for evaluation with a NaN router weight: got %v, want %q", err, want)
	}
	if _, err := OpenRun(c.OutDir, "", calib); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("opening for harden with a NaN router weight: got %v, want %q", err, want)
	}
}

// TestHardenErrorsSayHarden: what sparsetune harden loads and checks
// names the problem in harden's words (the command adds "harden: "), not
// the frontier's, and option errors speak of a target only when the
// target is what is wrong.
func TestHardenErrorsSayHarden(t *testing.T) {
	dir := t.TempDir()
	dense := tinyRun(t, testmodel.Dir(t, true), testmodel.Topic(t, dir, 40), filepath.Join(dir, "run"))
	dense.Steps = 3
	if _, err := Run(dense, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	_, err := OpenRun(dense.OutDir, "", "")
	if err == nil || !strings.Contains(err.Error(), "sparse run") || strings.Contains(err.Error(), "frontier") {
		t.Errorf("opening a dense run for harden: got %v", err)
	}
	o := harden.DefaultOptions(filepath.Join(dir, "out"))
	o.PruneBelow, o.DenseAbove = 0.5, 0.4
	if err := o.Check(); err == nil || strings.Contains(err.Error(), "target") || !strings.HasPrefix(err.Error(), "harden: ") {
		t.Errorf("bad prune/dense thresholds: got %v, want no word of a target", err)
	}
	for _, bad := range []float64{math.NaN(), -0.5, 2} {
		o := harden.DefaultOptions(filepath.Join(dir, "out"))
		o.Target = bad
		if err := o.Check(); err == nil || !strings.Contains(err.Error(), "target") {
			t.Errorf("target %g: got %v", bad, err)
		}
	}
}
