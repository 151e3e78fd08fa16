package train

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/internal/testmodel"
)

// TestStepRecordKeys: metrics.jsonl keeps the keys it always had: a dense
// step's six, a stage-1 step's and a stage-2 step's sparse ones beside
// them, each line with sorted keys.
func TestStepRecordKeys(t *testing.T) {
	dir := t.TempDir()
	c := sparseRun(t, dir)
	if _, err := Run(c, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	base := []string{"grad_norm", "loss", "lr", "step", "step_s", "tokens_per_s"}
	stage1 := append([]string{"expected_compute", "lambda1", "lambda2", "layer_expected_compute", "near_tau", "stage", "target"}, base...)
	stage2 := append([]string{"stage"}, base...)
	slices.Sort(stage1)
	slices.Sort(stage2)
	f, err := os.Open(filepath.Join(c.OutDir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[int]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["split"] != nil {
			continue // an evaluation's record
		}
		var keys []string
		for k := range rec {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		stage := int(rec["stage"].(float64))
		want := map[int][]string{1: stage1, 2: stage2}[stage]
		if !slices.Equal(keys, want) {
			t.Fatalf("step %v (stage %d): keys %v, want %v", rec["step"], stage, keys, want)
		}
		// The keys are written in sorted order, as they always were.
		if i := strings.Index(sc.Text(), `"grad_norm"`); i < 0 || i > strings.Index(sc.Text(), `"step"`) {
			t.Errorf("keys out of order: %s", sc.Text())
		}
		seen[stage] = true
	}
	if !seen[1] || !seen[2] {
		t.Errorf("stages recorded: %v", seen)
	}
	if rec := (StepRecord{Step: 1}).fields(); len(rec) != len(base) {
		t.Errorf("a dense step's record %v, want the keys %v only", rec, base)
	}
}

// TestConfigResolvedBeforePrinted: the config a run prints (and saves)
// has every default that depends on the model or the steps filled in.
func TestConfigResolvedBeforePrinted(t *testing.T) {
	dir := t.TempDir()
	c := sparseRun(t, dir)
	c.SeqLen, c.Stage2Steps, c.TargetWarmup = 0, 0, 0
	var log strings.Builder
	if _, err := Run(c, &log); err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(log.String()[strings.Index(log.String(), "config: "):], "\n")
	var printed Config
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "config: ")), &printed); err != nil {
		t.Fatal(err)
	}
	if printed.SeqLen == 0 || printed.Stage2Steps != c.Steps/3 || printed.TargetWarmup != (c.Steps-c.Steps/3)*9/10 || printed.CacheDir == "" {
		t.Errorf("printed config not resolved: seq_len %d, stage2_steps %d, target_warmup %d, cache_dir %q",
			printed.SeqLen, printed.Stage2Steps, printed.TargetWarmup, printed.CacheDir)
	}
	var saved Config
	b, err := os.ReadFile(filepath.Join(c.OutDir, "best", "train_config.json"))
	if err != nil || json.Unmarshal(b, &saved) != nil {
		t.Fatalf("saved config: %v", err)
	}
	if saved.SeqLen != printed.SeqLen || saved.Stage2Steps != printed.Stage2Steps || saved.TargetWarmup != printed.TargetWarmup {
		t.Errorf("saved config %+v differs from the printed one %+v", saved, printed)
	}
}

// TestHookErrorEndsTheRun: an error from a hook ends the run with that
// error; Start sees the run set up, AfterStep every step.
func TestHookErrorEndsTheRun(t *testing.T) {
	dir := t.TempDir()
	c := tinyRun(t, testmodel.Dir(t, true), testmodel.Topic(t, dir, 40), filepath.Join(dir, "run"))
	c.Task = TaskClassification
	boom := errors.New("boom")
	var started bool
	var steps []int
	h := Hooks{
		Start: func(p *Progress) error {
			started = p.Step() == 0 && p.Config().SeqLen == 32 && len(p.TrainSplit().Seqs) > 0 && len(p.Model().Labels) == 2
			return nil
		},
		AfterStep: func(p *Progress) error {
			steps = append(steps, p.Record().Step)
			if p.Step() == 3 {
				return boom
			}
			return nil
		},
	}
	if _, err := Run(c, &strings.Builder{}, h); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the hook's error", err)
	}
	if !started || !slices.Equal(steps, []int{1, 2, 3}) {
		t.Errorf("start saw the run set up: %v; steps seen %v", started, steps)
	}
}

// TestTaskReadsTheModelsSpelling: a config file may spell classification
// as models do; an unknown task is still refused.
func TestTaskReadsTheModelsSpelling(t *testing.T) {
	var c Config
	if err := json.Unmarshal([]byte(`{"task": "sequence-classification"}`), &c); err != nil || c.Task != TaskClassification {
		t.Errorf("got %q, %v", c.Task, err)
	}
	c = validConfig()
	c.Task = "translation"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `task "translation"`) {
		t.Errorf("unknown task: %v", err)
	}
}

func TestParseSchedule(t *testing.T) {
	for _, s := range []Schedule{Cosine, Linear, Constant} {
		if got, err := ParseSchedule(string(s)); err != nil || got != s {
			t.Errorf("%s: got %q, %v", s, got, err)
		}
	}
	if _, err := ParseSchedule("step"); err == nil || !strings.Contains(err.Error(), `"step"`) {
		t.Errorf("unknown schedule: %v", err)
	}
}
