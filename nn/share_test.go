package nn

import (
	"slices"
	"testing"

	"gorgonia.org/tensor"
)

// TestSharedBackwardBuffers: sharing the input-gradient buffers of the
// matmuls, the fused bias-activations and attention between layers (and
// attention's working buffers) changes no loss and no gradient, bit for
// bit, over two runs, and does share them (fewer distinct buffers than
// such ops).
func TestSharedBackwardBuffers(t *testing.T) {
	for _, fam := range []Family{GPT2, LLaMA} {
		t.Run(string(fam), func(t *testing.T) {
			c := tinyConfig(fam) // LLaMA with one KV head: grouped-query attention
			c.Vocab, c.D, c.L, c.F = 50, 16, 3, 32
			m := &Model{Config: c, Params: InitParams(c, 5, tensor.Float32)}
			run := func(share bool) (losses []float64, grads [][]float32, buffers, nodes int) {
				defer func(old bool) { shareBackwardBuffers = old }(shareBackwardBuffers)
				shareBackwardBuffers = share
				gr, err := m.Build(BuildOptions{B: 2, T: 8})
				if err != nil {
					t.Fatal(err)
				}
				r, err := gr.Compile(true)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				for k := range 2 {
					ids := make([]int, 16)
					for i := range ids {
						ids[i] = (i*7 + k*3) % c.Vocab
					}
					if err := gr.Feed(&Batch{IDs: ids}); err != nil {
						t.Fatal(err)
					}
					if err := r.Run(); err != nil {
						t.Fatal(err)
					}
					losses = append(losses, r.Loss())
					for i := range r.NumGrads() {
						grads = append(grads, slices.Clone(r.Grad(i).Data().([]float32)))
					}
				}
				seen := map[uintptr]bool{}
				for _, n := range r.g.AllNodes() {
					if n.Op() == nil {
						continue
					}
					switch n.Op().String() {
					case "MatMulGradX", "BiasActGrad", "AttentionGrad":
						nodes++
						seen[n.Value().(*tensor.Dense).Uintptr()] = true
					}
				}
				return losses, grads, len(seen), nodes
			}
			l0, g0, _, _ := run(false)
			l1, g1, buffers, nodes := run(true)
			if !slices.Equal(l0, l1) {
				t.Errorf("losses %v shared, %v not", l1, l0)
			}
			for i := range g0 {
				if !slices.Equal(g0[i], g1[i]) {
					t.Errorf("gradient %d differs with shared buffers", i)
				}
			}
			if nodes < 2*c.L || buffers >= nodes {
				t.Errorf("%d distinct buffers for %d input-gradient ops", buffers, nodes)
			}
			t.Logf("%d input-gradient ops share %d buffers", nodes, buffers)
		})
	}
}
