//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package runlock

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The test binary doubles as a second process: with RUNLOCK_HELPER set it
// acts on the directory RUNLOCK_DIR instead of running the tests.
//
//	hold: acquire, print "held", keep the lock until stdin closes
//	try:  acquire and print "ok", or "busy <pid>" naming the holder
func TestMain(m *testing.M) {
	switch os.Getenv("RUNLOCK_HELPER") {
	case "":
		os.Exit(m.Run())
	case "hold":
		l, err := Acquire(os.Getenv("RUNLOCK_DIR"))
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("held")
		io.Copy(io.Discard, os.Stdin)
		l.Release()
	case "try":
		l, err := Acquire(os.Getenv("RUNLOCK_DIR"))
		var busy *BusyError
		switch {
		case errors.As(err, &busy):
			fmt.Println("busy", busy.Holder.PID)
		case err != nil:
			fmt.Println(err)
		default:
			fmt.Println("ok")
			l.Release()
		}
	}
	os.Exit(0)
}

func helper(t *testing.T, mode, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RUNLOCK_HELPER="+mode, "RUNLOCK_DIR="+dir)
	return cmd
}

// holder starts a second process holding dir's lock; closing the returned
// writer lets it release and exit.
func holder(t *testing.T, dir string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := helper(t, "hold", dir)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "held\n" {
		t.Fatalf("helper: %q %v", line, err)
	}
	return cmd, in
}

// try asks a second process to acquire dir: "ok" or "busy <pid>".
func try(t *testing.T, dir string) string {
	t.Helper()
	out, err := helper(t, "try", dir).Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestSecondProcessIsRefused: while one process holds a directory, another
// gets a BusyError naming the holder's pid; once it exits, the lock is free.
func TestSecondProcessIsRefused(t *testing.T) {
	dir := t.TempDir()
	cmd, in := holder(t, dir)
	_, err := Acquire(dir)
	var busy *BusyError
	if !errors.As(err, &busy) || busy.Holder.PID != cmd.Process.Pid {
		t.Fatalf("acquire while pid %d holds it: %v", cmd.Process.Pid, err)
	}
	if msg := err.Error(); !strings.Contains(msg, fmt.Sprintf("in use by pid %d", cmd.Process.Pid)) || !strings.Contains(msg, dir) || strings.Contains(msg, "\n") {
		t.Fatalf("message %q: want one line naming %s and pid %d", msg, dir, cmd.Process.Pid)
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("after the holder exited: %v", err)
	}
	l.Release()
}

// TestKilledHolderDoesNotBlock: a holder killed without releasing leaves
// its lock file, which blocks nobody.
func TestKilledHolderDoesNotBlock(t *testing.T) {
	dir := t.TempDir()
	cmd, _ := holder(t, dir)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	var h Holder
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil || json.Unmarshal(b, &h) != nil || h.PID != cmd.Process.Pid {
		t.Fatalf("the killed holder's lock file: %q %v", b, err)
	}
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("a dead holder's lock file blocked: %v", err)
	}
	l.Release()
}

// TestThisProcessBlocksOthers: the locks this process holds, nested or
// not, refuse another process until the last is released.
func TestThisProcessBlocksOthers(t *testing.T) {
	dir := t.TempDir()
	a, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint("busy ", os.Getpid())
	if got := try(t, dir); got != want {
		t.Fatalf("another process while this one holds the lock: %q, want %q", got, want)
	}
	a.Release()
	if got := try(t, dir); got != want {
		t.Fatalf("after releasing one of two nested locks: %q, want %q", got, want)
	}
	b.Release()
	if got := try(t, dir); got != "ok" {
		t.Fatalf("after releasing both: %q, want ok", got)
	}
}

// TestTwoOpenFilesConflict: flock belongs to the open file description, so
// a lock taken through another open of the file (as another process's
// would be) refuses Acquire even within this process.
func TestTwoOpenFilesConflict(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir)
	var busy *BusyError
	if !errors.As(err, &busy) || err.Error() != "run directory "+dir+" is in use by another process" {
		t.Fatalf("got %v, want a BusyError without holder details", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
}

// TestReplacedLockFile: a lock file removed and created anew while held
// (by hand, say) does not let two processes in: Acquire locks the file
// the path names now.
func TestReplacedLockFile(t *testing.T) {
	dir := t.TempDir()
	cmd, _ := holder(t, dir)
	path := filepath.Join(dir, FileName)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(dir) // the holder's file is gone: the new one is free
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if got := try(t, dir); got != fmt.Sprint("busy ", os.Getpid()) {
		t.Fatalf("a third process: %q, want busy %d (holder pid %d)", got, os.Getpid(), cmd.Process.Pid)
	}
}
