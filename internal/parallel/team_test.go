package parallel

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestTeamRunsEveryMember(t *testing.T) {
	for _, n := range []int{1, 2, 3, 8} {
		tm := NewTeam(n)
		if tm.Size() != n {
			t.Fatalf("Size() = %d, want %d", tm.Size(), n)
		}
		for run := 0; run < 500; run++ {
			hits := make([]int32, n)
			tm.Run(func(m int) { atomic.AddInt32(&hits[m], 1) })
			for m, h := range hits {
				if h != 1 {
					t.Fatalf("n=%d run %d: member %d ran %d times", n, run, m, h)
				}
			}
			if run == 250 {
				time.Sleep(2 * Spin) // let the members park, then wake them
			}
		}
	}
}

func TestTeamResultsVisible(t *testing.T) {
	tm := NewTeam(4)
	out := make([]int, 4)
	for i := 0; i < 1000; i++ {
		tm.Run(func(m int) { out[m] = i*10 + m })
		for m, v := range out {
			if v != i*10+m {
				t.Fatalf("run %d: member %d's write not visible (%d)", i, m, v)
			}
		}
	}
}

func TestTeamPanicReraised(t *testing.T) {
	tm := NewTeam(3)
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v, want boom", r)
		}
		// The team still works after a panic.
		var c atomic.Int32
		tm.Run(func(int) { c.Add(1) })
		if c.Load() != 3 {
			t.Fatalf("after a panic %d members ran", c.Load())
		}
	}()
	tm.Run(func(m int) {
		if m == 2 {
			panic("boom")
		}
	})
}

func TestTeamConcurrentRunsFallBack(t *testing.T) {
	tm := NewTeam(2)
	var total atomic.Int64
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				tm.Run(func(int) { total.Add(1) })
			}
			done <- struct{}{}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	if total.Load() != 4*200*2 {
		t.Fatalf("%d member calls, want %d", total.Load(), 4*200*2)
	}
}
