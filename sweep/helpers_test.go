package sweep

import (
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/train"
)

// tinyModel writes a one-layer GPT-2 (d 16, 2 heads) with a plain
// byte-level tokenizer: small enough that a sweep of it takes seconds.
func tinyModel(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	vocab := map[string]int{}
	n := 0
	for b := 0; b < 256; b++ { // GPT-2's bytes_to_unicode
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			vocab[string(rune(b))] = b
		} else {
			vocab[string(rune(256+n))] = b
			n++
		}
	}
	vocab["<|endoftext|>"] = 256
	vb, _ := json.Marshal(vocab)
	must(t, os.WriteFile(filepath.Join(dir, "vocab.json"), vb, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "merges.txt"), []byte("#version: 0.2\n"), 0o644))
	cfg := `{"model_type":"gpt2","architectures":["GPT2LMHeadModel"],"vocab_size":257,"n_embd":16,"n_layer":1,"n_head":2,"n_positions":32,"activation_function":"gelu_new","layer_norm_epsilon":1e-5,"bos_token_id":256,"eos_token_id":256}`
	must(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644))
	c, err := nn.LoadConfig(dir)
	must(t, err)
	m := &nn.Model{Config: c, Params: nn.InitParams(c, 9, tensor.Float32)}
	must(t, m.Save(dir))
	return dir
}

// topicData writes a two-class JSONL task of n examples.
func topicData(t testing.TB, dir string, n int) string {
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
	must(t, os.WriteFile(p, []byte(b.String()), 0o644))
	return p
}

// tinyPlan is a two-target sweep of the tiny model with a frontier from
// target 0.5, adapted for 2 steps.
func tinyPlan(t testing.TB) *Plan {
	t.Helper()
	dir := t.TempDir()
	c := train.DefaultConfig()
	c.Model, c.Task, c.Train, c.Test = tinyModel(t), "classification", topicData(t, dir, 40), ""
	c.Test = c.Train
	c.SeqLen, c.Batch, c.Steps, c.Warmup, c.LR = 32, 4, 24, 2, 3e-3
	c.EvalEvery, c.SaveEvery, c.LogEvery, c.Dropout = 6, 6, 6, 0.1
	c.GroupSize, c.Stage2Steps, c.TargetWarmup = 16, 6, 8
	p := &Plan{Targets: []float64{0.7, 0.5}, Base: c,
		Frontier: FrontierPlan{From: 0.5, Targets: []float64{0.3, 0.5, 0.7}, AdaptSteps: 2}}
	must(t, p.Absolute())
	must(t, p.Validate())
	return p
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func read(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	return string(b)
}

// checkPNG fails unless path is a decodable PNG of a plot's size.
func checkPNG(t testing.TB, path string) {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 200 {
		t.Fatalf("%s: %dx%d pixels", path, b.Dx(), b.Dy())
	}
}
