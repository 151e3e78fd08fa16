package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/gradcheck"
)

// tinyConfig is a one-block model of each family, small enough for
// finite differences over every parameter.
func tinyConfig(f Family) *Config {
	c := &Config{Family: f, Task: CausalLM, Vocab: 11, D: 8, L: 1, H: 2, KVH: 2, F: 16, MaxPos: 8, NormEps: 1e-5, PadID: -1, BOSID: -1, EOSID: -1}
	switch f {
	case GPT2:
		c.Act, c.Tied = "gelu_new", true
	case BERT, RoBERTa:
		c.Task, c.Act, c.TypeVocab, c.Labels, c.PadID = Classification, "gelu", 2, []string{"a", "b", "c"}, 0
	case LLaMA:
		c.Act, c.RoPETheta, c.KVH = "silu", 10000, 1
	}
	return c
}

// gateInputs returns a GateFunc making per-layer gate inputs filled by kind:
// "ones", "partial" (some exact zeros, the rest in (0, 1]) or "zeros".
func gateInputs(kind string, groups int, out *[]*G.Node) GateFunc {
	if kind == "none" {
		return nil
	}
	rng := rand.New(rand.NewPCG(3, 4))
	mk := func(g *G.ExprGraph, name string, rows, cols int) *G.Node {
		v := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(rows, cols))
		d := v.Data().([]float64)
		for i := range d {
			switch kind {
			case "ones":
				d[i] = 1
			case "partial":
				if i%3 != 0 {
					d[i] = 0.1 + 0.9*rng.Float64()
				}
			}
		}
		n := G.NewTensor(g, tensor.Float64, 2, G.WithShape(rows, cols), G.WithValue(v), G.WithName(name))
		*out = append(*out, n)
		return n
	}
	return func(g *G.ExprGraph, l int, x *G.Node) (Gates, error) {
		rows := x.Shape()[0]
		c := x.Shape()[1]
		_ = c
		return Gates{
			Head:      mk(g, fmt.Sprintf("head_gate.%d", l), rows, 2),
			FFN:       mk(g, fmt.Sprintf("ffn_gate.%d", l), rows, groups),
			GroupSize: 16 / groups,
		}, nil
	}
}

// TestBlockGradients checks every parameter and gate gradient of one whole
// block of each family against finite differences in float64, dense and
// with open, partly open and closed gates.
func TestBlockGradients(t *testing.T) {
	for _, fam := range []Family{GPT2, BERT, RoBERTa, LLaMA} {
		for _, kind := range []string{"none", "ones", "partial", "zeros"} {
			t.Run(fmt.Sprintf("%s/gates=%s", fam, kind), func(t *testing.T) {
				c := tinyConfig(fam)
				params := InitParams(c, 7, tensor.Float64)
				rng := rand.New(rand.NewPCG(1, 2))
				for _, p := range params.List { // lift weights well above init scale so every path matters
					d := p.Value.Data().([]float64)
					for i := range d {
						d[i] += 0.3 * rng.NormFloat64()
					}
				}
				m := &Model{Config: c, Params: params}
				var gates []*G.Node
				gr, err := m.Build(BuildOptions{B: 2, T: 4, Dtype: tensor.Float64, Gates: gateInputs(kind, 4, &gates)})
				if err != nil {
					t.Fatal(err)
				}
				batch := &Batch{IDs: []int{1, 2, 3, 4, 5, 6, 7, 8}}
				if c.Task == Classification {
					batch.Mask = []int{1, 1, 1, 1, 1, 1, 1, 0}
					batch.Types = []int{0, 0, 1, 1, 0, 1, 1, 0}
					batch.Labels = []int{2, 0}
				}
				if err := gr.Feed(batch); err != nil {
					t.Fatal(err)
				}
				wrt := append(append([]*G.Node{}, gr.Params...), gates...)
				if err := gradcheck.CheckGraph(gr.G, gr.Loss, wrt, gradcheck.Options{MaxElem: 6, Seed: 5}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
