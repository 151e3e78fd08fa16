package data

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestShuffleGolden pins the order: a change here silently changes every
// training run's example order, so it must be deliberate.
func TestShuffleGolden(t *testing.T) {
	for _, tc := range []struct {
		seed  uint64
		epoch int
		want  []int
	}{
		{42, 0, []int{6, 2, 5, 3, 4, 7, 0, 1, 9, 8}},
		{42, 1, []int{2, 3, 9, 6, 0, 8, 7, 4, 5, 1}},
		{43, 0, []int{8, 7, 5, 2, 4, 9, 6, 3, 0, 1}},
	} {
		if got := Shuffle(10, tc.seed, tc.epoch); !slices.Equal(got, tc.want) {
			t.Errorf("Shuffle(10, %d, %d) = %v, want %v", tc.seed, tc.epoch, got, tc.want)
		}
	}
}

func TestShuffleDeterminism(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 1000} {
		for epoch := range 3 {
			a, b := Shuffle(n, 1, epoch), Shuffle(n, 1, epoch)
			if !slices.Equal(a, b) {
				t.Fatalf("n=%d epoch=%d: two calls differ", n, epoch)
			}
			sorted := slices.Sorted(slices.Values(a))
			for i, v := range sorted {
				if v != i {
					t.Fatalf("n=%d epoch=%d: %v is not a permutation", n, epoch, a)
				}
			}
		}
	}
	if slices.Equal(Shuffle(1000, 1, 0), Shuffle(1000, 1, 1)) {
		t.Error("epochs 0 and 1 give the same order")
	}
	if slices.Equal(Shuffle(1000, 1, 0), Shuffle(1000, 2, 0)) {
		t.Error("seeds 1 and 2 give the same order")
	}
}

// TestShuffleUniform checks that all 6 orders of 3 items come up about
// equally often (a biased Fisher–Yates, e.g. j drawn from [0, n) instead of
// [0, i], fails this). Over 60000 draws each count has mean 10000 and
// σ = √(60000·(1/6)·(5/6)) ≈ 91, so ±400 is over 4σ.
func TestShuffleUniform(t *testing.T) {
	counts := map[[3]int]int{}
	for seed := range uint64(60000) {
		p := Shuffle(3, seed, 0)
		counts[[3]int(p)]++
	}
	if len(counts) != 6 {
		t.Fatalf("%d distinct orders, want 6", len(counts))
	}
	for p, c := range counts {
		if c < 10000-400 || c > 10000+400 {
			t.Errorf("order %v came up %d times of 60000, want about 10000", p, c)
		}
	}
}

// TestUniformBound checks uniform against its bound for ranges where the
// rejection step matters (n not a power of two, n near 2^64).
func TestUniformBound(t *testing.T) {
	src := rand.NewPCG(1, 2)
	for _, n := range []uint64{1, 2, 3, 5, 1<<63 + 1, ^uint64(0)} {
		for range 1000 {
			if v := uniform(src, n); v >= n {
				t.Fatalf("uniform(%d) = %d", n, v)
			}
		}
	}
}

func TestShufflePanics(t *testing.T) {
	mustPanicWith(t, "negative n -1", func() { Shuffle(-1, 0, 0) })
	mustPanicWith(t, "epoch -1", func() { Shuffle(3, 0, -1) })
}

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
