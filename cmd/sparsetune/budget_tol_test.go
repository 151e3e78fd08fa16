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
		t.Run(c.name, func(t *testing.T) { wantUsage(t, append(append([]string{}, base...), c.args...), c.want) })
	}
}

// wantUsage runs the command line args and checks that it is refused as a
// usage error: exit code 2 and one line on stderr that says want.
func wantUsage(t *testing.T, args []string, want string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(args, &out, &errb); code != 2 {
		t.Fatalf("exit %d, want 2; stderr %q", code, errb.String())
	}
	msg := strings.TrimRight(errb.String(), "\n")
	if strings.Contains(msg, "\n") || !strings.Contains(msg, want) {
		t.Errorf("stderr %q, want one line saying %q", msg, want)
	}
}
