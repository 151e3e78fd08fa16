package data

import (
	"math/rand/v2"
	"slices"
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

// TestUniformBound checks Uniform against its bound for ranges where the
// rejection step matters (n not a power of two, n near 2^64).
func TestUniformBound(t *testing.T) {
	src := rand.NewPCG(1, 2)
	for _, n := range []uint64{1, 2, 3, 5, 1<<63 + 1, ^uint64(0)} {
		for range 1000 {
			if v := Uniform(src, n); v >= n {
				t.Fatalf("Uniform(%d) = %d", n, v)
			}
		}
	}
}

func TestShufflePanics(t *testing.T) {
	mustPanicWith(t, "negative n -1", func() { Shuffle(-1, 0, 0) })
	mustPanicWith(t, "epoch -1", func() { Shuffle(3, 0, -1) })
}
