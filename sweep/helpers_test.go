package sweep

import (
	"image/png"
	"os"
	"testing"

	"github.com/sparsetune/sparsetune/coreset"
	"github.com/sparsetune/sparsetune/internal/testmodel"
)

// tinyPlan is a two-target sweep of the tiny model with a frontier from
// target 0.5, adapted for 2 steps.
func tinyPlan(t testing.TB) *Plan {
	t.Helper()
	dir := t.TempDir()
	c := coreset.DefaultConfig()
	c.Model, c.Task, c.Train, c.Test = testmodel.Dir(t, true), "classification", testmodel.Topic(t, dir, 40), ""
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
