package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCoresetCommand checks the coreset command's contract: usage errors
// exit 2, data errors 1 with one line, a selection prints its JSON report.
// Random selection needs no model, so the cases run without training.
func TestCoresetCommand(t *testing.T) {
	dir := t.TempDir()
	var good, dup strings.Builder
	for i := range 10 {
		fmt.Fprintf(&good, "{\"id\": \"e%d\", \"text\": \"example %d\", \"label\": \"%d\"}\n", i, i, i%2)
		fmt.Fprintf(&dup, "{\"id\": \"same\", \"text\": \"example %d\", \"label\": \"%d\"}\n", i, i%2)
	}
	data, dupData := filepath.Join(dir, "d.jsonl"), filepath.Join(dir, "dup.jsonl")
	os.WriteFile(data, []byte(good.String()), 0o644)
	os.WriteFile(dupData, []byte(dup.String()), 0o644)
	out := filepath.Join(dir, "sub.jsonl")
	sel := func(extra ...string) []string {
		return append([]string{"coreset", "--data", data, "--out", out, "--method", "random"}, extra...)
	}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"coreset", "--help"}, 0, "--ratio"},
		{[]string{"coreset", "--data", data}, 2, "--data, --out, --method and --ratio are required"},
		{sel("--ratio", "0"), 2, "ratio 0 outside (0, 1]"},
		{sel("--ratio", "1.5"), 2, "ratio 1.5 outside (0, 1]"},
		{sel("--ratio", "0.5", "--method", "best"), 2, `method "best"`},
		{sel("--ratio", "0.5", "--score", "loss"), 2, `unknown score "loss"`},
		{sel("--ratio", "0.5", "--method", "ccs"), 2, "give a model"},
		{[]string{"coreset", "--data", filepath.Join(dir, "missing.jsonl"), "--out", out, "--method", "random", "--ratio", "0.5"}, 1, "missing.jsonl"},
		{sel("--ratio", "0.3"), 0, `"selected":3`},
		{[]string{"coreset", "--data", dupData, "--out", out, "--method", "random", "--ratio", "0.5"}, 0, `duplicate id`},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(c.args, &stdout, &stderr)
		all := stdout.String() + stderr.String()
		if code != c.code || !strings.Contains(all, c.want) {
			t.Errorf("%v: exit %d, want %d with %q; output %q", c.args[1:], code, c.code, c.want, all)
		}
		if strings.Contains(all, "goroutine ") || strings.Contains(all, "panic:") {
			t.Errorf("%v: stack trace in output: %q", c.args, all)
		}
		if c.code == 1 && strings.Count(strings.TrimSpace(stderr.String()), "\n") > 0 && !strings.Contains(stderr.String(), "blas:") {
			t.Errorf("%v: run error spans several lines: %q", c.args, stderr.String())
		}
	}
}
