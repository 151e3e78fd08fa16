package router

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/gradcheck"
	"github.com/sparsetune/sparsetune/loss"
	"github.com/sparsetune/sparsetune/nn"
)

// tinyModel is a two-layer causal LM of family f (D 8, 2 heads, FFN 16),
// with weights lifted well above their init scale so that every path
// matters.
func tinyModel(f nn.Family, dt tensor.Dtype) *nn.Model {
	c := &nn.Config{Family: f, Task: nn.CausalLM, Vocab: 11, D: 8, L: 2, H: 2, KVH: 2, F: 16, MaxPos: 8, NormEps: 1e-5, PadID: -1, BOSID: -1, EOSID: -1}
	switch f {
	case nn.GPT2:
		c.Act, c.Tied = "gelu_new", true
	case nn.LLaMA:
		c.Act, c.RoPETheta, c.KVH = "silu", 10000, 1
	}
	params := nn.InitParams(c, 7, tensor.Float64)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range params.List {
		d := p.Value.Data().([]float64)
		for i := range d {
			d[i] += 0.3 * rng.NormFloat64()
		}
	}
	return &nn.Model{Config: c, Params: params.Convert(dt)}
}

// tinyRouters returns routers of kind k over heads and groups of 4 neurons;
// with spread > 0 their weights are random, so that gates differ by token.
func tinyRouters(t *testing.T, k Kind, m *nn.Model, dt tensor.Dtype, spread float64) *Set {
	t.Helper()
	c := DefaultConfig()
	c.Kind, c.GroupSize = k, 4
	s, err := New(c, m.Config, 1, dt)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, p := range s.Params() {
		switch d := p.Value.Data().(type) {
		case []float32:
			for i := range d {
				d[i] += float32(spread * rng.NormFloat64())
			}
		case []float64:
			for i := range d {
				d[i] += spread * rng.NormFloat64()
			}
		}
	}
	return s
}

var tinyBatch = &nn.Batch{IDs: []int{1, 2, 3, 4, 5, 6, 7, 8}}

func build(t *testing.T, m *nn.Model, s *Set, stage Stage, dt tensor.Dtype) *nn.Graph {
	t.Helper()
	gr, err := m.Build(nn.BuildOptions{B: 2, T: 4, Dtype: dt, Gates: s.GateFunc(stage)})
	if err != nil {
		t.Fatal(err)
	}
	if err := gr.Feed(tinyBatch); err != nil {
		t.Fatal(err)
	}
	return gr
}

func TestNewParams(t *testing.T) {
	m := tinyModel(nn.GPT2, tensor.Float64)
	for _, tc := range []struct {
		kind       Kind
		heads, ffn bool
		names      []string
		shapes     [][]int
	}{
		{Sigmoid, true, true,
			[]string{"router.layers.0.head.weight", "router.layers.0.head.bias", "router.layers.0.ffn.weight", "router.layers.0.ffn.bias"},
			[][]int{{8, 2}, {2}, {8, 4}, {4}}},
		{HardConcrete, false, true,
			[]string{"router.layers.0.ffn.weight", "router.layers.0.ffn.bias"},
			[][]int{{8, 4}, {4}}},
		{Static, true, true,
			[]string{"router.layers.0.head.logits", "router.layers.0.ffn.logits"},
			[][]int{{2}, {4}}},
	} {
		c := DefaultConfig()
		c.Kind, c.Heads, c.FFN, c.GroupSize = tc.kind, tc.heads, tc.ffn, 4
		s, err := New(c, m.Config, 1, tensor.Float64)
		if err != nil {
			t.Fatal(err)
		}
		ps := s.Params()
		if len(ps) != 2*len(tc.names) {
			t.Fatalf("%s: %d parameters, want %d (2 layers)", tc.kind, len(ps), 2*len(tc.names))
		}
		for i, p := range ps[:len(tc.names)] {
			if p.Name != tc.names[i] || !slices.Equal(p.Shape, tc.shapes[i]) || p.Decay() {
				t.Errorf("%s: parameter %d is %s %v (decay %v), want %s %v", tc.kind, i, p.Name, p.Shape, p.Decay(), tc.names[i], tc.shapes[i])
			}
		}
		if ps[len(tc.names)].Name != strings.Replace(tc.names[0], ".0.", ".1.", 1) {
			t.Errorf("%s: layer 1 starts with %s", tc.kind, ps[len(tc.names)].Name)
		}
		// Weights 0, biases at the logit of InitOpen (shifted for hard-concrete).
		for _, p := range ps {
			d := p.Value.Data().([]float64)
			want := 0.0
			if !strings.HasSuffix(p.Name, ".weight") {
				want = sigmoidInv(0.95) + c.withDefaults().probShift()
			}
			for _, v := range d {
				if math.Abs(v-want) > 1e-12 {
					t.Fatalf("%s: %s starts at %v, want %v", tc.kind, p.Name, v, want)
				}
			}
		}
	}
}

