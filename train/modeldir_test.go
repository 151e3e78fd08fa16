package train

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/internal/safetensors"
)

// validLoss returns the run's logged validation loss at step.
func validLoss(t *testing.T, dir string, step int) float64 {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct {
			Step  int
			Split string
			Loss  *float64
		}
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Split == "valid" && r.Step == step && r.Loss != nil {
			return *r.Loss
		}
	}
	t.Fatalf("no valid loss at step %d", step)
	return 0
}

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
// plain model is expected: eval applies the routers exactly as the run's
// own evaluation did (it used to evaluate the weights densely and report
// another model's accuracy), training refuses both, eval refuses the
// sparse checkpoint, a NaN router weight is named on load, and harden
// --data reads only that file.
func TestSparseRunCheckpointAsModel(t *testing.T) {
	dir := t.TempDir()
	c := sparseRun(t, dir)
	c.Valid = topicData(t, dir, "valid", 12)
	sum, err := Run(c, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	// The last checkpoint is in stage 2: hard masks at the calibrated τ.
	last := filepath.Join(c.OutDir, fmt.Sprintf("checkpoint-%d", c.Steps))
	r, err := Evaluate(EvalConfig{Model: last, Data: c.Valid, Batch: c.Batch, CacheDir: c.CacheDir})
	if err != nil {
		t.Fatal(err)
	}
	if want := validLoss(t, c.OutDir, c.Steps); math.Abs(r.Loss-want) > 1e-5 {
		t.Errorf("eval of %s: loss %.6f; the run's own evaluation: %.6f", last, r.Loss, want)
	}
	if r.Compute == nil || *r.Compute > 0.9 {
		t.Errorf("eval compute %v: want the masks' measured compute", r.Compute)
	}
	if r, err = Evaluate(EvalConfig{Model: sum.Checkpoint, Data: c.Valid, Batch: c.Batch, CacheDir: c.CacheDir}); err != nil {
		t.Fatal(err)
	}
	// The best checkpoint's figures in the training graph are the train_ keys.
	if sum.TrainMetric == nil || r.Metric != *sum.TrainMetric || r.Compute == nil || sum.TrainCompute == nil || math.Abs(*r.Compute-*sum.TrainCompute) > 1e-6 {
		t.Errorf("eval of %s: metric %.4f, compute %v; the run's: %v, %v", sum.Checkpoint, r.Metric, r.Compute, sum.TrainMetric, sum.TrainCompute)
	}

	for _, model := range []string{sum.Checkpoint, sum.SparseCheckpoint} {
		d := c
		d.Model, d.Target, d.OutDir = model, 0, filepath.Join(dir, "again")
		_, err := Run(d, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), "model "+model+" is a") {
			t.Errorf("training from %s: got %v, want a refusal naming it", model, err)
		}
	}
	if _, err := Evaluate(EvalConfig{Model: sum.SparseCheckpoint, Data: c.Valid}); err == nil || !strings.Contains(err.Error(), "--checkpoint "+sum.SparseCheckpoint) {
		t.Errorf("eval --model of a sparse checkpoint: got %v", err)
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
	if _, err := Evaluate(EvalConfig{Model: sum.Checkpoint, Data: c.Valid}); err == nil || err.Error() != want {
		t.Errorf("eval with a NaN router weight: got %v, want %q", err, want)
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
