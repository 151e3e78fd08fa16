package infer

import (
	"fmt"
	"math"
	"testing"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
)

// topKRouters returns testRouters' sigmoid routers under top-k routing
// with the k ChooseK picks for target on sequences of seqLen tokens.
func topKRouters(t testing.TB, c *nn.Config, k, seqLen int, target float64) (*router.Set, router.TopKChoice) {
	t.Helper()
	thr := testRouters(t, c, router.Sigmoid, k)
	rc := thr.Config
	ch, err := rc.ChooseK(c, seqLen, target)
	if err != nil {
		t.Fatal(err)
	}
	rc.Routing, rc.KHeads, rc.KGroups = router.TopK, ch.KHeads, ch.KGroups
	set, err := router.New(rc, c, 1, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range set.Params() {
		copy(p.Value.Data().([]float32), thr.Params()[i].Value.Data().([]float32))
	}
	return set, ch
}

// topKManifest keeps the units the masked graph chose for at least one
// token of seqs (pruned ones were never chosen), none dense, with the
// set's k.
func topKManifest(t testing.TB, m *nn.Model, set *router.Set, seqs [][]int, k int, prune bool) checkpoints.SparseManifest {
	man := usageManifest(t, m, set, seqs, k)
	man.Routing = checkpoints.RoutingTopK
	for l := range man.Layers {
		ml := &man.Layers[l]
		ml.HeadsDense, ml.GroupsDense = nil, nil
		if !prune {
			ml.Heads, ml.Groups = nil, nil
			for h := 0; h < m.Config.H; h++ {
				ml.Heads = append(ml.Heads, h)
			}
			for g := 0; g < m.Config.F/k; g++ {
				ml.Groups = append(ml.Groups, g)
			}
		}
		ml.KHeads, ml.KGroups = set.Config.KHeads[l], set.Config.KGroups[l]
	}
	return man
}

// TestTopKEngineMatchesMaskedGraph: under top-k routing the engine, with
// every unit kept or with the never-chosen units pruned, gives the masked
// training graph's outputs (≤ 1e-4), scoring and decoding, and runs
// exactly k heads and k groups per token and layer.
func TestTopKEngineMatchesMaskedGraph(t *testing.T) {
	for _, tc := range []struct {
		f   nn.Family
		cls bool
	}{{nn.GPT2, false}, {nn.LLaMA, true}, {nn.BERT, true}} {
		for _, prune := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s-%v/prune=%v", tc.f, tc.cls, prune), func(t *testing.T) {
				c := testConfig(tc.f, tc.cls)
				const k, T = 8, 16
				m := &nn.Model{Config: c, Params: nn.InitParams(c, 3, tensor.Float32)}
				set, _ := topKRouters(t, c, k, T, 0.5)
				seqs := randomSeqs(c, 3, T, 5)
				want := hardMasked(t, m, set, seqs)
				sp, err := Build(m, set.Params(), topKManifest(t, m, set, seqs, k, prune))
				if err != nil {
					t.Fatal(err)
				}
				e, err := New(sp)
				if err != nil {
					t.Fatal(err)
				}
				e.RecordUsage()
				for _, above := range []float64{1, 0} {
					e.DenseAbove = above
					if d := maxAbsDiff(engineLogits(t, e, seqs), want); d > 1e-4 {
						t.Fatalf("dense-above %g: max |engine − masked graph| = %.3g", above, d)
					}
				}
				u := e.Usage
				for l := range c.L {
					for part, counts := range map[string][]int{"heads": u.Heads[l], "groups": u.Groups[l]} {
						k := set.Config.KHeads[l]
						if part == "groups" {
							k = set.Config.KGroups[l]
						}
						sum := 0
						for _, n := range counts {
							sum += n
						}
						if sum != k*u.Tokens {
							t.Fatalf("layer %d %s: %d unit runs for %d tokens, want k = %d each", l, part, sum, u.Tokens, k)
						}
					}
				}
				if c.Causal() && c.Task == nn.CausalLM {
					V := c.Vocab
					if d, _ := decodeDiff(t, e, seqs[1], want[T*V:2*T*V]); d > 1e-4 {
						t.Fatalf("decoding: max |step − masked graph| = %.3g", d)
					}
				}
			})
		}
	}
}

// TestTopKComputeIsFixed: the engine's measured compute under top-k
// routing does not depend on the tokens: on random tokens, on a constant
// sequence and on a narrow band of the vocabulary (sequences of one
// length) it is the same to 1e-9, it is the compute ChooseK predicts from
// the cost model, and that is within 0.005 of the target for a model whose
// units are fine enough (D 32, 3 layers of 4 heads and 64 groups of 2).
// Threshold routing on the same routers moves with the data: the test can
// see a data-dependent compute.
func TestTopKComputeIsFixed(t *testing.T) {
	c := testConfig(nn.GPT2, false)
	c.F = 128
	const k, T, target = 2, 16, 0.5
	m := &nn.Model{Config: c, Params: nn.InitParams(c, 3, tensor.Float32)}
	set, ch := topKRouters(t, c, k, T, target)
	if math.Abs(ch.Compute-target) > 0.005 {
		t.Fatalf("ChooseK: compute %g for target %g", ch.Compute, target)
	}
	sets := map[string][][]int{"random": randomSeqs(c, 6, T, 9), "constant": make([][]int, 6), "band": randomSeqs(c, 6, T, 11)}
	for i := range 6 {
		sets["constant"][i] = make([]int, T)
		for j := range sets["band"][i] {
			sets["constant"][i][j] = 3
			sets["band"][i][j] = 10 + sets["band"][i][j]%3
		}
	}
	topk, err := Build(m, set.Params(), topKManifest(t, m, set, sets["random"], k, false))
	if err != nil {
		t.Fatal(err)
	}
	thrMan := topKManifest(t, m, set, sets["random"], k, false)
	thrMan.Routing = ""
	for l := range thrMan.Layers {
		thrMan.Layers[l].KHeads, thrMan.Layers[l].KGroups = 0, 0
	}
	thr, err := Build(m, set.Params(), thrMan)
	if err != nil {
		t.Fatal(err)
	}
	measure := func(sp *checkpoints.Sparse) map[string]float64 {
		e, err := New(sp)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for name, seqs := range sets {
			if out[name], err = e.MeasureCompute(seqs); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	got := measure(topk)
	for name, v := range got {
		if math.Abs(v-ch.Compute) > 1e-9 {
			t.Errorf("%s: top-k compute %.12f, the cost model's %.12f", name, v, ch.Compute)
		}
	}
	th := measure(thr)
	if math.Abs(th["constant"]-th["random"]) < 1e-3 && math.Abs(th["band"]-th["random"]) < 1e-3 {
		t.Fatalf("threshold compute %v does not move with the data: the test cannot tell", th)
	}
	t.Logf("top-k compute %v (k heads %v, groups %v), threshold %v", got, set.Config.KHeads, set.Config.KGroups, th)
}