func sigmoidInv(p float64) float64 { return math.Log(p / (1 - p)) }

func TestNewRejects(t *testing.T) {
	m := tinyModel(nn.GPT2, tensor.Float64).Config
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"kind", func(c *Config) { c.Kind = "moe" }, "kind"},
		{"nothing routed", func(c *Config) { c.Heads, c.FFN = false, false }, "routes nothing"},
		{"group size", func(c *Config) { c.GroupSize = 5 }, "group size"},
		{"tau", func(c *Config) { c.Tau = 1.5 }, "Tau"},
		{"init", func(c *Config) { c.InitOpen = 1 }, "InitOpen"},
		{"gamma", func(c *Config) { c.Gamma = 0.1 }, "Gamma"},
		{"zeta", func(c *Config) { c.Zeta = 0.9 }, "Zeta"},
		{"beta", func(c *Config) { c.Beta = -1 }, "Beta"},
	} {
		c := DefaultConfig()
		c.GroupSize = 4
		tc.edit(&c)
		if _, err := New(c, m, 1, tensor.Float32); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	if _, err := New(DefaultConfig(), m, 1, tensor.Int); err == nil {
		t.Error("an int dtype was accepted")
	}
}

func TestFLOPsPerLayer(t *testing.T) {
	m := tinyModel(nn.GPT2, tensor.Float64).Config // D 8, H 2, F 16
	c := DefaultConfig()
	c.GroupSize = 4 // G = 4
	if got, want := c.FLOPsPerLayer(m), float64(2*8*(2+4)+(2+4)); got != want {
		t.Errorf("sigmoid over heads and groups: %v FLOPs, want %v", got, want)
	}
	c.Heads = false
	if got, want := c.FLOPsPerLayer(m), float64(2*8*4+4); got != want {
		t.Errorf("FFN only: %v FLOPs, want %v", got, want)
	}
	c.Kind = Static
	if got := c.FLOPsPerLayer(m); got != 0 {
		t.Errorf("static: %v FLOPs, want 0", got)
	}
}

// penaltyGraph adds ĉ, the Lagrangian penalty and the separability term to
// a graph built with s.GateFunc(Soft) and returns ĉ and the total loss
// task + penalty + 0.1·separability.
func penaltyGraph(t *testing.T, gr *nn.Graph, s *Set, lag *loss.Lagrangian, target float64) (cHat, total *G.Node) {
	t.Helper()
	cHat = expectedCompute(t, gr, s)
	pen, err := lag.Penalty(cHat)
	if err != nil {
		t.Fatal(err)
	}
	if err := lag.Feed(target); err != nil {
		t.Fatal(err)
	}
	sep, err := s.Separability()
	if err != nil {
		t.Fatal(err)
	}
	w := G.NewConstant(0.1, G.WithName("sep_weight"))
	total = G.Must(G.Add(G.Must(G.Add(gr.Loss, pen)), G.Must(G.Mul(sep, w))))
	return cHat, total
}

// expectedCompute is ĉ of the routers of the graph just built.
func expectedCompute(t *testing.T, gr *nn.Graph, s *Set) *G.Node {
	t.Helper()
	cost, err := loss.NewCost(gr.Config, s.Config.GroupSize, float64(gr.T), s.FLOPsPerLayer())
	if err != nil {
		t.Fatal(err)
	}
	head, ffn := s.Probs()
	cHat, err := loss.ExpectedCompute(cost, head, ffn)
	if err != nil {
		t.Fatal(err)
	}
	return cHat
}

