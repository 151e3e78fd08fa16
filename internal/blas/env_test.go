package blas

import (
	"strings"
	"testing"
)

// TestBadEnvironmentFallsBackInOneLine: a library that cannot be loaded and
// a malformed thread count are one warning line, with gonum in use.
func TestBadEnvironmentFallsBackInOneLine(t *testing.T) {
	l, err := choose("/nonexistent/libnothing.so", "two")
	if l != nil {
		t.Fatalf("backend %s, want gonum", l.id)
	}
	if err == nil || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want one warning line, got %q", err)
	}
	for _, w := range []string{EnvBLAS, "using gonum", EnvThreads, `"two"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("warning %q does not say %q", err, w)
		}
	}
	if _, err := choose("gonum", "3"); err != nil {
		t.Errorf("a valid environment: %v", err)
	}
}
