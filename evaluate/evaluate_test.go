package evaluate

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/internal/testmodel"
	"github.com/sparsetune/sparsetune/train"
)

// topicSplit writes n held-out topic examples (ids from first) to path.
func topicSplit(t *testing.T, path string, first, n int) string {
	t.Helper()
	p, err := testmodel.TopicSplit(path, first, n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sparseRun trains a tiny sparse classifier with valid and test splits,
// its last steps in stage 2 (hard masks at the calibrated τ), and returns
// its config and summary.
func sparseRun(t *testing.T) (train.Config, *train.Summary) {
	t.Helper()
	dir := t.TempDir()
	data, err := testmodel.TopicData(dir, 40)
	if err != nil {
		t.Fatal(err)
	}
	c := train.DefaultConfig()
	c.Model, c.Train, c.OutDir, c.CacheDir = testmodel.Dir(t, true), data, filepath.Join(dir, "run"), filepath.Join(dir, "cache")
	c.Valid = topicSplit(t, filepath.Join(dir, "valid.jsonl"), 1000, 12)
	c.Test = topicSplit(t, filepath.Join(dir, "test.jsonl"), 2000, 10)
	c.SeqLen, c.Batch, c.Warmup, c.LR, c.Dropout, c.LogEvery = 24, 4, 2, 3e-3, 0.1, 1
	c.Task, c.Target, c.GroupSize, c.Steps, c.Stage2Steps, c.TargetWarmup = "classification", 0.5, 16, 24, 6, 8
	c.EvalEvery, c.SaveEvery, c.LambdaLR, c.BudgetTol = 6, 6, 0.5, 0.5
	sum, err := train.Run(c, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	return c, sum
}

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

// TestEvaluateSparseRun covers what a sparse run leaves, evaluated as
// `sparsetune eval` does:
//   - a training checkpoint (weights + router.safetensors) with its
//     routers' hard masks at the calibrated τ, exactly as the run's own
//     evaluation (it used to evaluate the weights densely and report
//     another model's accuracy), with the masks' compute;
//   - the best checkpoint: the summary's train_ figures;
//   - the sparse checkpoint with the engine (EvaluateSparse): the summary's
//     metric and compute on valid and test, which the run measured so;
//   - the sparse checkpoint given as --model: refused, naming --checkpoint,
//     and by score --model too, as the run's checkpoint is.
func TestEvaluateSparseRun(t *testing.T) {
	c, sum := sparseRun(t)
	last := filepath.Join(c.OutDir, fmt.Sprintf("checkpoint-%d", c.Steps))
	r, err := Evaluate(Config{Model: last, Data: c.Valid, Batch: c.Batch, CacheDir: c.CacheDir})
	if err != nil {
		t.Fatal(err)
	}
	if want := validLoss(t, c.OutDir, c.Steps); math.Abs(r.Loss-want) > 1e-5 {
		t.Errorf("eval of %s: loss %.6f; the run's own evaluation: %.6f", last, r.Loss, want)
	}
	if r.Compute == nil || *r.Compute > 0.9 || r.MetricName != "accuracy" || r.Count != 12 {
		t.Errorf("eval of %s: %+v; want the masks' measured compute, accuracy over 12 examples", last, r)
	}
	if r, err = Evaluate(Config{Model: sum.Checkpoint, Data: c.Valid, Batch: c.Batch, CacheDir: c.CacheDir}); err != nil {
		t.Fatal(err)
	}
	if sum.TrainMetric == nil || r.Metric != *sum.TrainMetric || r.Compute == nil || sum.TrainCompute == nil || math.Abs(*r.Compute-*sum.TrainCompute) > 1e-6 {
		t.Errorf("eval of %s: metric %.4f, compute %v; the run's: %v, %v", sum.Checkpoint, r.Metric, r.Compute, sum.TrainMetric, sum.TrainCompute)
	}
	for _, s := range []struct {
		name            string
		data            string
		metric, compute float64
	}{{"valid", c.Valid, sum.Metric, *sum.Compute}, {"test", c.Test, *sum.TestMetric, *sum.TestCompute}} {
		// --seq-len given, and left to the checkpoint (its calibration length).
		for _, seqLen := range []int{c.SeqLen, 0} {
			r, err := EvaluateSparse(Config{Model: sum.SparseCheckpoint, Data: s.data, SeqLen: seqLen, CacheDir: c.CacheDir})
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(r.Metric-s.metric) > 1e-9 || math.Abs(*r.Compute-s.compute) > 1e-9 {
				t.Errorf("%s, seq_len %d: summary metric %.6f compute %.6f; the engine measures %.6f and %.6f", s.name, seqLen, s.metric, s.compute, r.Metric, *r.Compute)
			}
		}
	}
	if _, err := Evaluate(Config{Model: sum.SparseCheckpoint, Data: c.Valid}); err == nil || !strings.Contains(err.Error(), "--checkpoint "+sum.SparseCheckpoint) {
		t.Errorf("eval --model of a sparse checkpoint: got %v", err)
	}
	for _, model := range []string{sum.Checkpoint, sum.SparseCheckpoint} {
		path := filepath.Join(t.TempDir(), "in.jsonl")
		os.WriteFile(path, []byte("{\"text\": \"a cat\"}\n"), 0o644)
		if err := Score(ScoreConfig{ModelDir: model, Data: path}, &strings.Builder{}, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), "--checkpoint") {
			t.Errorf("score --model %s: got %v, want a refusal naming --checkpoint", model, err)
		}
	}

}

// TestEvaluateDense: a plain model's evaluation has no compute; a split
// the model cannot read at its length is an error naming seq_len; an
// empty data file is an error.
func TestEvaluateDense(t *testing.T) {
	model, dir := testmodel.Dir(t, true), t.TempDir()
	data := topicSplit(t, filepath.Join(dir, "valid.jsonl"), 0, 6)
	lm, err := Evaluate(Config{Model: model, Data: data, Batch: 4, CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	if lm.MetricName != "perplexity" || lm.Compute != nil || lm.F1 != 0 || !(lm.Metric > 1) || math.Abs(lm.Metric-math.Exp(lm.Loss)) > 1e-9*lm.Metric {
		t.Errorf("dense LM evaluation %+v: want perplexity exp(loss), no compute", lm)
	}
	if _, err := Evaluate(Config{Model: model, Data: data, SeqLen: 1000, NoCache: true}); err == nil || !strings.Contains(err.Error(), "seq_len") {
		t.Errorf("seq_len beyond the model's positions: got %v", err)
	}
	empty := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(empty, nil, 0o644)
	if _, err := Evaluate(Config{Model: model, Data: empty, NoCache: true}); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("empty data: want a one-line error, got %v", err)
	}
}
