package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/internal/vec"
)

// TestInfoNamesKernels: info says which kernel level the engine runs at.
func TestInfoNamesKernels(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"info"}, &out, &errb); code != 0 {
		t.Fatalf("info exit %d: %s", code, errb.String())
	}
	want := "kernels: " + vec.Kernels().String() + " "
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, want) {
			return
		}
	}
	t.Fatalf("info printed no %q line:\n%s", want, out.String())
}
