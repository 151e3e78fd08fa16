package infer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
)

// testConfig is a small model of family f; classification for the encoders
// and, when cls is set, for the decoders too.
func testConfig(f nn.Family, cls bool) *nn.Config {
	c := &nn.Config{Family: f, Task: nn.CausalLM, Vocab: 37, D: 32, L: 3, H: 4, KVH: 4, F: 64, MaxPos: 24,
		NormEps: 1e-5, PadID: -1, BOSID: -1, EOSID: -1}
	switch f {
	case nn.GPT2:
		c.Act, c.Tied = "gelu_new", true
	case nn.BERT, nn.RoBERTa:
		c.Task, c.Act, c.TypeVocab, c.PadID = nn.Classification, "gelu", 2, 1
	case nn.LLaMA:
		c.Act, c.RoPETheta, c.KVH = "silu", 10000, 2
	}
	if cls || c.Task == nn.Classification {
		c.Task, c.Labels = nn.Classification, []string{"a", "b", "c"}
	}
	return c
}

// testRouters returns sigmoid (or hard-concrete) routers with random
// weights, so that gates differ between tokens, and, per layer, one head
// and one group that are never on and one of each always on.
func testRouters(t testing.TB, c *nn.Config, kind router.Kind, k int) *router.Set {
	rc := router.DefaultConfig()
	rc.Kind, rc.GroupSize = kind, k
	set, err := router.New(rc, c, 1, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, p := range set.Params() {
		d := p.Value.Data().([]float32)
		for i := range d {
			d[i] = float32(rng.NormFloat64())
		}
		if len(p.Shape) == 1 { // biases: one unit off, one on, whatever x
			d[0], d[len(d)-1] = -40, 40
		}
	}
	return set
}

// maskedGraph runs model m with set's hard gates on seqs (all of length
// T) through the training graph and returns the graph after the run.
func maskedGraph(t testing.TB, m *nn.Model, set *router.Set, seqs [][]int) *nn.Graph {
	B, T := len(seqs), len(seqs[0])
	gr, err := m.Build(nn.BuildOptions{B: B, T: T, Dtype: tensor.Float32, Gates: set.GateFunc(router.Hard)})
	if err != nil {
		t.Fatal(err)
	}
	run, err := gr.Compile(false)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	b := &nn.Batch{}
	for _, s := range seqs {
		b.IDs = append(b.IDs, s...)
	}
	if m.Config.Task == nn.Classification {
		b.Labels = make([]int, B)
	}
	if err := gr.Feed(b); err != nil {
		t.Fatal(err)
	}
	if err := run.Run(); err != nil {
		t.Fatal(err)
	}
	return gr
}

// hardMasked returns the training graph's hard-masked logits on seqs.
func hardMasked(t testing.TB, m *nn.Model, set *router.Set, seqs [][]int) []float32 {
	return append([]float32(nil), maskedGraph(t, m, set, seqs).Logits.Value().Data().([]float32)...)
}

// usageManifest keeps the units on for at least one token of seqs under the
// graph's hard gates and makes dense the ones on for every token: the
// manifest hardening writes with prune-below 0 and dense-above 1.
func usageManifest(t testing.TB, m *nn.Model, set *router.Set, seqs [][]int, k int) checkpoints.SparseManifest {
	n := len(seqs) * len(seqs[0])
	maskedGraph(t, m, set, seqs)
	man := checkpoints.SparseManifest{Router: string(set.Config.Kind), GroupSize: k, Shift: set.Config.ProbShift()}
	head, ffn := set.Probs()
	for l := 0; l < m.Config.L; l++ {
		ml := checkpoints.SparseLayer{Tau: set.Config.Tau}
		hs := usage(head[l].Value().Data().([]float32), n, m.Config.H)
		gs := usage(ffn[l].Value().Data().([]float32), n, m.Config.F/k)
		for u, c := range hs {
			if c > 0 {
				ml.Heads = append(ml.Heads, u)
			}
			if c == n {
				ml.HeadsDense = append(ml.HeadsDense, u)
			}
		}
		for u, c := range gs {
			if c > 0 {
				ml.Groups = append(ml.Groups, u)
			}
			if c == n {
				ml.GroupsDense = append(ml.GroupsDense, u)
			}
		}
		man.Layers = append(man.Layers, ml)
	}
	return man
}

func usage(g []float32, n, U int) []int {
	c := make([]int, U)
	for r := 0; r < n; r++ {
		for u := 0; u < U; u++ {
			if g[r*U+u] != 0 {
				c[u]++
			}
		}
	}
	return c
}

func randomSeqs(c *nn.Config, B, T int, seed uint64) [][]int {
	rng := rand.New(rand.NewPCG(seed, 1))
	seqs := make([][]int, B)
	for i := range seqs {
		for j := 0; j < T; j++ {
			id := rng.IntN(c.Vocab)
			if id == c.PadID {
				id = (id + 1) % c.Vocab
			}
			seqs[i] = append(seqs[i], id)
		}
	}
	return seqs
}

func engineLogits(t testing.TB, e *Engine, seqs [][]int) []float32 {
	h, off, err := e.Forward(seqs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.Config.Task == nn.Classification {
		return e.ClassLogits(h, off)
	}
	return e.LMLogits(h, nil)
}

// decodeDiff decodes seq token by token and returns the largest difference
// between each step's logits and want's row for that position (len(seq), V),
// and the session, now full.
func decodeDiff(t testing.TB, e *Engine, seq []int, want []float32) (float64, *Session) {
	t.Helper()
	s, err := e.NewSession(len(seq))
	if err != nil {
		t.Fatal(err)
	}
	V, worst := e.Config.Vocab, 0.0
	for i, id := range seq {
		got, err := s.Step(id)
		if err != nil {
			t.Fatal(err)
		}
		worst = math.Max(worst, maxAbsDiff(got, want[i*V:(i+1)*V]))
	}
	return worst, s
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestEngineMatchesMaskedGraph: for every family and router kind, the
// engine's outputs on a pruned checkpoint (units never on removed, units
// always on dense) equal the training graph's hard-masked outputs, both
// through the per-unit sparse path and through the dense-with-mask path.
func TestEngineMatchesMaskedGraph(t *testing.T) {
	for _, tc := range []struct {
		f    nn.Family
		cls  bool
		kind router.Kind
	}{
		{nn.GPT2, false, router.Sigmoid}, {nn.GPT2, true, router.HardConcrete}, {nn.LLaMA, false, router.Sigmoid},
		{nn.LLaMA, true, router.Sigmoid}, {nn.BERT, true, router.Sigmoid}, {nn.RoBERTa, true, router.HardConcrete},
	} {
		t.Run(fmt.Sprintf("%s-%v-%s", tc.f, tc.cls, tc.kind), func(t *testing.T) {
			c := testConfig(tc.f, tc.cls)
			const k = 8
			m := &nn.Model{Config: c, Params: nn.InitParams(c, 3, tensor.Float32)}
			set := testRouters(t, c, tc.kind, k)
			seqs := randomSeqs(c, 3, 16, 5)
			want := hardMasked(t, m, set, seqs)
			man := usageManifest(t, m, set, seqs, k)
			sp, err := Build(m, set.Params(), man)
			if err != nil {
				t.Fatal(err)
			}
			e, err := New(sp)
			if err != nil {
				t.Fatal(err)
			}
			removed := 0
			for _, ml := range man.Layers {
				removed += c.H - len(ml.Heads) + c.F/k - len(ml.Groups)
			}
			for _, above := range []float64{1, 0} { // per-unit products, then dense with the mask
				e.DenseAbove = above
				got := engineLogits(t, e, seqs)
				if d := maxAbsDiff(got, want); d > 1e-4 {
					t.Fatalf("dense-above %g: max |engine − masked graph| = %.3g", above, d)
				} else {
					t.Logf("dense-above %g: max abs logit error %.2g (%d units removed, compute %.3f)", above, d, removed, e.Stats.Compute())
				}
			}
			// The masks matter: running every kept unit gives other outputs.
			e.Dense = true
			if d := maxAbsDiff(engineLogits(t, e, seqs), want); d < 1e-2*maxAbsDiff(want, make([]float32, len(want))) {
				t.Fatalf("the dense engine is within %.2g of the masked graph: the test cannot see masking errors", d)
			}
		})
	}
}

// TestSessionMatchesForward: decoding token by token with the key/value
// cache gives, at every position, the logits of the batched forward pass.
func TestSessionMatchesForward(t *testing.T) {
	for _, f := range []nn.Family{nn.GPT2, nn.LLaMA} {
		c := testConfig(f, false)
		const k = 8
		m := &nn.Model{Config: c, Params: nn.InitParams(c, 3, tensor.Float32)}
		set := testRouters(t, c, router.Sigmoid, k)
		seqs := randomSeqs(c, 1, 20, 9)
		sp, err := Build(m, set.Params(), usageManifest(t, m, set, seqs, k))
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(sp)
		if err != nil {
			t.Fatal(err)
		}
		for _, dense := range []bool{false, true} {
			e.Dense = dense
			want := engineLogits(t, e, seqs)
			worst, s := decodeDiff(t, e, seqs[0], want)
			if worst > 1e-4 {
				t.Fatalf("%s dense=%v: decoding differs from the forward pass by %.3g", f, dense, worst)
			}
			t.Logf("%s dense=%v: max abs logit difference %.2g over %d steps", f, dense, worst, len(seqs[0]))
			if _, err := s.Step(0); err == nil {
				t.Fatalf("a full session accepted another token")
			}
		}
	}
}
