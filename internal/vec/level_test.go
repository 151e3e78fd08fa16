package vec

import (
	"strings"
	"testing"
)

// TestChooseLevel: EnvVar picks any supported level by name (any case,
// spaces trimmed); an empty value picks the best; an unknown name or a
// level the CPU lacks falls back to the best with one warning line that
// names the value.
func TestChooseLevel(t *testing.T) {
	if l, w := chooseLevel(""); l != Best() || w != "" {
		t.Fatalf(`chooseLevel("") = %v, %q; want %v, no warning`, l, w, Best())
	}
	for _, l := range Levels {
		got, w := chooseLevel(" " + strings.ToUpper(l.String()) + "\n")
		switch {
		case Supported(l) && (got != l || w != ""):
			t.Fatalf("chooseLevel(%s) = %v, %q; want %v, no warning", l, got, w, l)
		case !Supported(l) && (got != Best() || !strings.Contains(w, "lacks "+l.String())):
			t.Fatalf("chooseLevel(%s) on a CPU without it = %v, %q; want %v and a warning", l, got, w, Best())
		}
	}
	for _, bad := range []string{"avx", "sse", "512", "avx2,avx512"} {
		got, w := chooseLevel(bad)
		if got != Best() || !strings.Contains(w, bad) || strings.Contains(w, "\n") {
			t.Fatalf("chooseLevel(%q) = %v, %q; want %v and a one-line warning naming it", bad, got, w, Best())
		}
	}
	if !Supported(Scalar) || Best() < Scalar {
		t.Fatal("the scalar level must always be supported")
	}
	if Level(7).String() != "Level(7)" {
		t.Fatalf("Level(7).String() = %q", Level(7).String())
	}
}

// TestSetKernels: SetKernels switches to a supported level and reports the
// one before, and refuses a level this machine lacks.
func TestSetKernels(t *testing.T) {
	start := Kernels()
	defer SetKernels(start)
	for _, l := range Levels {
		prev, err := SetKernels(l)
		switch {
		case Supported(l) && (err != nil || Kernels() != l):
			t.Fatalf("SetKernels(%s): %v, now %s", l, err, Kernels())
		case !Supported(l) && (err == nil || Kernels() != prev):
			t.Fatalf("SetKernels(%s) on a CPU without it: %v, now %s", l, err, Kernels())
		}
	}
	if _, err := SetKernels(Level(9)); err == nil {
		t.Fatal("SetKernels(Level(9)) succeeded")
	}
}
