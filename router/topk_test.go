package router

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/gradcheck"
	"github.com/sparsetune/sparsetune/loss"
	"github.com/sparsetune/sparsetune/nn"
)

// linearInGate builds Σ w ⊙ gate for fixed random w (N, U): its gradient
// with respect to the gate is w whatever the gate's value, so a gate's
// backward pass alone decides the router's gradient.
func linearInGate(t *testing.T, c Config, stage Stage, k int, in []gradcheck.Input, n, u int) (grads [][]float64) {
	t.Helper()
	g := G.NewGraph()
	var nodes []*G.Node
	for _, x := range in {
		nodes = append(nodes, G.NewTensor(g, tensor.Float64, x.Value.Dims(), G.WithShape(x.Value.Shape()...), G.WithValue(x.Value.Clone()), G.WithName(x.Name)))
	}
	var scores *G.Node
	if len(nodes) == 2 {
		scores = nodes[0]
	}
	var gate *G.Node
	var err error
	if c.Routing == TopK {
		gate, err = topKGate(stage, scores, nodes[len(nodes)-1], n, k)
	} else {
		gate, _, err = gateNodes(c, stage, scores, nodes[len(nodes)-1], n, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	w := G.NewMatrix(g, tensor.Float64, G.WithShape(n, u), G.WithValue(gradcheck.Rand(9, 1, n, u)), G.WithName("w"))
	prod, err := G.HadamardProd(gate, w)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := G.Sum(prod)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(cost, nodes...); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	for _, nd := range nodes {
		gv, err := nd.Grad()
		if err != nil {
			t.Fatal(err)
		}
		grads = append(grads, append([]float64{}, gv.Data().([]float64)...))
	}
	return grads
}

// TestTopKStraightThrough: with a loss linear in the gates, the top-k
// gate's gradient with respect to the scores and the bias (or static
// logits) is exactly the sigmoid gate's: the backward pass treats the mask
// as σ(logit) (Bengio et al. 2013), in open, partial and closed regimes.
func TestTopKStraightThrough(t *testing.T) {
	const n, u, k = 5, 6, 2
	for _, kind := range []Kind{Sigmoid, Static} {
		for _, regime := range []string{"open", "partial", "closed"} {
			in := gateInputs(kind, regime, n, u, 4)
			soft := linearInGate(t, configOf(kind), Soft, k, in, n, u)
			c := configOf(kind)
			c.Routing = TopK
			ste := linearInGate(t, c, Soft, k, in, n, u)
			for i := range soft {
				for j := range soft[i] {
					if math.Abs(soft[i][j]-ste[i][j]) > 1e-12 {
						t.Fatalf("%s/%s: input %d[%d]: top-k gradient %g, sigmoid's %g", kind, regime, i, j, ste[i][j], soft[i][j])
					}
				}
			}
		}
	}
}

// TestTopKSetGates: a Set with top-k routing gives exactly k ones per token
// and layer in both stages, trains in the Soft stage (router gradients are
// not zero) and refuses router gradients in the Hard stage.
func TestTopKSetGates(t *testing.T) {
	m := tinyModel(nn.GPT2, tensor.Float64)
	c := DefaultConfig()
	c.Kind, c.GroupSize, c.Routing = Sigmoid, 4, TopK
	c.KHeads, c.KGroups = []int{1, 2}, []int{3, 1}
	s, err := New(c, m.Config, 1, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range s.Params() {
		d := p.Value.Data().([]float64)
		for i := range d {
			d[i] += 0.3 * math.Sin(float64(7*i+len(p.Name)))
		}
	}
	for _, stage := range []Stage{Soft, Hard} {
		gr := build(t, m, s, stage, tensor.Float64)
		head, ffn := s.Probs()
		if stage == Soft {
			if _, err := G.Grad(gr.Loss, s.Nodes()...); err != nil {
				t.Fatal(err)
			}
		} else if _, err := G.Grad(gr.Loss, s.Nodes()...); err == nil {
			t.Fatal("hard top-k gates gave the routers a gradient")
		}
		vm := G.NewTapeMachine(gr.G)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		for l := 0; l < 2; l++ {
			for part, nodes := range map[string][]*G.Node{"head": head, "ffn": ffn} {
				want := c.KHeads[l]
				if part == "ffn" {
					want = c.KGroups[l]
				}
				v := nodes[l].Value().Data().([]float64)
				U := nodes[l].Shape()[1]
				for r := 0; r < len(v)/U; r++ {
					on := 0
					for _, x := range v[r*U : (r+1)*U] {
						on += int(x)
					}
					if on != want {
						t.Fatalf("%v layer %d %s token %d: %d units on, want %d", stage, l, part, r, on, want)
					}
				}
			}
		}
		if stage == Soft {
			nonzero := false
			for _, nd := range s.Nodes() {
				gv, _ := nd.Grad()
				for _, x := range gv.Data().([]float64) {
					nonzero = nonzero || x != 0
				}
			}
			if !nonzero {
				t.Fatal("the soft top-k stage gave the routers no gradient")
			}
		}
		vm.Close()
	}
}

func TestTopKConfigRejects(t *testing.T) {
	m := tinyModel(nn.GPT2, tensor.Float64)
	for name, edit := range map[string]func(*Config){
		"k too large":     func(c *Config) { c.KHeads = []int{3, 1} },
		"layers missing":  func(c *Config) { c.KGroups = []int{1} },
		"negative":        func(c *Config) { c.KGroups = []int{-1, 1} },
		"hard-concrete":   func(c *Config) { c.Kind = HardConcrete },
		"k for threshold": func(c *Config) { c.Routing = Threshold },
		"unknown routing": func(c *Config) { c.Routing = "top3" },
	} {
		c := DefaultConfig()
		c.GroupSize, c.Routing = 4, TopK
		c.KHeads, c.KGroups = []int{1, 1}, []int{2, 2}
		edit(&c)
		if _, err := New(c, m.Config, 1, tensor.Float64); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestChooseK: the rule's choice for the embedded default's shape (GPT-2,
// D 128, 4 layers of 4 heads and 16 groups of 32 neurons, sequences of
// 128) is, by brute force over the balanced pairs, the one whose compute
// stays nearest the target for any sequence length (full sequences and a
// single token, the ends), and it stays within 0.005 of it at 0.25, 0.5
// and 0.75.
func TestChooseK(t *testing.T) {
	c := &nn.Config{Family: nn.GPT2, Task: nn.Classification, Labels: []string{"a", "b"}, Vocab: 2048, D: 128, L: 4, H: 4, KVH: 4, F: 512,
		MaxPos: 256, NormEps: 1e-5, Act: "gelu_new", PadID: -1, BOSID: -1, EOSID: -1}
	rc := DefaultConfig()
	var costs []*loss.Cost
	for _, n := range []float64{128, 1} {
		cost, err := loss.NewCost(c, 32, n, rc.FLOPsPerLayer(c))
		if err != nil {
			t.Fatal(err)
		}
		costs = append(costs, cost)
	}
	at := func(cost *loss.Cost, h, g int) float64 {
		return (float64(h)*cost.Head[0][0] + float64(g)*cost.Group[0][0] + cost.Router) / cost.Dense()
	}
	worst := func(h, g int, target float64) float64 {
		return math.Max(math.Abs(at(costs[0], h, g)-target), math.Abs(at(costs[1], h, g)-target))
	}
	for _, target := range []float64{0.25, 0.5, 0.75} {
		ch, err := rc.ChooseK(c, 128, target)
		if err != nil {
			t.Fatal(err)
		}
		kh, kg := 0, 0
		for l := range 4 {
			kh += ch.KHeads[l]
			kg += ch.KGroups[l]
			if ch.KHeads[l]-ch.KHeads[3] > 1 || ch.KGroups[l]-ch.KGroups[3] > 1 {
				t.Fatalf("target %g: uneven spread %v %v", target, ch.KHeads, ch.KGroups)
			}
		}
		if got := at(costs[0], kh, kg); math.Abs(got-ch.Compute) > 1e-12 {
			t.Fatalf("target %g: reported compute %g, the k give %g", target, ch.Compute, got)
		}
		w := worst(kh, kg, target)
		for h := 0; h <= 16; h++ {
			for g := 0; g <= 64; g++ {
				if math.Abs(float64(h)/16-float64(g)/64) > 0.25 {
					continue
				}
				if alt := worst(h, g, target); alt < w-1e-12 {
					t.Fatalf("target %g: (%d, %d) stays within %g of it, nearer than the chosen (%d, %d) %g", target, h, g, alt, kh, kg, w)
				}
			}
		}
		if w > 0.005 || ch.Low > ch.Compute || ch.High < ch.Compute || math.Abs(ch.High-ch.Low) > 2*w {
			t.Fatalf("target %g: compute %g in [%g, %g], %g from the target", target, ch.Compute, ch.Low, ch.High, w)
		}
		t.Logf("target %g: heads %v groups %v compute %.4f (%.4f to %.4f by length)", target, ch.KHeads, ch.KGroups, ch.Compute, ch.Low, ch.High)
	}
	if _, err := rc.ChooseK(c, 128, 0); err == nil {
		t.Fatal("target 0 accepted")
	}
	if _, err := ChooseK(0.5, true, true); err == nil {
		t.Fatal("no cost model accepted")
	}
}
