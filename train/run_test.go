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

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/nn"
)

// byteLevelModelDir writes a tiny GPT-2 model directory whose tokenizer is
// plain byte-level (256 byte tokens + <|endoftext|>, no merges).
func byteLevelModelDir(t testing.TB, withWeights bool) string {
	t.Helper()
	dir := t.TempDir()
	// GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest
	// to code points from 256 up.
	vocab := map[string]int{}
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			vocab[string(rune(b))] = b
		} else {
			vocab[string(rune(256+n))] = b
			n++
		}
	}
	vocab["<|endoftext|>"] = 256
	vb, _ := json.Marshal(vocab)
	os.WriteFile(filepath.Join(dir, "vocab.json"), vb, 0o644)
	os.WriteFile(filepath.Join(dir, "merges.txt"), []byte("#version: 0.2\n"), 0o644)
	cfg := `{"model_type":"gpt2","architectures":["GPT2LMHeadModel"],"vocab_size":257,"n_embd":16,"n_layer":1,"n_head":2,"n_positions":32,"activation_function":"gelu_new","layer_norm_epsilon":1e-5,"bos_token_id":256,"eos_token_id":256}`
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644)
	if withWeights {
		c, err := nn.LoadConfig(dir)
		if err != nil {
			t.Fatal(err)
		}
		m := &nn.Model{Config: c, Params: nn.InitParams(c, 9, tensor.Float32)}
		if err := m.Save(dir); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// writeTopicData writes a small two-class JSONL task.
func writeTopicData(t testing.TB, dir string, n int) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < n; i++ {
		text, label := fmt.Sprintf("the cat %d sat on the mat and purred", i), "cat"
		if i%2 == 1 {
			text, label = fmt.Sprintf("the dog %d ran in the park and barked", i), "dog"
		}
		fmt.Fprintf(&b, "{\"id\": \"%d\", \"text\": %q, \"label\": %q}\n", i, text, label)
	}
	p := filepath.Join(dir, "data.jsonl")
	os.WriteFile(p, []byte(b.String()), 0o644)
	return p
}

func tinyRun(t testing.TB, model, data, out string) Config {
	c := DefaultConfig()
	c.Model, c.Train, c.OutDir, c.CacheDir = model, data, out, filepath.Join(out, "cache")
	c.SeqLen, c.Batch, c.Steps, c.Warmup, c.LR = 32, 4, 12, 2, 3e-3
	c.EvalEvery, c.SaveEvery, c.LogEvery, c.Dropout = 4, 3, 1, 0.1
	return c
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
	c := tinyRun(t, byteLevelModelDir(t, true), writeTopicData(t, dir, 8), filepath.Join(dir, "run"))
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
	model, data := byteLevelModelDir(t, true), writeTopicData(t, dir, 40)
	full := tinyRun(t, model, data, filepath.Join(dir, "full"))
	full.Task = "classification"
	if _, err := Run(full, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	cut := full
	cut.OutDir = filepath.Join(dir, "cut")
	cut.stopAfter = 7
	if _, err := Run(cut, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	cut.stopAfter, cut.Resume = 0, true
	if _, err := Run(cut, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	a, b := readLosses(t, full.OutDir), readLosses(t, cut.OutDir)
	for s := 1; s <= full.Steps; s++ {
		if math.Abs(a[s]-b[s]) > 1e-5 || a[s] == 0 {
			t.Errorf("step %d: resumed loss %.7f, uninterrupted %.7f", s, b[s], a[s])
		}
	}
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

// TestNaNLossIsAnErrorNamingTheStep poisons one weight.
func TestNaNLossIsAnErrorNamingTheStep(t *testing.T) {
	dir := t.TempDir()
	model := byteLevelModelDir(t, true)
	m, err := nn.Load(model, nn.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m.Params.Get("transformer.ln_f.weight").Value.Data().([]float32)[0] = float32(math.NaN())
	if err := m.Save(model); err != nil {
		t.Fatal(err)
	}
	c := tinyRun(t, model, writeTopicData(t, dir, 20), filepath.Join(dir, "run"))
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
	c := tinyRun(t, byteLevelModelDir(t, true), writeTopicData(t, dir, 20), filepath.Join(dir, "run"))
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
	c := tinyRun(t, byteLevelModelDir(t, true), writeTopicData(t, dir, 20), filepath.Join(blocker, "run"))
	_, err := Run(c, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "out_dir") {
		t.Fatalf("want an out_dir error, got %v", err)
	}
}
