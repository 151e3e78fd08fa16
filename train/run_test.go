package train

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/internal/testmodel"
	"github.com/sparsetune/sparsetune/nn"
)

func tinyRun(t testing.TB, model, data, out string) Config {
	c := DefaultConfig()
	c.Model, c.Train, c.OutDir, c.CacheDir = model, data, out, filepath.Join(out, "cache")
	c.SeqLen, c.Batch, c.Steps, c.Warmup, c.LR = 32, 4, 12, 2, 3e-3
	c.EvalEvery, c.SaveEvery, c.LogEvery, c.Dropout = 4, 3, 1, 0.1
	return c
}

// runCut runs c and stops it after step n, as if its process were killed
// there: a hook returns ErrStopped at the end of the step, after its
// evaluation and checkpoint.
func runCut(t testing.TB, c Config, n int) {
	t.Helper()
	stop := Hooks{EndStep: func(p *Progress) error {
		if p.Step() >= n {
			return ErrStopped
		}
		return nil
	}}
	if _, err := Run(c, io.Discard, stop); !errors.Is(err, ErrStopped) {
		t.Fatalf("run cut after step %d: got %v, want ErrStopped", n, err)
	}
}

func readLosses(t testing.TB, dir string) map[int]float64 {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct {
			Step  int
			Loss  *float64
			Split string
		}
		json.Unmarshal(sc.Bytes(), &r)
		if r.Split == "" && r.Loss != nil {
			out[r.Step] = *r.Loss
		}
	}
	return out
}

// TestOverfitOneBatch trains on a handful of sequences until the loss is
// far below its start: the loop, gradients and optimizer work together.
func TestOverfitOneBatch(t *testing.T) {
	dir := t.TempDir()
	c := tinyRun(t, testmodel.Dir(t, true), testmodel.Topic(t, dir, 8), filepath.Join(dir, "run"))
	c.Task, c.Valid, c.Steps, c.LR, c.Dropout, c.EvalEvery, c.SaveEvery = "causal-lm", c.Train, 150, 1e-2, 0, 150, 150
	var log strings.Builder
	if _, err := Run(c, &log); err != nil {
		t.Fatal(err)
	}
	l := readLosses(t, c.OutDir)
	if !(l[150] < 0.35*l[1]) {
		t.Fatalf("loss went from %.3f to %.3f in 150 steps on 8 sequences; want a drop of 65%%", l[1], l[150])
	}
	t.Logf("overfit: loss %.3f → %.3f", l[1], l[150])
}

// TestResumeContinuesExactly stops a run after step 7 (its last checkpoint
// is step 6), resumes it, and requires the same losses as a run that never
// stopped.
func TestResumeContinuesExactly(t *testing.T) {
	dir := t.TempDir()
	full, cut := fullAndCut(t, dir)
	resumeMatches(t, full, cut)
	a := readLosses(t, full.OutDir)
	// Same seed, same result.
	again := full
	again.OutDir = filepath.Join(dir, "again")
	if _, err := Run(again, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	c := readLosses(t, again.OutDir)
	for s := 1; s <= full.Steps; s++ {
		if a[s] != c[s] {
			t.Fatalf("step %d: same seed gave %.7f and %.7f", s, a[s], c[s])
		}
	}
}

// TestNaNLossIsAnErrorNamingTheStep poisons the final norm's gains with
// finite values so large that the logits overflow (a NaN weight is refused
// when the model is loaded).
func TestNaNLossIsAnErrorNamingTheStep(t *testing.T) {
	dir := t.TempDir()
	model := testmodel.Dir(t, true)
	m, err := nn.Load(model, nn.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Params.Get("transformer.ln_f.weight").Value.Data().([]float32) {
		m.Params.Get("transformer.ln_f.weight").Value.Data().([]float32)[i] = math.MaxFloat32
	}
	if err := m.Save(model); err != nil {
		t.Fatal(err)
	}
	c := tinyRun(t, model, testmodel.Topic(t, dir, 20), filepath.Join(dir, "run"))
	c.Task = "causal-lm"
	_, err = Run(c, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "step 1: loss is NaN") {
		t.Fatalf("want an error naming step 1 and NaN, got %v", err)
	}
}

// TestRefusesToOverwriteARun: a second run into the same directory without
// --resume is an error that changes nothing.
func TestRefusesToOverwriteARun(t *testing.T) {
	dir := t.TempDir()
	c := tinyRun(t, testmodel.Dir(t, true), testmodel.Topic(t, dir, 20), filepath.Join(dir, "run"))
	c.Task, c.Steps, c.EvalEvery, c.SaveEvery = "causal-lm", 3, 3, 3
	if _, err := Run(c, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(c.OutDir, "metrics.jsonl"))
	_, err := Run(c, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "already holds a training run") {
		t.Fatalf("second run into %s: %v", c.OutDir, err)
	}
	after, _ := os.ReadFile(filepath.Join(c.OutDir, "metrics.jsonl"))
	if string(before) != string(after) {
		t.Fatal("the refused run changed metrics.jsonl")
	}
	if got := freshDir(c.OutDir); got != c.OutDir+"-2" {
		t.Fatalf("freshDir(%s) = %s", c.OutDir, got)
	}
}

// TestUnwritableOutDir fails before any work.
func TestUnwritableOutDir(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, []byte("x"), 0o644)
	c := tinyRun(t, testmodel.Dir(t, true), testmodel.Topic(t, dir, 20), filepath.Join(blocker, "run"))
	_, err := Run(c, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "out_dir") {
		t.Fatalf("want an out_dir error, got %v", err)
	}
}

// fullAndCut runs a classification run under dir to its end ("full") and
// a copy of it stopped after step 7 ("cut", latest checkpoint step 6).
func fullAndCut(t *testing.T, dir string) (full, cut Config) {
	t.Helper()
	model, data := testmodel.Dir(t, true), testmodel.Topic(t, dir, 40)
	full = tinyRun(t, model, data, filepath.Join(dir, "full"))
	full.Task = "classification"
	if _, err := Run(full, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	cut = full
	cut.OutDir = filepath.Join(dir, "cut")
	runCut(t, cut, 7)
	return full, cut
}

// resumeMatches resumes cut and requires every step's loss to equal the
// uninterrupted full run's.
func resumeMatches(t *testing.T, full, cut Config) {
	t.Helper()
	cut.Resume = true
	if _, err := Run(cut, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	sameLosses(t, full.OutDir, cut.OutDir, full.Steps)
}

// sameLosses checks that the run in cut, resumed, logged every step's loss
// of the uninterrupted run in full, to 1e-5.
func sameLosses(t *testing.T, full, cut string, steps int) {
	t.Helper()
	a, b := readLosses(t, full), readLosses(t, cut)
	for s := 1; s <= steps; s++ {
		if math.Abs(a[s]-b[s]) > 1e-5 || a[s] == 0 {
			t.Errorf("step %d: resumed loss %.7f, uninterrupted %.7f", s, b[s], a[s])
		}
	}
}
