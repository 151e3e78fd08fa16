package train

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/router"
)

// TestSparseRunTopK: a top-k sparse run trains both stages with the
// multipliers held at 0, the routers learning through the straight-through
// mask, and hardens a top-k checkpoint whose compute does not depend on
// the tokens (the same on the training split's sequences and on random
// tokens of the same length) and is near the target.
func TestSparseRunTopK(t *testing.T) {
	dir := t.TempDir()
	c := sparseRun(t, dir)
	c.Routing = string(router.TopK)
	var log strings.Builder
	sum, err := Run(c, &log)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"top-k routing: heads", "stage 2 at step 19"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	if strings.Contains(log.String(), "calibrated τ") {
		t.Errorf("a top-k run calibrated τ:\n%s", log.String())
	}
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.HasPrefix(line, "step") && strings.Contains(line, "λ") && !strings.Contains(line, "λ 0.000 0.000") {
			t.Fatalf("the multipliers moved under top-k routing: %s", line)
		}
	}
	sp, err := checkpoints.ReadSparse(sum.SparseCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	if sp.Manifest.Routing != checkpoints.RoutingTopK || sp.Manifest.Version != 3 {
		t.Fatalf("manifest routing %q version %d", sp.Manifest.Routing, sp.Manifest.Version)
	}
	e, err := infer.New(sp)
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.MeasureCompute(infer.RandomTokens(sp.Config.Vocab, 8, c.SeqLen, 1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.MeasureCompute(infer.RandomTokens(sp.Config.Vocab, 8, c.SeqLen, 2))
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(a-b) > 1e-9 {
		t.Fatalf("compute %.12f and %.12f on two random sets", a, b)
	}
	// The routers learned through the straight-through mask: their
	// weights start at 0.
	moved := false
	for name, ts := range sp.Tensors {
		if strings.HasPrefix(name, "router.") && strings.HasSuffix(name, ".weight") {
			for _, v := range ts.Data {
				moved = moved || v != 0
			}
		}
	}
	if !moved {
		t.Fatal("the router weights are still 0 after stage 1")
	}
	t.Logf("summary compute %v, random tokens %.4f", *sum.Compute, a)
}

// TestTopKConfigErrors: a routing other than threshold or topk, and top-k
// with hard-concrete gates, fail before training with one line naming
// routing.
func TestTopKConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for name, edit := range map[string]func(*Config){
		"unknown routing":     func(c *Config) { c.Routing = "top3" },
		"hard-concrete top-k": func(c *Config) { c.Routing, c.Router = "topk", router.HardConcrete },
	} {
		c := sparseRun(t, dir)
		c.OutDir = filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		edit(&c)
		_, err := Run(c, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), "routing") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line naming routing", name, err)
		}
	}
}
