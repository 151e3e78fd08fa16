// Package parallel splits loops across goroutines for the hand-written
// kernels (elementwise ops, norms, attention) that gorgonia runs on a single
// goroutine.
//
// The worker count is read from SPARSETUNE_THREADS, the same variable that
// sets the BLAS library's thread count (see internal/blas), so one setting
// controls all CPU parallelism of a run. Without it, Workers is
// runtime.GOMAXPROCS(0).
//
// For is meant for hot paths: it runs the body inline when the range is too
// small to be worth splitting, uses the calling goroutine for one chunk, and
// allocates only what starting the other goroutines needs.
package parallel
