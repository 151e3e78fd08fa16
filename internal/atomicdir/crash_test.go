//go:build unix

package atomicdir

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestCrashAnywhere kills a process with SIGKILL at each step of Replace
// and of Remove, and checks that Recover then leaves the old or the new
// directory under the target's name (never nothing, for Replace) and no
// sibling.
func TestCrashAnywhere(t *testing.T) {
	if point := os.Getenv("ATOMICDIR_CRASH_AT"); point != "" {
		crashHelper(point, os.Getenv("ATOMICDIR_DIR"))
		return
	}
	for _, point := range []string{"filled", "new", "moved", "swapped", "doomed"} {
		for _, existed := range []bool{true, false} {
			parent := t.TempDir()
			dir := filepath.Join(parent, "ck")
			if existed || point == "doomed" {
				writeTree(t, dir, "old")
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashAnywhere$")
			cmd.Env = append(os.Environ(), "ATOMICDIR_CRASH_AT="+point, "ATOMICDIR_DIR="+dir)
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("%s: helper was not killed: %v", point, err)
			}
			if err := Recover(dir); err != nil {
				t.Fatalf("%s: Recover: %v", point, err)
			}
			got := idOf(t, dir)
			switch {
			case point == "doomed":
				if got != "" {
					t.Errorf("killed in Remove: ck holds %q, want it gone", got)
				}
			case point == "filled" || point == "new" && existed:
				// Before the old directory moved aside: the command did
				// not finish, and the old one (or none) stays.
				if want := map[bool]string{true: "old"}[existed]; got != want {
					t.Errorf("killed at %s (existed %v): ck holds %q, want %q", point, existed, got, want)
				}
			case got != "new":
				t.Errorf("killed at %s (existed %v): ck holds %q", point, existed, got)
			}
			want := []string{}
			if got != "" {
				want = []string{"ck"}
			}
			if n := names(t, parent); !slices.Equal(n, want) && !(len(n) == 0 && len(want) == 0) {
				t.Errorf("killed at %s (existed %v): parent holds %q after Recover", point, existed, n)
			}
		}
	}
}

// crashHelper runs in the child process of TestCrashAnywhere.
func crashHelper(point, dir string) {
	crashHook = func(p string) {
		if p == point {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	if point == "doomed" {
		Remove(dir)
	} else {
		Replace(dir, fillID("new"))
	}
	os.Exit(3) // not killed: the parent reports it
}
