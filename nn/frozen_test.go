package nn

import (
	"slices"
	"testing"

	"gorgonia.org/tensor"
)

// countOps counts the nodes of r's compiled graph whose op is named name.
func countOps(r *Runner, name string) int {
	n := 0
	for _, node := range r.g.AllNodes() {
		if node.Op() != nil && node.Op().String() == name {
			n++
		}
	}
	return n
}

// TestFrozenParamsGetNoGradient: a graph built with frozen weights computes
// gradients for the others only, equal bit for bit to those of the graph
// that differentiates everything, and runs none of the frozen weights'
// weight-gradient GEMMs.
func TestFrozenParamsGetNoGradient(t *testing.T) {
	for _, fam := range []Family{GPT2, LLaMA} {
		t.Run(string(fam), func(t *testing.T) {
			c := tinyConfig(fam)
			c.Vocab, c.D, c.L, c.KVH, c.F = 50, 16, 2, 2, 32
			m := &Model{Config: c, Params: InitParams(c, 3, tensor.Float32)}
			batch := &Batch{IDs: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}
			run := func() (*Runner, []float32) {
				gr, err := m.Build(BuildOptions{B: 2, T: 8})
				if err != nil {
					t.Fatal(err)
				}
				r, err := gr.Compile(true)
				if err != nil {
					t.Fatal(err)
				}
				if err := gr.Feed(batch); err != nil {
					t.Fatal(err)
				}
				if err := r.Run(); err != nil {
					t.Fatal(err)
				}
				var all []float32
				for i := range r.NumGrads() {
					all = append(all, r.Grad(i).Data().([]float32)...)
				}
				return r, all
			}
			full, fullGrads := run()
			defer full.Close()
			matrices := 0
			for _, p := range m.Params.List {
				if len(p.Shape) == 2 && p.Name != "transformer.wpe.weight" && p.Name != "transformer.wte.weight" && p.Name != "model.embed_tokens.weight" {
					matrices++
				}
			}
			if fam == GPT2 {
				matrices++ // the tied LM head's GEMM with wte
			}
			if got := countOps(full, "MatMulGradW"); got != matrices {
				t.Fatalf("full graph: %d weight-gradient GEMMs, want %d", got, matrices)
			}

			// Freeze all but the last layer's second norm and the final norm.
			var keep []int
			for i, p := range m.Params.List {
				p.Frozen = !(p.Name == "transformer.ln_f.weight" || p.Name == "model.norm.weight" || p.Name == "transformer.h.1.ln_2.weight" || p.Name == "model.layers.1.post_attention_layernorm.weight")
				if !p.Frozen {
					keep = append(keep, i)
				}
			}
			defer func() {
				for _, p := range m.Params.List {
					p.Frozen = false
				}
			}()
			frozen, frozenGrads := run()
			defer frozen.Close()
			if frozen.NumGrads() != len(keep) || len(keep) != 2 {
				t.Fatalf("%d gradients for %d trainable parameters", frozen.NumGrads(), len(keep))
			}
			if got := countOps(frozen, "MatMulGradW"); got != 0 {
				t.Errorf("frozen graph still runs %d weight-gradient GEMMs", got)
			}
			if got, all := len(frozen.g.AllNodes()), len(full.g.AllNodes()); got >= all {
				t.Errorf("frozen graph has %d nodes, the full one %d", got, all)
			}
			var want []float32
			off := 0
			for i, p := range m.Params.List {
				if slices.Contains(keep, i) {
					want = append(want, fullGrads[off:off+p.Numel()]...)
				}
				off += p.Numel()
			}
			if !slices.Equal(frozenGrads, want) {
				t.Error("the unfrozen parameters' gradients differ from the full graph's")
			}
			if frozen.Loss() != full.Loss() {
				t.Errorf("loss %v with frozen weights, %v without", frozen.Loss(), full.Loss())
			}
		})
	}
}