// TestEndToEndGradients: a model built with soft routers gives the
// gradient of task loss + Lagrangian penalty + separability with respect
// to the router parameters and the model parameters (the router reads the
// hidden state, so its gradient reaches the model too), checked against
// finite differences for every kind.
func TestEndToEndGradients(t *testing.T) {
	for _, fam := range []nn.Family{nn.GPT2, nn.LLaMA} {
		for _, k := range []Kind{Sigmoid, HardConcrete, Static} {
			t.Run(fmt.Sprintf("%s/%s", fam, k), func(t *testing.T) {
				m := tinyModel(fam, tensor.Float64)
				s := tinyRouters(t, k, m, tensor.Float64, 0.5)
				s.noise.frozen = true // one hard-concrete sample for every run of the check
				gr := build(t, m, s, Soft, tensor.Float64)
				_, total := penaltyGraph(t, gr, s, &loss.Lagrangian{Lambda1: 0.7, Lambda2: 3}, 0.4)
				wrt := append(s.Nodes(), gr.Params...)
				if err := gradcheck.CheckGraph(gr.G, total, wrt, gradcheck.Options{MaxElem: 4, Seed: 3}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestPenaltyLowersCompute: from the initial, nearly open routers, with
// ĉ above the target, one small gradient step on the penalty alone lowers
// ĉ for every kind.
func TestPenaltyLowersCompute(t *testing.T) {
	for _, k := range []Kind{Sigmoid, HardConcrete, Static} {
		m := tinyModel(nn.GPT2, tensor.Float64)
		s := tinyRouters(t, k, m, tensor.Float64, 0)
		gr := build(t, m, s, Soft, tensor.Float64)
		lag := &loss.Lagrangian{Lambda1: 1, Lambda2: 1}
		cHat := expectedCompute(t, gr, s)
		pen, err := lag.Penalty(cHat)
		if err != nil {
			t.Fatal(err)
		}
		if err := lag.Feed(0.5); err != nil {
			t.Fatal(err)
		}
		grads, err := G.Grad(pen, s.Nodes()...)
		if err != nil {
			t.Fatal(err)
		}
		var c G.Value
		G.Read(cHat, &c)
		vm := G.NewTapeMachine(gr.G)
		run := func() float64 {
			vm.Reset()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			return scalarOf(c)
		}
		before := run()
		if before < 0.9 {
			t.Fatalf("%s: initial ĉ = %v, want the nearly dense ≥ 0.9", k, before)
		}
		for i, p := range s.Params() {
			w, g := p.Value.Data().([]float64), grads[i].Value().Data().([]float64)
			for j := range w {
				w[j] -= 0.5 * g[j]
			}
		}
		if after := run(); !(after < before) {
			t.Errorf("%s: ĉ went from %v to %v after a step down the penalty's gradient", k, before, after)
		}
		vm.Close()
	}
}

// TestHardStage: a Hard build's gates are the Soft build's probabilities
// thresholded at τ, and the routers get no gradient while the model does.
// Only layer 0 is compared: later layers see hidden states that depend on
// the earlier layers' gates, which differ between the stages.
func TestHardStage(t *testing.T) {
	for _, k := range []Kind{Sigmoid, HardConcrete, Static} {
		m := tinyModel(nn.GPT2, tensor.Float32)
		s := tinyRouters(t, k, m, tensor.Float32, 1)
		for _, p := range s.Params() { // centre the logits on the threshold
			if !strings.HasSuffix(p.Name, ".weight") {
				d := p.Value.Data().([]float32)
				for i := range d {
					d[i] -= float32(s.Config.initLogit() - s.Config.probShift())
				}
			}
		}
		soft := build(t, m, s, Soft, tensor.Float32)
		sh, sf := s.Probs()
		softVals := readAll(sh[:1], sf[:1])
		hard := build(t, m, s, Hard, tensor.Float32)
		hh, hf := s.Probs()
		hardVals := readAll(hh[:1], hf[:1])
		for _, gr := range []*nn.Graph{soft, hard} {
			vm := G.NewTapeMachine(gr.G)
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			vm.Close()
		}
		on, total := 0, 0
		for i := range softVals {
			for j, p := range float64s(*softVals[i]) {
				total++
				want := 0.0
				if p > s.Config.Tau {
					want = 1
				}
				if got := float64s(*hardVals[i])[j]; got != want {
					t.Fatalf("%s: gate %d/%d: soft p %v, hard %v", k, i, j, p, got)
				}
				on += int(want)
			}
		}
		if on == 0 || k != Static && on == total {
			t.Errorf("%s: %d of %d layer-0 gates on: the case does not exercise the threshold", k, on, total)
		}
		if _, err := G.Grad(hard.Loss, s.Nodes()...); err == nil {
			t.Errorf("%s: G.Grad reached the routers through hard gates", k)
		}
		if _, err := G.Grad(hard.Loss, hard.Params...); err != nil {
			t.Errorf("%s: stage-2 model gradient: %v", k, err)
		}
		vm := G.NewTapeMachine(hard.G)
		if err := vm.RunAll(); err != nil {
			t.Errorf("%s: stage-2 forward and backward: %v", k, err)
		}
		vm.Close()
		if _, err := s.Separability(); err == nil {
			t.Errorf("%s: Separability after a Hard build succeeded", k)
		}
	}
}

// readAll registers reads of the non-nil nodes, in order.
func readAll(lists ...[]*G.Node) []*G.Value {
	var out []*G.Value
	for _, l := range lists {
		for _, n := range l {
			if n != nil {
				v := new(G.Value)
				G.Read(n, v)
				out = append(out, v)
			}
		}
	}
	return out
}

// TestRNGStateRestores: restoring the noise state reproduces the
// hard-concrete samples exactly, in the same Set and in a fresh one built
// with another seed, as a resumed run needs.
func TestRNGStateRestores(t *testing.T) {
	m := tinyModel(nn.GPT2, tensor.Float32)
	newSet := func(seed uint64) *Set {
		c := DefaultConfig()
		c.Kind, c.GroupSize = HardConcrete, 4
		s, err := New(c, m.Config, seed, tensor.Float32)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// sampler builds a graph and returns a function that runs it and
	// returns every gate's values.
	sampler := func(s *Set) func() []float64 {
		var gates []*G.Value
		gf := s.GateFunc(Soft)
		capture := func(g *G.ExprGraph, l int, x *G.Node) (nn.Gates, error) {
			gs, err := gf(g, l, x)
			gates = append(gates, readAll([]*G.Node{gs.Head, gs.FFN})...)
			return gs, err
		}
		gr, err := m.Build(nn.BuildOptions{B: 2, T: 4, Dtype: tensor.Float32, Gates: capture})
		if err != nil {
			t.Fatal(err)
		}
		if err := gr.Feed(tinyBatch); err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(gr.G)
		t.Cleanup(func() { vm.Close() })
		return func() []float64 {
			vm.Reset()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			var all []float64
			for _, v := range gates {
				all = append(all, float64s(*v)...)
			}
			return all
		}
	}
	s := newSet(1)
	run := sampler(s)
	run() // advance past the first sample
	state, err := s.RNGState()
	if err != nil {
		t.Fatal(err)
	}
	a, b := run(), run()
	if slices.Equal(a, b) {
		t.Fatal("two runs drew the same hard-concrete samples")
	}
	if err := s.SetRNGState(state); err != nil {
		t.Fatal(err)
	}
	if got := run(); !slices.Equal(got, a) {
		t.Error("after restoring the state, the samples differ from those drawn after saving it")
	}
	fresh := newSet(99)
	if err := fresh.SetRNGState(state); err != nil {
		t.Fatal(err)
	}
	if got := sampler(fresh)(); !slices.Equal(got, a) {
		t.Error("a fresh Set given the saved state draws different samples")
	}
	if got := sampler(newSet(2))(); slices.Equal(got, a) {
		t.Error("another seed drew the same samples")
	}
	if err := s.SetRNGState([]byte("bad")); err == nil {
		t.Error("a malformed state was accepted")
	}
}

func TestGateFuncRejects(t *testing.T) {
	m := tinyModel(nn.GPT2, tensor.Float64)
	s := tinyRouters(t, Sigmoid, m, tensor.Float32, 0)
	if _, err := m.Build(nn.BuildOptions{B: 2, T: 4, Dtype: tensor.Float64, Gates: s.GateFunc(Soft)}); err == nil || !strings.Contains(err.Error(), "float32") {
		t.Errorf("float32 routers in a float64 graph: err = %v", err)
	}
	if _, err := s.Separability(); err == nil {
		t.Error("Separability before any build succeeded")
	}
}
