package runlock

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNestedAcquireSharesTheLock: a directory this process holds can be
// acquired again, under another spelling of its path too, and the lock
// stays held until the last Lock is released.
func TestNestedAcquireSharesTheLock(t *testing.T) {
	dir := t.TempDir()
	a, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Acquire(filepath.Join(dir, ".", "") + "/")
	if err != nil {
		t.Fatalf("nested acquire: %v", err)
	}
	if len(held) != 1 {
		t.Fatalf("%d lock files held, want 1 shared by both", len(held))
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(); err != nil { // twice: no effect on b
		t.Fatal(err)
	}
	if len(held) != 1 {
		t.Fatal("releasing one of two nested locks dropped the lock")
	}
	if err := b.Release(); err != nil {
		t.Fatal(err)
	}
	if len(held) != 0 {
		t.Fatal("the last release kept the lock")
	}
}

// TestAcquireWritesHolder: the lock file names this process.
func TestAcquireWritesHolder(t *testing.T) {
	dir := t.TempDir()
	// A stale file from a dead holder, longer than the new contents.
	stale := `{"pid": 999999999, "host": "elsewhere", "command": ["` + strings.Repeat("x", 500) + `"]}`
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("a stale lock file blocked: %v", err)
	}
	defer l.Release()
	f, err := os.Open(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := readHolder(f)
	host, _ := os.Hostname()
	if h.PID != os.Getpid() || h.Host != host || h.Started.IsZero() || len(h.Command) == 0 {
		t.Fatalf("lock file says %+v, want this process (pid %d on %s)", h, os.Getpid(), host)
	}
}

func TestAcquireMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "absent")
	_, err := Acquire(dir)
	var busy *BusyError
	if err == nil || errors.As(err, &busy) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("got %v, want an error naming %s", err, dir)
	}
}

func TestBusyErrorMessage(t *testing.T) {
	started := time.Date(2026, 12, 7, 18, 1, 2, 0, time.UTC)
	host, _ := os.Hostname()
	for _, c := range []struct {
		h    Holder
		want string
	}{
		{Holder{}, "run directory R is in use by another process"},
		{Holder{PID: 1234, Host: host, Started: started, Command: []string{"/usr/bin/sparsetune", "train", "--out-dir", "R"}},
			"run directory R is in use by pid 1234 (sparsetune train, started 2026-12-07T18:01:02Z)"},
		{Holder{PID: 7, Host: "gpu7." + host, Command: []string{"sparsetune", "--help"}},
			"run directory R is in use by pid 7 on gpu7." + host + " (sparsetune)"},
	} {
		if got := (&BusyError{Dir: "R", Holder: c.h}).Error(); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}
