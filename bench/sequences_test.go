package bench

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/internal/testmodel"
	"github.com/sparsetune/sparsetune/train"
)

// TestValidSequences: a sparse run's checkpoint gives back its run's
// validation sequences, tokenized as the run did, at most n of them; a
// directory without a manifest is an error.
func TestValidSequences(t *testing.T) {
	dir := t.TempDir()
	model := t.TempDir()
	if err := testmodel.ByteLevelGPT2(model, true); err != nil {
		t.Fatal(err)
	}
	trainFile, err := testmodel.TopicData(dir, 24)
	if err != nil {
		t.Fatal(err)
	}
	c := train.DefaultConfig()
	c.Model, c.Train, c.OutDir, c.CacheDir = model, trainFile, filepath.Join(dir, "run"), filepath.Join(dir, "cache")
	c.Task, c.SeqLen, c.Batch, c.Steps, c.Warmup, c.EvalEvery, c.SaveEvery = "classification", 32, 4, 4, 1, 2, 2
	c.Target, c.GroupSize, c.Stage2Steps, c.TargetWarmup, c.ValidRatio = 0.5, 16, 1, 1, 0.25
	sum, err := train.Run(c, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	seqs, err := ValidSequences(sum.SparseCheckpoint, 3)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := data.LoadTokenizer(model)
	if err != nil {
		t.Fatal(err)
	}
	key, err := data.TokenizerKey(model)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := data.Load(data.Spec{Task: "classification", Train: trainFile, ValidRatio: c.ValidRatio, SeqLen: c.SeqLen, Seed: c.Seed}, tok, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(seqs) != 3 || len(ds.Valid.Seqs) < 3 {
		t.Fatalf("%d sequences (the run has %d valid ones), want 3", len(seqs), len(ds.Valid.Seqs))
	}
	for i := range seqs {
		if !slices.Equal(seqs[i], ds.Valid.Seqs[i]) {
			t.Errorf("sequence %d: %v, the run's %v", i, seqs[i], ds.Valid.Seqs[i])
		}
	}
	if _, err := ValidSequences(model, 3); err == nil {
		t.Errorf("a model directory without a sparse manifest: no error")
	}
}
