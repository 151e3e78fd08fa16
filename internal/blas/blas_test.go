package blas

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestChoose drives backend selection directly with the values the two
// environment variables can take.
func TestChoose(t *testing.T) {
	_, openErr := openBLASForTest()
	haveOpenBLAS := openErr == nil
	if !haveOpenBLAS {
		t.Logf("OpenBLAS cases skipped: %v", openErr)
	}

	for _, v := range []string{"", "auto", " AUTO "} {
		l, err := choose(v, "")
		if err != nil {
			t.Errorf("choose(%q): unexpected error %v", v, err)
		}
		if got, want := l.describe(), map[bool]string{true: OpenBLAS, false: Gonum}[haveOpenBLAS]; !strings.HasPrefix(got, want) {
			t.Errorf("choose(%q) = %s, want %s", v, got, want)
		}
	}

	if l, err := choose("gonum", ""); l != nil || err != nil {
		t.Errorf("choose(gonum) = %v, %v; want gonum, no error", l.describe(), err)
	}

	missing := "/nonexistent/libfoo.so"
	l, err := choose(missing, "")
	if l != nil || err == nil || !strings.HasPrefix(err.Error(), "SPARSETUNE_BLAS=/nonexistent/libfoo.so: cannot load: ") {
		t.Errorf("choose(%q) = %v, %v; want gonum and a 'cannot load' error", missing, l.describe(), err)
	}

	// A library that loads but is not a BLAS.
	l, err = choose("libm.so.6", "")
	if l != nil || err == nil || !strings.Contains(err.Error(), "does not export cblas_sgemm") {
		t.Errorf("choose(libm.so.6) = %v, %v; want a 'does not export' error", l.describe(), err)
	}

	if l, err := choose("gonum", "two"); l != nil || err == nil || !strings.Contains(err.Error(), "SPARSETUNE_THREADS=\"two\"") {
		t.Errorf("choose(gonum, two) = %v, %v; want an error naming SPARSETUNE_THREADS", l.describe(), err)
	}

	l, err = choose("openblas", "")
	if haveOpenBLAS != (err == nil) || (l != nil && l.id != OpenBLAS) {
		t.Errorf("choose(openblas) = %v, %v; OpenBLAS loadable: %v", l.describe(), err, haveOpenBLAS)
	}
	if !haveOpenBLAS && (err == nil || !strings.Contains(err.Error(), "libopenblas.so.0")) {
		t.Errorf("choose(openblas) error %v does not list what was tried", err)
	}

	// A library forced by path, named after the reference BLAS, is
	// recognised as OpenBLAS by its exported symbols (Debian's OpenBLAS
	// package installs such a libblas.so.3).
	if haveOpenBLAS {
		ol, _ := openBLASForTest()
		generic := filepath.Join(filepath.Dir(ol.path), "libblas.so.3")
		if _, err := os.Stat(generic); err == nil {
			before := ol.threads()
			l, err := choose(generic, "1")
			if err != nil || l == nil || l.id != OpenBLAS {
				t.Errorf("choose(%q) = %v, %v; want openblas", generic, l.describe(), err)
			} else if !strings.Contains(l.describe(), "1 thread") {
				t.Errorf("SPARSETUNE_THREADS=1 not applied: %s", l.describe())
			}
			if l != nil {
				// It may be the same copy of OpenBLAS as the
				// package's backend: put the thread count back.
				l.setThreads(before)
			}
		}
	}
}

func TestIDFromName(t *testing.T) {
	for path, want := range map[string]string{
		"/opt/intel/oneapi/mkl/latest/lib/libmkl_rt.so.2": MKL,
		"/usr/lib/x86_64-linux-gnu/libblis.so.4":          BLIS,
		"libopenblas64_.so.0":                             OpenBLAS,
		"/usr/lib/x86_64-linux-gnu/atlas/libcblas.so.3":   CBLAS,
		"/usr/lib/x86_64-linux-gnu/openblas-pthread/x.so": CBLAS, // the directory does not count
	} {
		if got := idFromName(path); got != want {
			t.Errorf("idFromName(%q) = %s, want %s", path, got, want)
		}
	}
}

// helperEnv marks a re-executed test binary that should run TestHelperInit.
const helperEnv = "SPARSETUNE_BLAS_TEST_HELPER"

// TestHelperInit is not a test on its own: TestForcedEnv runs the test
// binary again with it selected and the environment under test, since Init
// reads the environment only once per process.
func TestHelperInit(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper for TestForcedEnv")
	}
	err := Init()
	c := make([]float32, 1)
	Sgemm(false, false, 1, 1, 2, 1, []float32{1, 2}, 2, []float32{3, 4}, 1, 0, c, 1)
	t.Logf("backend=%s result=%v err=%v", Backend(), c[0], err)
}

// TestForcedEnv checks, in child processes, that SPARSETUNE_BLAS forces the
// backend through the public Init, and that a forced library that cannot be
// loaded gives Init's error and falls back to gonum.
func TestForcedEnv(t *testing.T) {
	if os.Getenv(helperEnv) == "1" {
		t.Skip("in helper process")
	}
	_, openErr := openBLASForTest()
	for _, c := range []struct {
		env, wantBackend, wantErr string
		needOpenBLAS              bool
	}{
		{"gonum", "gonum", "<nil>", false},
		{"/nonexistent/libfoo.so", "gonum", "SPARSETUNE_BLAS=/nonexistent/libfoo.so: cannot load:", false},
		{"openblas", "openblas", "<nil>", true},
	} {
		if c.needOpenBLAS && openErr != nil {
			t.Logf("SPARSETUNE_BLAS=%s skipped: %v", c.env, openErr)
			continue
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperInit$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"=1", EnvBLAS+"="+c.env, EnvThreads+"=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("SPARSETUNE_BLAS=%s: helper failed: %v\n%s", c.env, err, out)
		}
		s := string(out)
		if !strings.Contains(s, "backend="+c.wantBackend+" result=11 err="+c.wantErr) {
			t.Errorf("SPARSETUNE_BLAS=%s: want backend=%s, result 11, err %q; helper said:\n%s", c.env, c.wantBackend, c.wantErr, s)
		}
	}
}

func TestSetThreads(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Error("SetThreads(0) did not panic")
		}
	}()
	if Backend() == OpenBLAS {
		before := current.threads()
		SetThreads(1)
		if !strings.Contains(Name(), "1 thread") {
			t.Errorf("after SetThreads(1): Name() = %s", Name())
		}
		SetThreads(before)
	} else {
		SetThreads(1) // must not fail on other backends
	}
	SetThreads(0)
}
