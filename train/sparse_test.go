package train

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/internal/testmodel"
	"github.com/sparsetune/sparsetune/router"
)

func sparseRun(t *testing.T, dir string) Config {
	c := tinyRun(t, testmodel.Dir(t, true), testmodel.Topic(t, dir, 40), filepath.Join(dir, "run"))
	c.Task, c.Target, c.GroupSize, c.Steps, c.Stage2Steps, c.TargetWarmup = "classification", 0.5, 16, 24, 6, 8
	c.EvalEvery, c.SaveEvery, c.LambdaLR = 6, 6, 0.5
	return c
}

// TestSparseRunTwoStages runs both stages end to end: the summary reports
// the target and the measured hard-mask compute, and the metrics file the
// controller's figures.
func TestSparseRunTwoStages(t *testing.T) {
	dir := t.TempDir()
	c := sparseRun(t, dir)
	var log strings.Builder
	sum, err := Run(c, &log)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Target == nil || *sum.Target != 0.5 || sum.Compute == nil || *sum.Compute <= 0 || *sum.Compute > 1.2 {
		t.Fatalf("summary target/compute: %+v", sum)
	}
	for _, want := range []string{"sparse: sigmoid routers", "ĉ ", "stage 2 at step 19", "compute "} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	t.Logf("measured compute %.3f at target 0.5 after %d steps", *sum.Compute, sum.Steps)
}

