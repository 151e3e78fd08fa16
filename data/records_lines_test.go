package data

import (
	"fmt"
	"testing"
)

// TestLines: lines are numbered as an editor numbers them (blank ones
// count), a CRLF line keeps its '\r', a last line without '\n' is yielded
// and a final '\n' adds no empty line; breaking out stops the walk.
func TestLines(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"", ""},
		{"a", "1:a "},
		{"a\n", "1:a "},
		{"a\n\nb\r\nc", "1:a 2: 3:b\r 4:c "},
		{"\n\n", "1: 2: "},
	} {
		got := ""
		for n, l := range Lines([]byte(tc.in)) {
			got += fmt.Sprintf("%d:%s ", n, l)
		}
		if got != tc.want {
			t.Errorf("Lines(%q) gave %q, want %q", tc.in, got, tc.want)
		}
	}
	seen := 0
	for range Lines([]byte("a\nb\nc\n")) {
		seen++
		break
	}
	if seen != 1 {
		t.Fatalf("a break after the first line saw %d lines", seen)
	}
}

// TestCanonicalInteger: every spelling of an integer gives its decimal
// string; fractions, values past 2^53 and non-numbers are errors.
func TestCanonicalInteger(t *testing.T) {
	for in, want := range map[string]string{"3": "3", "3.0": "3", "3e0": "3", "-0": "0", "-12": "-12", "9007199254740992": "9007199254740992"} {
		if got, err := CanonicalInteger(in); err != nil || got != want {
			t.Errorf("CanonicalInteger(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"0.5", "1e300", "9007199254740993.5", "x", ""} {
		if got, err := CanonicalInteger(in); err == nil {
			t.Errorf("CanonicalInteger(%q) = %q, want an error", in, got)
		}
	}
}
