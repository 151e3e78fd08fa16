package infer

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
)

// llamaStyleConfigs are small models of the LLaMA-layout families with
// every switch the engine must follow: head_dim ≠ D/H, Qwen3's q/k norms,
// q/k/v biases with (KVH = H, pruned with the heads) and without grouped
// keys, o and MLP biases, rope_scaling and a sliding window.
func llamaStyleConfigs() map[string]*nn.Config {
	base := func(f nn.Family) *nn.Config {
		c := testConfig(nn.LLaMA, false)
		c.Family = f
		return c
	}
	qwen2 := base(nn.Qwen2)
	qwen2.KVH, qwen2.AttnBias, qwen2.Tied = 4, true, true
	qwen3 := base(nn.Qwen3)
	qwen3.HeadDim, qwen3.QKNorm = 12, true
	llama := base(nn.LLaMA)
	llama.KVH, llama.HeadDim, llama.AttnBias, llama.OBias, llama.MLPBias = 4, 6, true, true, true
	llama.RoPEScale = nn.RoPEScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OrigMaxPos: 32}
	mistral := base(nn.Mistral)
	mistral.Window = 20
	mistral.RoPEScale = nn.RoPEScaling{Type: "linear", Factor: 2}
	cls := base(nn.Qwen3)
	cls.HeadDim, cls.QKNorm, cls.Task, cls.Labels = 12, true, nn.Classification, []string{"a", "b", "c"}
	return map[string]*nn.Config{"qwen2": qwen2, "qwen3": qwen3, "llama": llama, "mistral": mistral, "qwen3-cls": cls}
}

// randomModel gives every parameter random values (biases and norm gains
// included, which InitParams sets to 0 and 1), so that a bias or norm the
// engine skipped would show.
func randomModel(c *nn.Config, seed uint64) *nn.Model {
	ps := nn.InitParams(c, seed, tensor.Float32)
	rng := rand.New(rand.NewPCG(seed, 2))
	for _, p := range ps.List {
		d := p.Value.Data().([]float32)
		for i := range d {
			if len(p.Shape) == 1 && strings.HasSuffix(p.Name, "norm.weight") || strings.HasSuffix(p.Name, "layernorm.weight") {
				d[i] = 1 + float32(0.2*rng.NormFloat64())
			} else {
				d[i] = float32(0.1 * rng.NormFloat64())
			}
		}
	}
	return &nn.Model{Config: c, Params: ps}
}

// TestEngineMatchesMaskedGraphLlamaStyle: the pruned engine equals the
// training graph's hard-masked model for every LLaMA-layout switch, on the
// per-unit and the dense-with-mask paths, and decoding equals scoring.
func TestEngineMatchesMaskedGraphLlamaStyle(t *testing.T) {
	for name, c := range llamaStyleConfigs() {
		t.Run(name, func(t *testing.T) {
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			const k = 8
			m := randomModel(c, 3)
			set := testRouters(t, c, router.Sigmoid, k)
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
			for _, above := range []float64{1, 0} {
				e.DenseAbove = above
				if d := maxAbsDiff(engineLogits(t, e, seqs), want); d > 1e-4 {
					t.Fatalf("dense-above %g: max |engine − masked graph| = %.3g", above, d)
				} else {
					t.Logf("dense-above %g: max abs logit error %.2g", above, d)
				}
			}
			if c.Task != nn.CausalLM {
				return
			}
			one := seqs[:1]
			want = engineLogits(t, e, one)
			if worst, _ := decodeDiff(t, e, one[0], want); worst > 1e-4 {
				t.Fatalf("decoding differs from the forward pass by %.3g", worst)
			}
		})
	}
}

