package blas

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/sparsetune/sparsetune/internal/parallel"
)

// EnvBLAS is the environment variable that selects the backend; see the
// package documentation for its values.
const EnvBLAS = "SPARSETUNE_BLAS"

// EnvThreads is the environment variable that sets the library's thread
// count. It is shared with package parallel so that one setting controls all
// CPU parallelism of a run.
const EnvThreads = parallel.EnvThreads

// Backend ids returned by Backend.
const (
	OpenBLAS = "openblas" // OpenBLAS, found by name or detected from a path
	MKL      = "mkl"      // Intel oneMKL through its single dynamic library libmkl_rt
	BLIS     = "blis"     // AMD/FLAME BLIS with its CBLAS layer
	CBLAS    = "cblas"    // any other library exporting cblas_sgemm and cblas_dgemm
	Gonum    = "gonum"    // gonum's pure-Go BLAS; no library loaded
)

// library is a loaded CBLAS library. A nil *library means gonum.
type library struct {
	id   string // one of the backend ids above, never Gonum
	path string // file the library was mapped from, or the name given to dlopen
	info string // library's own description (version, kernel set), may be empty

	// sgemm and dgemm are cblas_sgemm and cblas_dgemm; C int is int32 on
	// every LP64 platform, and this package loads only LP64 (not ILP64)
	// libraries: libopenblas64 / libmkl_rt with MKL_INTERFACE_LAYER=ILP64
	// would read garbage sizes.
	sgemm func(order, transA, transB, m, n, k int32, alpha float32, a *float32, lda int32, b *float32, ldb int32, beta float32, c *float32, ldc int32)
	dgemm func(order, transA, transB, m, n, k int32, alpha float64, a *float64, lda int32, b *float64, ldb int32, beta float64, c *float64, ldc int32)

	setThreads func(n int) // nil when the library exports no thread setter
	threads    func() int  // nil when unknown; may return < 1 when unknown
}

var (
	initOnce sync.Once
	current  *library // chosen backend; nil is gonum
	initErr  error    // why the forced backend is not in use, or a bad SPARSETUNE_THREADS
)

// Init selects the backend from SPARSETUNE_BLAS and SPARSETUNE_THREADS. It
// does the work once; later calls (and the lazy call made by the first
// multiply) return the same result. The error is non-nil only when the
// environment asked for something that cannot be honoured: a forced library
// that cannot be loaded (the package then uses gonum), or a
// SPARSETUNE_THREADS that is not a positive integer (ignored). Either way
// the package goes on with the fallback, so the error is a warning, on one
// line: programs should call Init at start-up, print it and go on.
func Init() error {
	initOnce.Do(func() {
		current, initErr = choose(os.Getenv(EnvBLAS), os.Getenv(EnvThreads))
	})
	return initErr
}

// lib returns the chosen backend, choosing it on first use.
func lib() *library {
	_ = Init()
	return current
}

// Backend returns the short id of the backend in use: "openblas", "mkl",
// "blis", "cblas" (another library given by path) or "gonum".
func Backend() string {
	l := lib()
	if l == nil {
		return Gonum
	}
	return l.id
}

// Name describes the backend in use for logs, e.g.
// "openblas (/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so, 2 threads, OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64)"
// or "gonum (pure Go)".
func Name() string {
	return lib().describe()
}

func (l *library) describe() string {
	if l == nil {
		return "gonum (pure Go)"
	}
	parts := []string{l.path}
	if l.threads != nil {
		if n := l.threads(); n == 1 {
			parts = append(parts, "1 thread")
		} else if n > 1 {
			parts = append(parts, fmt.Sprintf("%d threads", n))
		}
	}
	if l.info != "" {
		parts = append(parts, l.info)
	}
	return fmt.Sprintf("%s (%s)", l.id, strings.Join(parts, ", "))
}

// SetThreads sets the library's thread count, where the library exposes one
// (openblas_set_num_threads, MKL_Set_Num_Threads, bli_thread_set_num_threads);
// it does nothing for gonum or a library without a known setter. Call it
// before starting multiplies: libraries do not promise that changing the
// count while another goroutine multiplies is safe. It panics if n < 1.
func SetThreads(n int) {
	if n < 1 {
		panic(fmt.Sprintf("blas: SetThreads(%d): thread count must be at least 1", n))
	}
	if l := lib(); l != nil && l.setThreads != nil {
		l.setThreads(n)
	}
}

// choose resolves the values of SPARSETUNE_BLAS and SPARSETUNE_THREADS to a
// backend. It is Init without the environment and the once, for tests.
func choose(blasEnv, threadsEnv string) (*library, error) {
	var errs []error
	want := strings.TrimSpace(blasEnv)
	var l *library
	switch key := strings.ToLower(want); key {
	case "", "auto":
		l, _ = openKnown(OpenBLAS) // absence of OpenBLAS is normal: use gonum silently
	case Gonum:
	case OpenBLAS, MKL, BLIS:
		var err error
		if l, err = openKnown(key); err != nil {
			errs = append(errs, forcedErr(want, err))
		}
	default:
		var err error
		if l, err = open(want); err != nil {
			errs = append(errs, forcedErr(want, err))
		}
	}
	n, ok := parallel.ParseThreads(threadsEnv)
	if !ok {
		errs = append(errs, fmt.Errorf("%s=%q: want a positive integer; using the library's default thread count", EnvThreads, threadsEnv))
	}
	if n > 0 && l != nil && l.setThreads != nil {
		l.setThreads(n)
	}
	return l, joinLine(errs)
}

// joinLine joins errs into one error on one line (nil when there are
// none): each problem is a warning the program prints and goes on.
func joinLine(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

func forcedErr(want string, err error) error {
	return fmt.Errorf("%s=%s: cannot load: %w (using gonum pure-Go BLAS instead)", EnvBLAS, want, err)
}
