package train

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/internal/safetensors"
)

// topicData writes n topic examples into a new subdirectory of dir.
func topicData(t *testing.T, dir, sub string, n int) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
		t.Fatal(err)
	}
	return writeTopicData(t, filepath.Join(dir, sub), n)
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
	hr, err := Harden(HardenConfig{Checkpoint: c.OutDir, Out: filepath.Join(dir, "hardened"), Data: calib, Sequences: 16}, &strings.Builder{})
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
	if _, err := Harden(HardenConfig{Checkpoint: c.OutDir, Out: filepath.Join(dir, "h2"), Data: calib}, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("harden with a NaN router weight: got %v, want %q", err, want)
	}
}

// TestHardenErrorsSayHarden: harden's errors name the command and the
// target it was given, not the frontier's words or a target of 0.
func TestHardenErrorsSayHarden(t *testing.T) {
	dir := t.TempDir()
	dense := tinyRun(t, byteLevelModelDir(t, true), writeTopicData(t, dir, 40), filepath.Join(dir, "run"))
	dense.Steps = 3
	if _, err := Run(dense, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	_, err := Harden(HardenConfig{Checkpoint: dense.OutDir, Out: filepath.Join(dir, "out")}, &strings.Builder{})
	if err == nil || !strings.HasPrefix(err.Error(), "harden: ") || strings.Contains(err.Error(), "frontier") {
		t.Errorf("harden of a dense run: got %v", err)
	}
	_, err = Harden(HardenConfig{Checkpoint: dense.OutDir, Out: filepath.Join(dir, "out"), PruneBelow: 0.5, DenseAbove: 0.4}, &strings.Builder{})
	if err == nil || strings.Contains(err.Error(), "target") {
		t.Errorf("bad prune/dense thresholds: got %v, want no word of a target", err)
	}
	for _, bad := range []float64{math.NaN(), -0.5, 2} {
		if _, err := Harden(HardenConfig{Checkpoint: dense.OutDir, Out: filepath.Join(dir, "out"), Target: bad}, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), "target") {
			t.Errorf("target %g: got %v", bad, err)
		}
	}
}
