package train

import (
	"fmt"
	"math"

	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/nn"
)

// EmbedRecords returns the pooled final hidden state of the base model
// cfg.Model for each record (see evaluator.embed), keyed by id: what
// package coreset clusters into ELFS pseudo-classes. The text
// is encoded as for classification and cut to the sequence length.
func EmbedRecords(cfg Config, recs []data.Record) (map[string][]float32, error) {
	tok, err := data.LoadTokenizer(cfg.Model)
	if err != nil {
		return nil, err
	}
	// A throwaway two-class head: only the hidden states are read, and a
	// classifier's graph skips the (T, V) language-model logits.
	m, err := nn.Load(cfg.Model, nn.LoadOptions{Task: nn.Classification, Labels: []string{"0", "1"}, Seed: cfg.Seed})
	if err != nil {
		return nil, err
	}
	T := cfg.SeqLen
	if T == 0 {
		T = min(m.Config.MaxPos, 256)
	}
	split := &data.Split{Name: "train", Labels: make([]int, len(recs))}
	for _, r := range recs {
		ids, err := data.EncodeForModel(tok, r.Text)
		if err != nil {
			return nil, fmt.Errorf("coreset: %s:%d: %w", cfg.Train, r.Line, err)
		}
		split.Seqs = append(split.Seqs, ids[:min(len(ids), T)])
		split.IDs = append(split.IDs, r.ID)
	}
	batch := max(cfg.Batch, 1)
	ev, err := newEvaluator(m, batch, T, nil)
	if err != nil {
		return nil, err
	}
	defer ev.Close()
	return ev.embed(split, m.Config, tok)
}

// forward runs the evaluation graph over split in stored order, one batch
// at a time, and calls fn for each sequence with its index in split and
// its row in the batch, while the graph's values hold that batch.
func (e *evaluator) forward(split *data.Split, mc *nn.Config, tok data.Tokenizer, fn func(i, row int, b *nn.Batch) error) error {
	for lo := 0; lo < len(split.Seqs); lo += e.B {
		idx := make([]int, 0, e.B)
		for i := lo; i < min(lo+e.B, len(split.Seqs)); i++ {
			idx = append(idx, i)
		}
		b := makeBatch(split, idx, e.B, e.T, mc, tok)
		if err := e.gr.Feed(b); err != nil {
			return err
		}
		if err := e.run.Run(); err != nil {
			return err
		}
		for row, i := range idx {
			if err := fn(i, row, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// embed returns one vector per sequence of split: the final hidden state
// (after the last LayerNorm/RMSNorm) averaged over the sequence's real
// tokens, then scaled to unit length so that k-means on the vectors
// compares directions (cosine similarity), not the norm, which in small
// GPT-2 models is dominated by a few outlier dimensions.
func (e *evaluator) embed(split *data.Split, mc *nn.Config, tok data.Tokenizer) (map[string][]float32, error) {
	out := make(map[string][]float32, len(split.Seqs))
	D := mc.D
	err := e.forward(split, mc, tok, func(i, row int, b *nn.Batch) error {
		h := e.gr.Hidden[len(e.gr.Hidden)-1].Value().Data().([]float32) // (B*T, D)
		v := make([]float64, D)
		n := 0
		for t := range e.T {
			if b.Mask[row*e.T+t] == 0 {
				continue
			}
			n++
			for j, x := range h[(row*e.T+t)*D : (row*e.T+t+1)*D] {
				v[j] += float64(x)
			}
		}
		norm := 0.0
		for _, x := range v {
			norm += x * x
		}
		norm = math.Sqrt(norm)
		if norm == 0 || n == 0 {
			return fmt.Errorf("example %q: zero embedding", split.IDs[i])
		}
		emb := make([]float32, D)
		for j, x := range v {
			emb[j] = float32(x / norm)
		}
		out[split.IDs[i]] = emb
		return nil
	})
	return out, err
}