// TestShortSparseRunHasAStage2 runs a sparse run too short for a third of
// its steps to be a whole stage 2: the default still gives stage 2 a step,
// so the run evaluates hard masks, keeps a best checkpoint and hardens it.
func TestShortSparseRunHasAStage2(t *testing.T) {
	dir := t.TempDir()
	c := sparseRun(t, dir)
	c.Steps, c.Stage2Steps, c.TargetWarmup, c.Warmup, c.EvalEvery, c.SaveEvery = 2, 0, 0, 0, 2, 2
	sum, err := Run(c, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Checkpoint == "" || sum.SparseCheckpoint == "" {
		t.Fatalf("no best or sparse checkpoint: %+v", sum)
	}
}

// TestSparseResumeContinuesExactly interrupts a sparse run in stage 1 and
// again checks the resumed losses against an uninterrupted run.
func TestSparseResumeContinuesExactly(t *testing.T) {
	dir := t.TempDir()
	full := sparseRun(t, dir)
	full.Router = "hard-concrete"
	if _, err := Run(full, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	cut := full
	cut.OutDir = filepath.Join(dir, "cut")
	runCut(t, cut, 8)
	cut.Resume = true
	if _, err := Run(cut, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	sameLosses(t, full.OutDir, cut.OutDir, full.Steps)
}

// TestSparseConfigErrors: bad sparse settings fail before training.
func TestSparseConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for name, edit := range map[string]func(*Config){
		"target above 1":         func(c *Config) { c.Target = 1.5 },
		"negative target":        func(c *Config) { c.Target = -0.1 },
		"tau outside (0,1)":      func(c *Config) { c.Tau = 1 },
		"group size not divides": func(c *Config) { c.GroupSize = 24 },
		"unknown router":         func(c *Config) { c.Router = "magic" },
		"unreachable target":     func(c *Config) { c.Target = 0.01 },
		"one step":               func(c *Config) { c.Steps, c.Stage2Steps, c.TargetWarmup, c.Warmup = 1, 0, 0, 0 },
	} {
		c := sparseRun(t, dir)
		c.OutDir = filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		edit(&c)
		if _, err := Run(c, &strings.Builder{}); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// TestSparseDistillation trains with distillation from the frozen dense
// model, for a classifier and a language model.
func TestSparseDistillation(t *testing.T) {
	for _, task := range []Task{TaskClassification, TaskCausalLM} {
		dir := t.TempDir()
		c := sparseRun(t, dir)
		c.Task, c.Distill, c.Steps, c.Stage2Steps, c.EvalEvery, c.SaveEvery = task, 1, 12, 4, 12, 12
		sum, err := Run(c, &strings.Builder{})
		if err != nil {
			t.Fatalf("%s: %v", task, err)
		}
		if l := readLosses(t, c.OutDir); len(l) != 12 {
			t.Fatalf("%s: %d logged steps", task, len(l))
		}
		t.Logf("%s with distillation: compute %.3f, %s %.4f", task, *sum.Compute, sum.MetricName, sum.Metric)
	}
}

// TestDenseReference: a sparse run given a dense reference reports the
// reference's validation metric, which equals what the dense run itself
// measured on the same data; a reference with another task is refused.
func TestDenseReference(t *testing.T) {
	dir := t.TempDir()
	c := sparseRun(t, dir)
	dense := c
	dense.Target, dense.OutDir = 0, filepath.Join(dir, "dense")
	dsum, err := Run(dense, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	c.DenseRef = dsum.Checkpoint
	sum, err := Run(c, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.DenseMetric == nil || math.Abs(*sum.DenseMetric-dsum.Metric) > 1e-9 {
		t.Fatalf("dense_metric %v, the dense run measured %v", sum.DenseMetric, dsum.Metric)
	}
	lm := c
	lm.Task, lm.OutDir = "causal-lm", filepath.Join(dir, "lm")
	if _, err := Run(lm, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), "dense_reference") {
		t.Fatalf("a classifier as the reference of a language model: %v", err)
	}
}

// TestSparseResumeAtTheStageSwitch resumes from the checkpoint saved at the
// last stage-1 step, before τ was calibrated: the resumed run calibrates as
// the uninterrupted one did and ends with the same losses and compute.
func TestSparseResumeAtTheStageSwitch(t *testing.T) {
	dir := t.TempDir()
	full := sparseRun(t, dir)
	fsum, err := Run(full, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	cut := full
	cut.OutDir = filepath.Join(dir, "cut")
	runCut(t, cut, full.Steps-full.Stage2Steps)
	cut.Resume = true
	var log strings.Builder
	csum, err := Run(cut, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "calibrated τ") {
		t.Errorf("the run resumed at the stage switch did not calibrate:\n%s", log.String())
	}
	sameLosses(t, full.OutDir, cut.OutDir, full.Steps)
	if *csum.Compute != *fsum.Compute {
		t.Errorf("resumed at the switch: compute %.4f, uninterrupted %.4f", *csum.Compute, *fsum.Compute)
	}
}

// TestRecalibrationSchedule: stage 2 calibrates τ again at evenly spaced
// steps after the switch, never at the switch itself (enterStage2
// calibrates there), never under top-k routing or with none asked for.
func TestRecalibrationSchedule(t *testing.T) {
	for _, tc := range []struct {
		steps, stage2, times int
		topk                 bool
		want                 []int
	}{
		{250, 83, 3, false, []int{188, 209, 230}},
		{300, 100, 3, false, []int{225, 250, 275}},
		{24, 6, 3, false, []int{20, 22}}, // the third would fall on the last step: no step left to train
		{24, 6, 0, false, nil},
		{24, 3, 3, false, nil}, // too short a stage 2 to share
		{300, 100, 3, true, nil},
	} {
		cfg := &Config{Steps: tc.steps, Stage2Steps: tc.stage2, Stage2Calibrations: tc.times}
		s := &sparsity{cfg: cfg, stage: 2, set: &router.Set{}}
		if tc.topk {
			s.set.Config.Routing = router.TopK
		}
		var got []int
		for step := 0; step < tc.steps; step++ {
			if s.recalibrates(step) {
				got = append(got, step)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%d steps, stage 2 %d, %d calibrations, top-k %v: at %v, want %v", tc.steps, tc.stage2, tc.times, tc.topk, got, tc.want)
		}
	}
}

// TestSparseResumeInStage2 interrupts a sparse run between two of stage
// 2's calibrations: the resumed run calibrates where the uninterrupted one
// did and ends with the same losses, τ and compute.
func TestSparseResumeInStage2(t *testing.T) {
	dir := t.TempDir()
	full := sparseRun(t, dir)
	full.SaveEvery = 3 // a checkpoint at step 21, between the calibrations before steps 21 and 23
	var flog strings.Builder
	fsum, err := Run(full, &flog)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(flog.String(), "τ recalibrated"); n != 2 {
		t.Fatalf("stage 2 calibrated again %d times, want 2:\n%s", n, flog.String())
	}
	cut := full
	cut.OutDir = filepath.Join(dir, "cut")
	runCut(t, cut, 21)
	cut.Resume = true
	var log strings.Builder
	csum, err := Run(cut, &log)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(log.String(), "τ recalibrated"); n != 1 {
		t.Errorf("the run resumed at step 21 calibrated again %d times, want 1 (before step 23):\n%s", n, log.String())
	}
	sameLosses(t, full.OutDir, cut.OutDir, full.Steps)
	if *csum.Compute != *fsum.Compute {
		t.Errorf("resumed in stage 2: compute %.4f, uninterrupted %.4f", *csum.Compute, *fsum.Compute)
	}
}
