//go:build (linux || darwin) && (amd64 || arm64)

package blas

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/ebitengine/purego"
)

// open loads a CBLAS library with dlopen, binds cblas_sgemm and cblas_dgemm
// and recognises the library by its thread-control symbols. A library that
// fails is not dlclosed: it may already have started threads from its
// constructors, and unloading such code is a known source of crashes.
func open(path string) (*library, error) {
	// OpenBLAS's idle worker threads spin for about 2^28 cycles after each
	// call before they sleep; between our products the cores run our own
	// parallel loops (norms, activations, softmax), which the spinning
	// threads slow down. 2^4 makes them sleep at once: a 16×128 forward
	// pass of a d 512, 8-layer GPT-2 on 2 cores takes 1.06 s instead of
	// 1.32 s. OpenBLAS reads the variable when it loads; a value the user
	// set wins.
	if _, set := os.LookupEnv("OPENBLAS_THREAD_TIMEOUT"); !set {
		setenvC("OPENBLAS_THREAD_TIMEOUT", "4")
	}
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, err
	}
	sgemm, err := purego.Dlsym(h, "cblas_sgemm")
	if err != nil {
		return nil, fmt.Errorf("%s loads but does not export cblas_sgemm (a Fortran-only BLAS? point %s at its CBLAS library)", path, EnvBLAS)
	}
	dgemm, err := purego.Dlsym(h, "cblas_dgemm")
	if err != nil {
		return nil, fmt.Errorf("%s loads but does not export cblas_dgemm", path)
	}
	l := &library{id: CBLAS, path: path}
	if p := mappedFile(sgemm); p != "" {
		l.path = p
	}
	purego.RegisterFunc(&l.sgemm, sgemm)
	purego.RegisterFunc(&l.dgemm, dgemm)
	identify(l, h)
	return l, nil
}

// identify sets the id, thread control and description of l from the
// symbols that each library exports, falling back to the file name.
func identify(l *library, h uintptr) {
	sym := func(name string) uintptr {
		p, err := purego.Dlsym(h, name)
		if err != nil {
			return 0
		}
		return p
	}
	if p := sym("openblas_set_num_threads"); p != 0 {
		l.id = OpenBLAS
		var set func(int32)
		purego.RegisterFunc(&set, p)
		l.setThreads = func(n int) { set(int32(n)) }
		if p := sym("openblas_get_num_threads"); p != 0 {
			var get func() int32
			purego.RegisterFunc(&get, p)
			l.threads = func() int { return int(get()) }
		}
		if p := sym("openblas_get_config"); p != 0 {
			var cfg func() string
			purego.RegisterFunc(&cfg, p)
			l.info = strings.TrimSpace(cfg())
		}
		return
	}
	if p := sym("MKL_Set_Num_Threads"); p != 0 {
		l.id = MKL
		var set func(int32)
		purego.RegisterFunc(&set, p)
		l.setThreads = func(n int) { set(int32(n)) }
		if p := sym("MKL_Get_Max_Threads"); p != 0 {
			var get func() int32
			purego.RegisterFunc(&get, p)
			l.threads = func() int { return int(get()) }
		}
		return
	}
	if p := sym("bli_thread_set_num_threads"); p != 0 {
		// BLIS's dim_t is 64 bits in every standard build.
		l.id = BLIS
		var set func(int64)
		purego.RegisterFunc(&set, p)
		l.setThreads = func(n int) { set(int64(n)) }
		if p := sym("bli_thread_get_num_threads"); p != 0 {
			var get func() int64
			purego.RegisterFunc(&get, p)
			l.threads = func() int { return int(get()) } // -1 until set: describe omits it
		}
		if p := sym("bli_info_get_version_str"); p != 0 {
			var ver func() string
			purego.RegisterFunc(&ver, p)
			l.info = "BLIS " + ver()
		}
		return
	}
	l.id = idFromName(l.path)
}

// mappedFile returns the file whose mapping holds addr, from
// /proc/self/maps, so that Name reports the real file behind a soname or a
// symlink. It returns "" where /proc is not available.
func mappedFile(addr uintptr) string {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		// address perms offset dev inode path, e.g.
		// 7f1c2a000000-7f1c2b000000 r-xp 00100000 08:01 1234 /usr/lib/libopenblas.so.0
		fields := strings.Fields(s.Text())
		if len(fields) < 6 {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 == nil && err2 == nil && uint64(addr) >= start && uint64(addr) < end {
			return strings.Join(fields[5:], " ")
		}
	}
	return ""
}

// setenvC sets a variable in the C library's environment, which is what a
// loaded library reads (without cgo, os.Setenv changes only Go's copy). It
// does nothing when libc cannot be found.
func setenvC(name, value string) {
	libc, err := purego.Dlopen("libc.so.6", purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return
	}
	sym, err := purego.Dlsym(libc, "setenv")
	if err != nil {
		return
	}
	var setenv func(name, value string, overwrite int32) int32
	purego.RegisterFunc(&setenv, sym)
	setenv(name, value, 0)
}
