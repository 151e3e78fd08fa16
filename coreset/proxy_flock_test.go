//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package coreset

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sparsetune/sparsetune/internal/testmodel"
)

// TestRunAfreshSparesABusyRun: the β search's fresh runs clear an earlier
// run only under its directory's lock; another process's run is refused,
// not deleted.
func TestRunAfreshSparesABusyRun(t *testing.T) {
	dir := t.TempDir()
	c := tinyRun(t, testmodel.Dir(t, true), testmodel.Topic(t, dir, 40), filepath.Join(dir, "run"))
	c.Task, c.Steps = "classification", 2
	old := filepath.Join(c.OutDir, "checkpoint-3")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(c.OutDir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if _, err := runAfresh(c.Config, io.Discard); err == nil || !strings.Contains(err.Error(), "is in use by another process") {
		t.Fatalf("got %v, want the directory in use", err)
	}
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("the busy run's checkpoint: %v", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if _, err := runAfresh(c.Config, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the earlier run's checkpoint survived a fresh run: %v", err)
	}
}
