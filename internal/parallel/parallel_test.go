package parallel

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestForCoversRange checks that every index is visited exactly once and
// that split ranges respect grain, for sizes around the split thresholds.
func TestForCoversRange(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 7, 8, 9, 63, 64, 65, 1000, 4097} {
		for _, grain := range []int{-1, 0, 1, 2, 8, 64, 5000} {
			hits := make([]int32, n)
			var calls atomic.Int32
			var mu sync.Mutex
			var sizes []int
			For(n, grain, func(lo, hi int) {
				calls.Add(1)
				mu.Lock()
				sizes = append(sizes, hi-lo)
				mu.Unlock()
				for i := lo; i < hi; i++ {
					atomic.AddInt32(&hits[i], 1)
				}
			})
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("n=%d grain=%d: index %d visited %d times", n, grain, i, h)
				}
			}
			if n == 0 && calls.Load() != 0 {
				t.Fatalf("n=0 grain=%d: body called %d times", grain, calls.Load())
			}
			if int(calls.Load()) > max(Workers(), 1) {
				t.Fatalf("n=%d grain=%d: %d calls for %d workers", n, grain, calls.Load(), Workers())
			}
			if len(sizes) > 1 {
				for _, s := range sizes {
					if s < max(grain, 1) {
						t.Fatalf("n=%d grain=%d: chunk of %d elements in %v", n, grain, s, sizes)
					}
				}
			}
		}
	}
}

// TestForInline checks that small ranges run as one inline call.
func TestForInline(t *testing.T) {
	calls := 0 // no atomics: an inline call is on this goroutine
	For(10, 10, func(lo, hi int) {
		calls++
		if lo != 0 || hi != 10 {
			t.Errorf("got [%d,%d), want [0,10)", lo, hi)
		}
	})
	if calls != 1 {
		t.Fatalf("body called %d times, want 1", calls)
	}
	allocs := testing.AllocsPerRun(100, func() { For(10, 10, func(lo, hi int) {}) })
	if allocs != 0 {
		t.Errorf("inline For allocates %v times per call, want 0", allocs)
	}
}

// TestForSplits checks that work is actually spread when workers allow it.
func TestForSplits(t *testing.T) {
	if Workers() < 2 {
		t.Skipf("Workers() = %d: nothing to split", Workers())
	}
	calls := atomic.Int32{}
	For(1000, 10, func(lo, hi int) { calls.Add(1) })
	if got, want := int(calls.Load()), min(Workers(), 100); got != want {
		t.Fatalf("body called %d times, want %d", got, want)
	}
}

// TestForPanic checks that a panic in a worker reaches the caller.
func TestForPanic(t *testing.T) {
	if Workers() < 2 {
		t.Skipf("Workers() = %d: no worker goroutines", Workers())
	}
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v, want boom", r)
		}
	}()
	For(100, 1, func(lo, hi int) {
		if hi == 100 { // the last chunk runs on a worker goroutine
			panic("boom")
		}
	})
	t.Fatal("For returned normally")
}

func TestParseThreads(t *testing.T) {
	for _, c := range []struct {
		in string
		n  int
		ok bool
	}{
		{"", 0, true}, {" ", 0, true}, {"1", 1, true}, {" 4 ", 4, true},
		{"0", 0, false}, {"-2", 0, false}, {"two", 0, false}, {"1.5", 0, false},
	} {
		n, ok := ParseThreads(c.in)
		if n != c.n || ok != c.ok {
			t.Errorf("ParseThreads(%q) = %d, %v; want %d, %v", c.in, n, ok, c.n, c.ok)
		}
	}
}

func TestWorkersDefault(t *testing.T) {
	if envWorkers() == 0 && Workers() != runtime.GOMAXPROCS(0) {
		t.Fatalf("Workers() = %d, want GOMAXPROCS %d", Workers(), runtime.GOMAXPROCS(0))
	}
}

// BenchmarkFor measures the fixed cost of a split call with a trivial body.
func BenchmarkFor(b *testing.B) {
	for _, n := range []int{16, 1 << 10, 1 << 16} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			x := make([]float32, n)
			b.ReportAllocs()
			for b.Loop() {
				For(n, 8, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						x[i] += 1
					}
				})
			}
		})
	}
}
