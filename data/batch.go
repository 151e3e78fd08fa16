package data

import (
	"fmt"
	"iter"
)

// IgnoreIndex is the label of positions and rows the loss must skip: padding
// and the dummy rows of a last partial batch. -100 is the ignore_index of
// PyTorch's cross_entropy and of Hugging Face's labels.
const IgnoreIndex = -100

// Batch is B sequences padded to T tokens, row-major.
type Batch struct {
	B, T int
	IDs  []int // (B*T) token ids; padID after each sequence
	Mask []int // (B*T) attention mask: 1 for tokens, 0 for padding
	// Types are the token type ids (B*T): all 0, one segment per sequence.
	Types []int
	// Labels: causal LM (B*T), a copy of IDs with IgnoreIndex on padding
	// (not shifted: the loss predicts position t+1 from t, as in Hugging
	// Face); classification (B), the label ids. Dummy rows are IgnoreIndex.
	Labels []int
	// Index is the example index (into the split) of each row, -1 for dummy
	// rows.
	Index []int
	// Rows is the number of real rows: B except in a last partial batch,
	// whose rows Rows..B-1 are dummies (all padding, mask 0, label
	// IgnoreIndex) so that graphs built for a fixed B can run it. Metrics
	// must count only Index ≥ 0 rows.
	Rows int
}

// NumBatches is the number of batches of size b that cover n examples, the
// last one partial: ⌈n/b⌉.
func NumBatches(n, b int) int {
	if b < 1 {
		panic(fmt.Sprintf("data: NumBatches: batch size %d < 1", b))
	}
	return (n + b - 1) / b
}

// Batches cuts order (example indexes, e.g. from Shuffle) into batches of b
// rows padded to T tokens with padID (mask 0). The last partial batch is
// kept and filled up to b rows with dummy rows (see Batch.Rows); callers
// that prefer to drop it can stop after len(order)/b batches. Batches are
// built as the iterator is advanced, so an epoch never holds more than one
// in memory; each Batch is freshly allocated and may be kept.
//
// Batches panics if b or T is < 1, if an index in order is out of range or
// if a sequence is longer than T: these are programming errors, since every
// sequence Load makes fits its SeqLen.
func (s *Split) Batches(order []int, b, T, padID int) iter.Seq[Batch] {
	if b < 1 || T < 1 {
		panic(fmt.Sprintf("data: Batches: batch size %d and length %d must be ≥ 1", b, T))
	}
	for _, i := range order {
		if i < 0 || i >= len(s.Seqs) {
			panic(fmt.Sprintf("data: Batches: index %d out of range for split %q of %d sequences", i, s.Name, len(s.Seqs)))
		}
	}
	return func(yield func(Batch) bool) {
		for lo := 0; lo < len(order); lo += b {
			if !yield(s.batch(order[lo:min(lo+b, len(order))], b, T, padID)) {
				return
			}
		}
	}
}

// batch builds one batch from rows ≤ b example indexes.
func (s *Split) batch(rows []int, b, T, padID int) Batch {
	classify := s.Labels != nil
	bt := Batch{
		B: b, T: T, Rows: len(rows),
		IDs:   make([]int, b*T),
		Mask:  make([]int, b*T),
		Types: make([]int, b*T),
		Index: make([]int, b),
	}
	if classify {
		bt.Labels = make([]int, b)
	} else {
		bt.Labels = make([]int, b*T)
	}
	for r := range b {
		ids := bt.IDs[r*T : (r+1)*T]   // (T)
		mask := bt.Mask[r*T : (r+1)*T] // (T)
		var seq []int
		bt.Index[r] = -1
		if r < len(rows) {
			bt.Index[r] = rows[r]
			seq = s.Seqs[rows[r]]
			if len(seq) > T {
				panic(fmt.Sprintf("data: Batches: sequence %d of split %q has %d tokens, more than T=%d", rows[r], s.Name, len(seq), T))
			}
		}
		copy(ids, seq)
		for t := len(seq); t < T; t++ {
			ids[t] = padID
		}
		for t := range seq {
			mask[t] = 1
		}
		switch {
		case classify && r < len(rows):
			bt.Labels[r] = s.Labels[rows[r]]
		case classify:
			bt.Labels[r] = IgnoreIndex
		default:
			labels := bt.Labels[r*T : (r+1)*T] // (T)
			copy(labels, seq)
			for t := len(seq); t < T; t++ {
				labels[t] = IgnoreIndex
			}
		}
	}
	return bt
}