// TestEngineRefusesInexactLengths: past Mistral's sliding window the engine
// refuses to score, and a decoding session ends at the window.
func TestEngineRefusesInexactLengths(t *testing.T) {
	c := llamaStyleConfigs()["mistral"]
	const k = 8
	m := randomModel(c, 3)
	set := testRouters(t, c, router.Sigmoid, k)
	seqs := randomSeqs(c, 1, 16, 5)
	sp, err := Build(m, set.Params(), usageManifest(t, m, set, seqs, k))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(sp)
	if err != nil {
		t.Fatal(err)
	}
	long := randomSeqs(c, 1, c.Window+1, 6)
	if _, _, err := e.Forward(long, nil); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("sliding_window %d", c.Window)) {
		t.Fatalf("a sequence past the window: %v", err)
	}
	s, err := e.NewSession(100)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < c.Window; i++ {
		if _, err := s.Step(1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Step(1); err == nil {
		t.Fatal("decoding went past the sliding window")
	}
}

// TestSparseFilesLlamaStyle: for every LLaMA-layout switch the hardened
// checkpoint passes the per-family layout of checkpoints.SparseShapes on
// the way to disk and back, the engine on the read-back checkpoint equals
// the masked graph, and with a static router (every kept unit dense) the
// Hugging Face export, loaded by nn, computes the masked model too.
func TestSparseFilesLlamaStyle(t *testing.T) {
	for name, c := range llamaStyleConfigs() {
		t.Run(name, func(t *testing.T) {
			const k = 8
			m := randomModel(c, 4)
			set := testRouters(t, c, router.Sigmoid, k)
			seqs := randomSeqs(c, 2, 12, 5)
			want := hardMasked(t, m, set, seqs)
			man := usageManifest(t, m, set, seqs, k)
			sp, err := Build(m, set.Params(), man)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "sparse")
			if err := checkpoints.WriteSparse(dir, sp, "", nil); err != nil {
				t.Fatal(err)
			}
			back, err := checkpoints.ReadSparse(dir)
			if err != nil {
				t.Fatal(err)
			}
			if back.Config.Family != c.Family || back.Config.S() != c.S() || back.Config.RoPEScale != c.RoPEScale || back.Config.Window != c.Window {
				t.Fatalf("config read back as %+v", back.Config)
			}
			e, err := New(back)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(engineLogits(t, e, seqs), want); d > 1e-4 {
				t.Fatalf("read-back engine vs masked graph: %.3g", d)
			}

			// Static: the kept units of man, all dense; the masked graph
			// gates the removed ones off for every token.
			for i := range man.Layers {
				man.Layers[i].HeadsDense = append([]int{}, man.Layers[i].Heads...)
				man.Layers[i].GroupsDense = append([]int{}, man.Layers[i].Groups...)
			}
			man.Router = "static"
			sp, err = Build(m, nil, man)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "hf")
			if err := checkpoints.ExportHF(sp, out, "", nil); err != nil {
				t.Fatal(err)
			}
			exp, err := nn.Load(out, nn.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := logitsWith(t, exp, nil, seqs)
			masked := logitsWith(t, m, keepGates(c, man), seqs)
			if d := maxAbsDiff(got, masked); d > 1e-4 {
				t.Fatalf("exported model vs masked model: %.3g", d)
			}
			if d := maxAbsDiff(logitsWith(t, m, nil, seqs), masked); d < 1e-3 {
				t.Fatalf("removing units moves the logits by only %.3g: the export test cannot fail", d)
			}
		})
	}
}

// keepGates gates every token's units off except those man keeps.
func keepGates(c *nn.Config, man checkpoints.SparseManifest) nn.GateFunc {
	return func(g *G.ExprGraph, l int, x *G.Node) (nn.Gates, error) {
		n := x.Shape()[0]
		mk := func(name string, units int, kept []int) *G.Node {
			v := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(n, units))
			d := v.Data().([]float32)
			for r := 0; r < n; r++ {
				for _, u := range kept {
					d[r*units+u] = 1
				}
			}
			return G.NewTensor(g, tensor.Float32, 2, G.WithShape(n, units), G.WithValue(v), G.WithName(fmt.Sprintf("%s.%d", name, l)))
		}
		ly := man.Layers[l]
		return nn.Gates{Head: mk("keep_heads", c.H, ly.Heads), FFN: mk("keep_groups", c.F/man.GroupSize, ly.Groups), GroupSize: man.GroupSize}, nil
	}
}

// logitsWith runs m on seqs (all of one length) with gates gf (nil: dense).
func logitsWith(t testing.TB, m *nn.Model, gf nn.GateFunc, seqs [][]int) []float32 {
	t.Helper()
	gr, err := m.Build(nn.BuildOptions{B: len(seqs), T: len(seqs[0]), Gates: gf})
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
		b.Labels = make([]int, len(seqs))
	}
	if err := gr.Feed(b); err != nil {
		t.Fatal(err)
	}
	if err := run.Run(); err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), gr.Logits.Value().Data().([]float32)...)
}

// TestEngineRoPEPastMaxPositions: RoPE models score sequences longer than
// max_position_embeddings as the graph does, and decode past it; the
// length also passes the engine's first table size (256), so the tables
// must grow.
func TestEngineRoPEPastMaxPositions(t *testing.T) {
	c := llamaStyleConfigs()["qwen3"]
	const k = 8
	m := randomModel(c, 3)
	set := testRouters(t, c, router.Sigmoid, k)
	seqs := randomSeqs(c, 1, 270, 5)
	want := hardMasked(t, m, set, seqs)
	sp, err := Build(m, set.Params(), usageManifest(t, m, set, seqs, k))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(sp)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(engineLogits(t, e, seqs), want); d > 1e-4 {
		t.Fatalf("max |engine − masked graph| = %.3g", d)
	}
	if d, _ := decodeDiff(t, e, seqs[0], want); d > 1e-4 {
		t.Fatalf("decoding differs from the masked graph by %.3g", d)
	}
}
