package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// A Team is a fixed set of goroutines for many short parallel passes in a
// row, such as the two dozen passes of one decoding step: between passes
// its members spin for a short while instead of parking, so a pass starts
// in well under a microsecond where For's fresh goroutine on a sleeping
// thread takes tens of microseconds. Members that see no work for Spin
// park, and cost nothing until the next Run.
//
// A Team serves one Run at a time; a Run that finds it busy (another
// goroutine's Run) falls back to For.
type Team struct {
	n    int
	busy sync.Mutex // held by the Run in progress

	mu       sync.Mutex // guards sleeping and the wake-up of parked members
	cond     *sync.Cond
	sleeping int
	seq      atomic.Uint64 // incremented by each Run
	body     func(member int)
	pending  atomic.Int64 // members still running the current body

	panicMu  sync.Mutex
	panicked bool
	panicVal any
}

// Spin is how long an idle member polls for the next Run before it parks.
const Spin = 200 * time.Microsecond

// NewTeam starts a team of n members (the caller of Run is member 0, so
// n-1 goroutines). n < 1 counts as 1.
func NewTeam(n int) *Team {
	t := &Team{n: max(n, 1)}
	t.cond = sync.NewCond(&t.mu)
	for m := 1; m < t.n; m++ {
		go t.member(m) // seq is 0: the member waits for the first Run
	}
	return t
}

// Size is the number of members, the caller of Run included.
func (t *Team) Size() int { return t.n }

// Run calls body(m) for every member m in [0, Size()) concurrently, body(0)
// on the calling goroutine, and returns when all have returned. A panic in
// any call is re-raised here after the others finish.
func (t *Team) Run(body func(member int)) {
	if t.n == 1 {
		body(0)
		return
	}
	if !t.busy.TryLock() {
		For(t.n, 1, func(lo, hi int) {
			for m := lo; m < hi; m++ {
				body(m)
			}
		})
		return
	}
	defer t.busy.Unlock()
	t.pending.Store(int64(t.n - 1))
	t.mu.Lock()
	t.body = body
	t.seq.Add(1)
	if t.sleeping > 0 {
		t.cond.Broadcast()
	}
	t.mu.Unlock()
	t.call(body, 0)
	for i := 0; t.pending.Load() > 0; i++ {
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
	if t.panicked {
		v := t.panicVal
		t.panicked, t.panicVal = false, nil
		panic(v)
	}
}

// member runs the bodies of successive Runs as member m.
func (t *Team) member(m int) {
	var seen uint64
	for {
		// Poll for the next Run, then park.
		start := time.Now()
		for i := 0; t.seq.Load() == seen; i++ {
			if i%256 == 255 {
				if time.Since(start) > Spin {
					t.mu.Lock()
					for t.seq.Load() == seen {
						t.sleeping++
						t.cond.Wait()
						t.sleeping--
					}
					t.mu.Unlock()
					break
				}
				runtime.Gosched()
			}
		}
		seen = t.seq.Load()
		t.mu.Lock()
		body := t.body
		t.mu.Unlock()
		t.call(body, m)
		t.pending.Add(-1)
	}
}

// call runs body(m), recording the first panic.
func (t *Team) call(body func(int), m int) {
	defer func() {
		if r := recover(); r != nil {
			t.panicMu.Lock()
			if !t.panicked {
				t.panicked, t.panicVal = true, r
			}
			t.panicMu.Unlock()
		}
	}()
	body(m)
}

var shared struct {
	sync.Mutex
	t *Team
}

// Shared returns the process's team of Workers() members, started on first
// use (and again if Workers() changes).
func Shared() *Team {
	shared.Lock()
	defer shared.Unlock()
	if n := Workers(); shared.t == nil || shared.t.n != n {
		shared.t = NewTeam(n)
	}
	return shared.t
}
