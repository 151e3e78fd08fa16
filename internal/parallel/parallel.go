package parallel

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// EnvThreads is the environment variable that overrides the worker count.
const EnvThreads = "SPARSETUNE_THREADS"

// envWorkers is SPARSETUNE_THREADS parsed once: the environment does not
// change during a run, and os.Getenv takes a lock that hot loops should not.
var envWorkers = sync.OnceValue(func() int {
	n, _ := ParseThreads(os.Getenv(EnvThreads))
	return n
})

// ParseThreads parses a SPARSETUNE_THREADS value. It returns (0, true) for an
// empty value (not set), (n, true) for a positive integer n and (0, false)
// for anything else, which callers treat as not set.
func ParseThreads(s string) (n int, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

// Workers reports how many goroutines For uses: SPARSETUNE_THREADS when it
// holds a positive integer, else runtime.GOMAXPROCS(0). GOMAXPROCS is read on
// every call because the runtime may change it while the program runs.
func Workers() int {
	if n := envWorkers(); n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// For calls body on consecutive, disjoint sub-ranges [lo, hi) that together
// cover [0, n), running them on up to Workers() goroutines, and returns when
// all calls have returned. When the range is split, every sub-range holds at
// least grain elements (grain < 1 counts as 1), so grain should be the
// smallest amount of work that pays for starting a goroutine (a few
// microseconds). When n < 2*grain, or only one worker is available, body runs
// once, inline, as body(0, n). For n <= 0 body is not called.
//
// body must be safe to call concurrently on disjoint ranges. A panic in any
// call is re-raised on the calling goroutine after the others finish.
func For(n, grain int, body func(lo, hi int)) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	chunks := min(Workers(), n/grain)
	if chunks <= 1 {
		body(0, n)
		return
	}
	run(n, chunks, body)
}

// group is the shared state of one split call. Groups are pooled so that a
// call allocates only the goroutine closures.
type group struct {
	wg       sync.WaitGroup
	mu       sync.Mutex
	panicked bool
	panicVal any
	body     func(lo, hi int)
}

var groups = sync.Pool{New: func() any { return new(group) }}

// run executes chunks ≥ 2 sub-ranges of [0, n); the caller's goroutine takes
// the first so that only chunks-1 goroutines are started.
func run(n, chunks int, body func(lo, hi int)) {
	g := groups.Get().(*group)
	g.body = body
	g.wg.Add(chunks - 1)
	for i := 1; i < chunks; i++ {
		go g.worker(i*n/chunks, (i+1)*n/chunks)
	}
	g.call(0, n/chunks)
	g.wg.Wait()
	panicked, panicVal := g.panicked, g.panicVal
	*g = group{}
	groups.Put(g)
	if panicked {
		panic(panicVal)
	}
}

func (g *group) worker(lo, hi int) {
	defer g.wg.Done()
	g.call(lo, hi)
}

// call runs body on [lo, hi) and records the first panic so that it can be
// re-raised on the caller's goroutine instead of killing the process from a
// worker.
func (g *group) call(lo, hi int) {
	defer func() {
		if r := recover(); r != nil {
			g.mu.Lock()
			if !g.panicked {
				g.panicked, g.panicVal = true, r
			}
			g.mu.Unlock()
		}
	}()
	g.body(lo, hi)
}
