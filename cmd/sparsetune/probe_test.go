package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestProbeScript runs scripts/probe.sh, the CLI's acceptance probe: every
// class of bad input, usage mistake and data-loss hazard it knows, each
// judged by exit code, one stderr line, no stack trace and (where data
// could be lost) every pre-existing file intact. It builds and runs the
// real binary, so it is skipped with -short.
func TestProbeScript(t *testing.T) {
	if testing.Short() {
		t.Skip("the probe builds the binary and runs it about seventy times (a minute or two); skipped with -short")
	}
	for _, tool := range []string{"bash", "go", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("scripts/probe.sh needs %s on PATH: %v", tool, err)
		}
	}
	out, err := exec.Command("bash", "../../scripts/probe.sh").CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	if err != nil || !regexp.MustCompile(`^[1-9][0-9]* passed, 0 failed$`).MatchString(last) {
		t.Fatalf("scripts/probe.sh: %v\n%s", err, out)
	}
	t.Log(last)
}
