package train

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"

	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
)

// Metrics are the results of one evaluation.
type Metrics struct {
	Task     nn.Task
	Loss     float64 // mean cross-entropy per counted target
	Accuracy float64 // classification
	F1       float64 // classification: macro-averaged F1 over the labels
	Count    int     // examples (classification) or tokens (LM) evaluated

	// Sparse models (hard masks): the measured compute, per layer too, and
	// units that never or always fire on the evaluated tokens.
	Compute        float64   // active routed FLOPs (+ routers) / dense routed FLOPs, over real tokens
	LayerCompute   []float64 // the same per layer, without router cost
	Dead, AlwaysOn int       // heads and groups that never / always fire
	sparse         bool
}

// Main is the metric that selects the best checkpoint.
func (m Metrics) Main() float64 {
	if m.Task == nn.CausalLM {
		return math.Exp(m.Loss)
	}
	return m.Accuracy
}

func (m Metrics) String() string {
	sp := ""
	if m.sparse {
		sp = fmt.Sprintf(" | compute %.4f | dead %d | always-on %d", m.Compute, m.Dead, m.AlwaysOn)
	}
	if m.Task == nn.CausalLM {
		return fmt.Sprintf("loss %8.4f | perplexity %9.3f | %d tokens%s", m.Loss, math.Exp(m.Loss), m.Count, sp)
	}
	return fmt.Sprintf("loss %8.4f | accuracy %.4f | macro-F1 %.4f | %d examples%s", m.Loss, m.Accuracy, m.F1, m.Count, sp)
}

func (m Metrics) record(step int, split string) map[string]any {
	r := map[string]any{"step": step, "split": split, "loss": m.Loss, "count": m.Count}
	if m.Task == nn.CausalLM {
		r["perplexity"] = math.Exp(m.Loss)
	} else {
		r["accuracy"], r["f1"] = m.Accuracy, m.F1
	}
	if m.sparse {
		r["compute"], r["layer_compute"], r["dead_units"], r["always_on_units"] = m.Compute, m.LayerCompute, m.Dead, m.AlwaysOn
	}
	return r
}

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
func (e *evaluator) Evaluate(split *data.Split, mc *nn.Config, tok data.Tokenizer, maxBatches int) (Metrics, error) {
	m := Metrics{Task: mc.Task}
	k := len(mc.Labels)
	var lossSum float64
	conf := make([][]int, k) // conf[true][pred]
	for i := range conf {
		conf[i] = make([]int, k)
	}
	n := len(split.Seqs)
	meter := newComputeMeter(e)
	for lo, nb := 0, 0; lo < n && (maxBatches == 0 || nb < maxBatches); lo, nb = lo+e.B, nb+1 {
		idx := make([]int, 0, e.B)
		for i := lo; i < min(lo+e.B, n); i++ {
			idx = append(idx, i)
		}
		batch := makeBatch(split, idx, e.B, e.T, mc, tok)
		if err := e.gr.Feed(batch); err != nil {
			return m, err
		}
		if err := e.run.Run(); err != nil {
			return m, err
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
				row := logits[r*k : (r+1)*k]
				pred := 0
				for j := range row {
					if row[j] > row[pred] {
						pred = j
					}
				}
				conf[batch.Labels[r]][pred]++
			}
		}
		lossSum += e.run.Loss() * float64(counted)
		m.Count += counted
		meter.add(batch.Mask)
	}
	meter.finish(&m)
	if m.Count == 0 {
		return m, fmt.Errorf("evaluation: the %s split has nothing to evaluate", split.Name)
	}
	m.Loss = lossSum / float64(m.Count)
	if mc.Task == nn.Classification {
		m.Accuracy, m.F1 = accuracyF1(conf)
	}
	return m, nil
}

// accuracyF1 returns accuracy and macro-F1 from a confusion matrix, F1 of a
// label with no true or predicted examples counting as 0 is avoided by
// averaging over labels present in truth or prediction.
func accuracyF1(conf [][]int) (acc, f1 float64) {
	total, correct := 0, 0
	var f1s []float64
	for c := range conf {
		tp, fp, fn := conf[c][c], 0, 0
		for o := range conf {
			total += conf[c][o]
			if o != c {
				fn += conf[c][o]
				fp += conf[o][c]
			}
		}
		correct += tp
		if tp+fp+fn > 0 {
			f1s = append(f1s, 2*float64(tp)/float64(2*tp+fp+fn))
		}
	}
	for _, f := range f1s {
		f1 += f / float64(len(f1s))
	}
	return float64(correct) / float64(total), f1
}
