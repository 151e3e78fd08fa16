package infer

import (
	"github.com/sparsetune/sparsetune/metrics"
	"github.com/sparsetune/sparsetune/nn"
)

// Evaluate runs seqs through the engine, batch sequences at a time, and
// returns their metrics with the compute the engine measured on them (its
// Stats are reset first): a classifier's predictions and losses against
// labels (one per sequence), a language model's loss on every next token.
// Count is 0 when nothing had a target (callers name the data that was
// empty).
func (e *Engine) Evaluate(seqs [][]int, labels []int, batch int) (metrics.Metrics, error) {
	e.ResetStats()
	mc := e.Config
	acc := metrics.New(mc.Task, len(mc.Labels))
	k := len(mc.Labels)
	for lo := 0; lo < len(seqs); lo += batch {
		part := seqs[lo:min(lo+batch, len(seqs))]
		h, off, err := e.Forward(part, nil)
		if err != nil {
			return metrics.Metrics{Task: mc.Task}, err
		}
		if mc.Task == nn.CausalLM {
			logits := e.LMLogits(h, nil) // (tokens, V)
			for s, ids := range part {
				for t := 0; t+1 < len(ids); t++ {
					acc.AddToken(logits[(off[s]+t)*mc.Vocab:(off[s]+t+1)*mc.Vocab], ids[t+1])
				}
			}
			continue
		}
		logits := e.ClassLogits(h, off) // (len(part), k)
		for s := range part {
			acc.AddRow(logits[s*k:(s+1)*k], labels[lo+s])
		}
	}
	acc.SetCompute(e.Stats.Compute())
	return acc.Metrics(), nil
}
