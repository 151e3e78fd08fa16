package harden

import (
	"math"
	"path/filepath"
	"testing"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"

	"github.com/sparsetune/sparsetune/internal/testmodel"
)

// TestTopKComputeOnRealText: a top-k checkpoint of a random GPT-2 with
// GPT-2's vocabulary, hardened on the State of the Union validation
// speeches, measures the same compute (to 1e-9) on them, on the test
// speeches and on random tokens, all in blocks of 64 tokens: the compute
// does not depend on the text. The k are those ChooseK picks, within 0.005
// of the target for this model's 4 × (4 heads, 32 groups).
func TestTopKComputeOnRealText(t *testing.T) {
	if testing.Short() {
		t.Skip("real-data test: tokenizes 1.6 MB with GPT-2; run without -short")
	}
	dir := testmodel.SharedDir(t, "datasets/sotu")
	tokDir := testmodel.SharedDir(t, "tokenizers/gpt2")
	tok, err := data.LoadTokenizer(tokDir)
	if err != nil {
		t.Fatal(err)
	}
	key, err := data.TokenizerKey(tokDir)
	if err != nil {
		t.Fatal(err)
	}
	const T, target = 64, 0.5
	ds, err := data.Load(data.Spec{Task: data.CausalLM, Train: filepath.Join(dir, "valid.jsonl"), Valid: filepath.Join(dir, "test.jsonl"),
		ID: data.DeriveIDs, SeqLen: T}, tok, key)
	if err != nil {
		t.Fatal(err)
	}
	valid, test := ds.Train.Seqs[:min(256, len(ds.Train.Seqs))], ds.Valid.Seqs[:min(256, len(ds.Valid.Seqs))]
	mc, err := SyntheticModelConfig(SyntheticConfig{Family: "gpt2", Layers: 4, DModel: 32, Heads: 4, FFN: 256, Vocab: tok.VocabSize(), GroupSize: 8, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	m := &nn.Model{Config: mc, Params: nn.InitParams(mc, 3, tensor.Float32)}
	rc := router.DefaultConfig()
	rc.GroupSize, rc.Routing = 8, router.TopK
	ch, err := rc.ChooseK(mc, T, target)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(ch.Compute-target) > 0.005 {
		t.Fatalf("ChooseK: compute %.4f for target %g", ch.Compute, target)
	}
	rc.KHeads, rc.KGroups = ch.KHeads, ch.KGroups
	set, err := router.New(rc, mc, 3, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	randomize(set.Params(), 4)
	in := Input{Model: m, Routers: set.Params(), Router: rc, Target: target, Seed: 1, SeqLen: T,
		Calib: Sequences{Name: "sotu valid", Seqs: valid}, HeldOut: Sequences{Name: "sotu test", Seqs: test}}
	out := filepath.Join(t.TempDir(), "sparse")
	res, sp := hardenRead(t, in, DefaultOptions(out), &testLog{t})
	e, err := infer.New(sp)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for name, seqs := range map[string][][]int{"valid": valid, "test": test, "random": infer.RandomTokens(mc.Vocab, 64, T, 9)} {
		if got[name], err = e.MeasureCompute(seqs); err != nil {
			t.Fatal(err)
		}
		if math.Abs(got[name]-res.Compute) > 1e-9 {
			t.Errorf("%s: compute %.12f, the checkpoint's %.12f", name, got[name], res.Compute)
		}
	}
	if math.Abs(res.Compute-target) > 0.005 {
		t.Errorf("compute %.4f, target %g", res.Compute, target)
	}
	t.Logf("k heads %v groups %v: compute %v (cost model %.4f; %d valid, %d test blocks of %d tokens)", ch.KHeads, ch.KGroups, got, ch.Compute, len(valid), len(test), T)
}

// testLog writes a hardening's log lines to the test log.
type testLog struct{ t *testing.T }

func (l *testLog) Write(p []byte) (int, error) {
	l.t.Log(string(p))
	return len(p), nil
}
