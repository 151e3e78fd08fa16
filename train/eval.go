package train

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/metrics"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
)

// evaluator runs a forward-only graph over a split, with hard masks when
// the model is sparse.
type evaluator struct {
	gr        *nn.Graph
	run       *nn.Runner
	B, T      int
	sp        *sparsity
	head, ffn []*G.Node // binary gates per layer (sparse)
}

func newEvaluator(m *nn.Model, B, T int, sp *sparsity) (*evaluator, error) {
	opt := nn.BuildOptions{B: B, T: T}
	if sp != nil {
		opt.Gates = sp.set.GateFunc(router.Hard)
	}
	gr, err := m.Build(opt)
	if err != nil {
		return nil, err
	}
	e := &evaluator{gr: gr, B: B, T: T, sp: sp}
	if sp != nil {
		head, ffn := sp.set.Probs()
		e.head, e.ffn = append([]*G.Node(nil), head...), append([]*G.Node(nil), ffn...)
	}
	if e.run, err = gr.Compile(false); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *evaluator) Close() error { return e.run.Close() }

// Evaluate computes the split's metrics, over at most maxBatches batches
// (0: all), in the split's stored order.
func (e *evaluator) Evaluate(split *data.Split, mc *nn.Config, tok data.Tokenizer, maxBatches int) (metrics.Metrics, error) {
	acc := metrics.New(mc.Task, len(mc.Labels))
	k := len(mc.Labels)
	n := len(split.Seqs)
	for lo, nb := 0, 0; lo < n && (maxBatches == 0 || nb < maxBatches); lo, nb = lo+e.B, nb+1 {
		idx := make([]int, 0, e.B)
		for i := lo; i < min(lo+e.B, n); i++ {
			idx = append(idx, i)
		}
		batch := makeBatch(split, idx, e.B, e.T, mc, tok)
		if err := e.gr.Feed(batch); err != nil {
			return metrics.Metrics{Task: mc.Task}, err
		}
		if err := e.run.Run(); err != nil {
			return metrics.Metrics{Task: mc.Task}, err
		}
		counted := 0
		if mc.Task == nn.CausalLM {
			for i, l := range batch.Labels {
				if i%e.T != 0 && l != nn.IgnoreIndex { // position 0 is never a target
					counted++
				}
			}
		} else {
			counted = len(idx)
			logits := e.gr.Logits.Value().Data().([]float32)
			for r := range idx {
				acc.AddPrediction(logits[r*k:(r+1)*k], batch.Labels[r])
			}
		}
		acc.AddLoss(e.run.Loss(), counted)
		e.addCompute(acc, batch.Mask)
	}
	if acc.Count() == 0 {
		return metrics.Metrics{Task: mc.Task}, fmt.Errorf("evaluation: the %s split has nothing to evaluate", split.Name)
	}
	return acc.Metrics(), nil
}
