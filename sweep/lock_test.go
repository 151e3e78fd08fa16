//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sweep

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRunJobRefusesBusyJob: a job whose directory another process holds
// (the same --index started twice) fails in one line naming the holder
// and writes nothing into the job directory.
func TestRunJobRefusesBusyJob(t *testing.T) {
	p := tinyPlan(t)
	dir := filepath.Join(t.TempDir(), "sweep")
	must(t, WritePlan(dir, p))
	jdir := filepath.Join(dir, DenseJob)
	must(t, os.MkdirAll(jdir, 0o755))
	f, err := os.OpenFile(filepath.Join(jdir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	must(t, err)
	defer f.Close()
	must(t, unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB))
	_, err = f.WriteString(`{"pid":4242,"command":["sparsetune","sweep"]}`)
	must(t, err)

	var log strings.Builder
	err = RunJob(dir, p, 0, &log)
	want := DenseJob + ": run directory " + jdir + " is in use by pid 4242 (sparsetune sweep); wait for it or choose another --out-dir"
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if _, err := os.Stat(filepath.Join(jdir, LogFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the refused job wrote its log: %v", err)
	}
	if log.Len() > 0 {
		t.Errorf("the refused job logged:\n%s", log.String())
	}
}
