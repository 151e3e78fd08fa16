package data

import (
	"reflect"
	"strings"
	"testing"
)

// batchTestSplits are a causal LM split (labels nil) and a classification split
// with sequences of different lengths.
func batchTestSplits() (lm, cls *Split) {
	lm = &Split{Name: "train", Seqs: [][]int{{11, 12, 13}, {21, 22, 23}, {31, 32, 33}}, IDs: []string{"d#0", "d#1", "e#0"}}
	cls = &Split{Name: "valid", Seqs: [][]int{{1, 5, 2}, {1, 6, 7, 8, 2}, {1, 2}}, Labels: []int{1, 0, 1}, IDs: []string{"a", "b", "c"}}
	return lm, cls
}

func TestBatchesClassification(t *testing.T) {
	_, cls := batchTestSplits()
	var got []Batch
	for b := range cls.Batches([]int{2, 0, 1}, 2, 5, 0) {
		got = append(got, b)
	}
	want := []Batch{{
		B: 2, T: 5, Rows: 2,
		IDs:    []int{1, 2, 0, 0, 0, 1, 5, 2, 0, 0},
		Mask:   []int{1, 1, 0, 0, 0, 1, 1, 1, 0, 0},
		Types:  make([]int, 10),
		Labels: []int{1, 1},
		Index:  []int{2, 0},
	}, {
		// The last partial batch has one dummy row: padding, mask 0,
		// label IgnoreIndex, index -1.
		B: 2, T: 5, Rows: 1,
		IDs:    []int{1, 6, 7, 8, 2, 0, 0, 0, 0, 0},
		Mask:   []int{1, 1, 1, 1, 1, 0, 0, 0, 0, 0},
		Types:  make([]int, 10),
		Labels: []int{0, IgnoreIndex},
		Index:  []int{1, -1},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("batches\n got %+v\nwant %+v", got, want)
	}
}

func TestBatchesCausalLM(t *testing.T) {
	lm, _ := batchTestSplits()
	var got []Batch
	// T=4 > SeqLen shows the padding of labels; Load's blocks fill SeqLen.
	for b := range lm.Batches([]int{1, 2, 0}, 3, 4, 50256) {
		got = append(got, b)
	}
	P, I := 50256, IgnoreIndex
	want := []Batch{{
		B: 3, T: 4, Rows: 3,
		IDs:    []int{21, 22, 23, P, 31, 32, 33, P, 11, 12, 13, P},
		Mask:   []int{1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0},
		Types:  make([]int, 12),
		Labels: []int{21, 22, 23, I, 31, 32, 33, I, 11, 12, 13, I},
		Index:  []int{1, 2, 0},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("batches\n got %+v\nwant %+v", got, want)
	}
}

func TestBatchesCount(t *testing.T) {
	lm, _ := batchTestSplits()
	for _, b := range []int{1, 2, 3, 4} {
		n := 0
		for range lm.Batches(Shuffle(3, 0, 0), b, 3, 0) {
			n++
		}
		if n != NumBatches(3, b) {
			t.Errorf("b=%d: %d batches, NumBatches says %d", b, n, NumBatches(3, b))
		}
	}
	// Breaking out of the loop stops the iterator.
	n := 0
	for range lm.Batches([]int{0, 1, 2}, 1, 3, 0) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("break after 1 batch ran %d", n)
	}
}

func TestBatchesPanics(t *testing.T) {
	lm, cls := batchTestSplits()
	mustPanicWith(t, "batch size 0", func() { lm.Batches([]int{0}, 0, 3, 0) })
	mustPanicWith(t, "length 0", func() { lm.Batches([]int{0}, 1, 0, 0) })
	mustPanicWith(t, "index 3 out of range", func() { lm.Batches([]int{3}, 1, 3, 0) })
	mustPanicWith(t, "has 5 tokens, more than T=4", func() {
		for range cls.Batches([]int{1}, 1, 4, 0) {
		}
	})
	mustPanicWith(t, "batch size 0 < 1", func() { NumBatches(3, 0) })
}

// mustPanicWith fails unless f panics with a message containing want.
func mustPanicWith(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("no panic, want one containing %q", want)
			return
		}
		if msg, _ := r.(string); !strings.Contains(msg, want) {
			t.Errorf("panic %v, want one containing %q", r, want)
		}
	}()
	f()
}
