package blas

// Threads returns the library's current thread count, or 1 when it cannot
// tell (gonum, or a library without a query function).
func Threads() int {
	if l := lib(); l != nil && l.threads != nil {
		if n := l.threads(); n >= 1 {
			return n
		}
	}
	return 1
}

// Serial runs f with the library limited to one thread, for callers that
// parallelise many small GEMMs across goroutines themselves: nested
// threading would make the library's workers fight the callers'.
func Serial(f func()) {
	n := Threads()
	if n > 1 {
		SetThreads(1)
		defer SetThreads(n)
	}
	f()
}
