package infer

import (
	"math"
	"testing"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
)

// TestEvaluateMatchesMaskedGraph: Evaluate's loss, accuracy and count,
// over batches that split the sequences, are those computed by hand from
// the masked training graph's logits, and its compute is the one the
// engine measures over the same sequences in one pass.
func TestEvaluateMatchesMaskedGraph(t *testing.T) {
	for _, cls := range []bool{false, true} {
		c := testConfig(nn.GPT2, cls)
		const k = 8
		m := &nn.Model{Config: c, Params: nn.InitParams(c, 3, tensor.Float32)}
		set := testRouters(t, c, router.Sigmoid, k)
		seqs := randomSeqs(c, 3, 16, 5)
		want := hardMasked(t, m, set, seqs) // (3·16, V) or (3, labels)
		sp, err := Build(m, set.Params(), usageManifest(t, m, set, seqs, k))
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(sp)
		if err != nil {
			t.Fatal(err)
		}
		// Cross-entropy by hand, in float64: log Σ exp(row) − row[target].
		nll := func(row []float32, target int) float64 {
			var s float64
			for _, v := range row {
				s += math.Exp(float64(v))
			}
			return math.Log(s) - float64(row[target])
		}
		labels := []int{2, 0, 1}
		var loss float64
		count, correct := 0, 0
		for s, ids := range seqs {
			if cls {
				row := want[s*3 : (s+1)*3]
				loss += nll(row, labels[s])
				best := 0
				for j := range row {
					if row[j] > row[best] {
						best = j
					}
				}
				if best == labels[s] {
					correct++
				}
				count++
				continue
			}
			for p := 0; p+1 < len(ids); p++ {
				loss += nll(want[(s*16+p)*c.Vocab:(s*16+p+1)*c.Vocab], ids[p+1])
				count++
			}
		}
		got, err := e.Evaluate(seqs, labels, 2)
		if err != nil {
			t.Fatal(err)
		}
		if got.Count != count || math.Abs(got.Loss-loss/float64(count)) > 1e-4 {
			t.Errorf("classification %v: count %d, loss %.6f; by hand from the masked graph %d, %.6f", cls, got.Count, got.Loss, count, loss/float64(count))
		}
		if cls && got.Accuracy != float64(correct)/3 {
			t.Errorf("accuracy %.4f, by hand %.4f", got.Accuracy, float64(correct)/3)
		}
		compute, err := e.MeasureCompute(seqs)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Sparse || math.Abs(got.Compute-compute) > 1e-9 || compute <= 0 || compute >= 1 {
			t.Errorf("compute %.6f (sparse %v), measured in one pass %.6f", got.Compute, got.Sparse, compute)
		}
	}
}
