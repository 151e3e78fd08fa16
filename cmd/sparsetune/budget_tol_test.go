package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestBudgetTolUsage: --budget-tol applies only to sparse runs and must be
// a finite number in (0, 1); each refusal is a usage error in one line
// naming the flag.
func TestBudgetTolUsage(t *testing.T) {
	base := []string{"train", "--model", "m", "--train", "d.jsonl"}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"dense run", []string{"--budget-tol", "0.05"}, "--budget-tol applies only to sparse runs"},
		{"NaN", []string{"--target", "0.5", "--budget-tol", "NaN"}, "--budget-tol must be a finite number"},
		{"zero", []string{"--target", "0.5", "--budget-tol", "0"}, "--budget-tol must be in (0, 1)"},
		{"one", []string{"--target", "0.5", "--budget-tol", "1"}, "--budget-tol must be in (0, 1)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append(append([]string{}, base...), c.args...), &out, &errb)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr %q", code, errb.String())
			}
			msg := strings.TrimRight(errb.String(), "\n")
			if strings.Contains(msg, "\n") || !strings.Contains(msg, c.want) {
				t.Errorf("stderr %q, want one line saying %q", msg, c.want)
			}
		})
	}
}
