//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package train

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sparsetune/sparsetune/internal/testmodel"
)

// holdLock flocks dir's lock file through an open file of its own, as
// another process holding the run would, with holder details.
func holdLock(t *testing.T, dir string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"pid":4242,"host":"","started":"2026-12-07T18:01:02Z","command":["sparsetune","train"]}`); err != nil {
		t.Fatal(err)
	}
}

// TestRunRefusesBusyDir: a run, fresh or resumed, into a directory another
// process holds fails in one line naming the holder, and changes nothing.
func TestRunRefusesBusyDir(t *testing.T) {
	dir := t.TempDir()
	c := tinyRun(t, testmodel.Dir(t, true), testmodel.Topic(t, dir, 40), filepath.Join(dir, "run"))
	c.Task = TaskClassification
	runCut(t, c, 4)
	before := dirState(t, c.OutDir)
	holdLock(t, c.OutDir)
	want := "run directory " + c.OutDir + " is in use by pid 4242 (sparsetune train, started 2026-12-07T18:01:02Z); wait for it or choose another --out-dir"
	c.Resume = true
	if _, err := Run(c, io.Discard); err == nil || err.Error() != want {
		t.Errorf("resume: got  %v\nwant %s", err, want)
	}
	fresh := c
	fresh.OutDir, fresh.Resume = filepath.Join(dir, "fresh"), false
	os.MkdirAll(fresh.OutDir, 0o755)
	holdLock(t, fresh.OutDir)
	want = "run directory " + fresh.OutDir + " is in use by pid 4242 (sparsetune train, started 2026-12-07T18:01:02Z); wait for it or choose another --out-dir"
	if _, err := Run(fresh, io.Discard); err == nil || err.Error() != want {
		t.Errorf("fresh: got  %v\nwant %s", err, want)
	}
	sameState(t, "refused run", before, dirState(t, c.OutDir))
	if HoldsRun(fresh.OutDir) {
		t.Error("the refused fresh run wrote into the directory")
	}
}

// TestHardenRefusesBusyRun: hardening into a run directory that another
// process holds (the run itself, still training) is refused in one line,
// before anything is loaded or written; into a directory that holds no
// run it takes no lock.
func TestHardenRefusesBusyRun(t *testing.T) {
	dir := t.TempDir()
	c := sparseRun(t, dir)
	if _, err := Run(c, io.Discard); err != nil {
		t.Fatal(err)
	}
	holdLock(t, c.OutDir)
	out := filepath.Join(c.OutDir, "sparse-0.4")
	_, err := LockEnclosingRun(out) // what sparsetune harden takes before it loads anything
	want := "run directory " + c.OutDir + " is in use by pid 4242 (sparsetune train, started 2026-12-07T18:01:02Z); wait for it or choose another --out"
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the refused hardening wrote %s: %v", out, err)
	}
	release, err := lockEnclosingRun(filepath.Join(dir, "elsewhere", "sparse"), "--out")
	if err != nil {
		t.Fatal(err)
	}
	release()
	if _, err := os.Stat(filepath.Join(dir, "elsewhere")); !os.IsNotExist(err) {
		t.Errorf("a lock outside any run created %s", filepath.Join(dir, "elsewhere"))
	}
}
