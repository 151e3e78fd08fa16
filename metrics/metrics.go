package metrics

import (
	"fmt"
	"math"

	"github.com/sparsetune/sparsetune/nn"
)

// Metrics are the results of one evaluation.
type Metrics struct {
	Task     nn.Task
	Loss     float64 // mean cross-entropy per counted target
	Accuracy float64 // classification
	F1       float64 // classification: macro-averaged F1 over the labels
	Count    int     // examples (classification) or tokens (LM) evaluated

	// Sparse models (hard masks): the measured compute, per layer too, and
	// units that never or always fire on the evaluated tokens. Sparse says
	// the figures are set (String and Record show them).
	Compute        float64   // active routed FLOPs (+ routers) / dense routed FLOPs, over real tokens
	LayerCompute   []float64 // the same per layer, without router cost
	Dead, AlwaysOn int       // heads and groups that never / always fire
	Sparse         bool
}

// Name is the name of the task's main metric: "perplexity" for a causal
// language model (lower is better), "accuracy" for a classifier.
func Name(task nn.Task) string {
	if task == nn.CausalLM {
		return "perplexity"
	}
	return "accuracy"
}

// Name is the name of the metric Main returns.
func (m Metrics) Name() string { return Name(m.Task) }

// Main is the metric that selects the best checkpoint: perplexity
// (exp of the mean loss) for a language model, accuracy for a classifier.
func (m Metrics) Main() float64 {
	if m.Task == nn.CausalLM {
		return math.Exp(m.Loss)
	}
	return m.Accuracy
}

// String is the evaluation line of a run's log.
func (m Metrics) String() string {
	sp := ""
	if m.Sparse {
		sp = fmt.Sprintf(" | compute %.4f | dead %d | always-on %d", m.Compute, m.Dead, m.AlwaysOn)
	}
	if m.Task == nn.CausalLM {
		return fmt.Sprintf("loss %8.4f | perplexity %9.3f | %d tokens%s", m.Loss, math.Exp(m.Loss), m.Count, sp)
	}
	return fmt.Sprintf("loss %8.4f | accuracy %.4f | macro-F1 %.4f | %d examples%s", m.Loss, m.Accuracy, m.F1, m.Count, sp)
}

// Record is the evaluation's line of a run's metrics.jsonl, at step of
// split ("valid" or "test"). Its keys are stable: reports and sweeps read
// them.
func (m Metrics) Record(step int, split string) map[string]any {
	r := map[string]any{"step": step, "split": split, "loss": m.Loss, "count": m.Count}
	if m.Task == nn.CausalLM {
		r["perplexity"] = math.Exp(m.Loss)
	} else {
		r["accuracy"], r["f1"] = m.Accuracy, m.F1
	}
	if m.Sparse {
		r["compute"], r["layer_compute"], r["dead_units"], r["always_on_units"] = m.Compute, m.LayerCompute, m.Dead, m.AlwaysOn
	}
	return r
}
