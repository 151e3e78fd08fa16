package runlock

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// FileName is the lock file inside a run directory.
const FileName = ".lock"

// Holder is what the lock file says about the process holding it.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Started time.Time `json:"started"` // when the holder took the lock
	Command []string  `json:"command"` // the holder's os.Args
}

// BusyError is the error of Acquire when another process holds the lock.
type BusyError struct {
	Dir    string
	Holder Holder // zero when the holder has not written its details yet
}

func (e *BusyError) Error() string {
	h := e.Holder
	if h.PID == 0 {
		return fmt.Sprintf("run directory %s is in use by another process", e.Dir)
	}
	who := fmt.Sprintf("pid %d", h.PID)
	if host, _ := os.Hostname(); h.Host != "" && h.Host != host {
		who += " on " + h.Host
	}
	var what []string
	if cmd := commandName(h.Command); cmd != "" {
		what = append(what, cmd)
	}
	if !h.Started.IsZero() {
		what = append(what, "started "+h.Started.UTC().Format(time.RFC3339))
	}
	if len(what) > 0 {
		who += " (" + strings.Join(what, ", ") + ")"
	}
	return fmt.Sprintf("run directory %s is in use by %s", e.Dir, who)
}

// commandName is the program and its subcommand ("sparsetune train").
func commandName(args []string) string {
	if len(args) == 0 {
		return ""
	}
	name := filepath.Base(args[0])
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		name += " " + args[1]
	}
	return name
}

// Lock is a held run-directory lock. Release it when the writing is done.
type Lock struct {
	e    *entry
	once sync.Once
}

// entry is one lock file this process holds, shared by nested Acquires.
type entry struct {
	key  fileKey
	f    *os.File
	refs int
}

var (
	mu   sync.Mutex
	held = map[fileKey]*entry{}
)

// Acquire locks run directory dir, which must exist, for this process. It
// returns a *BusyError when another process holds the lock, and succeeds
// at once when this process already does (see the package comment).
func Acquire(dir string) (*Lock, error) {
	path := filepath.Join(dir, FileName)
	for range 3 { // the file may be replaced between open and flock
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("run directory %s: cannot open its lock file: %w", dir, err)
		}
		key, err := keyOf(f, path)
		if err != nil {
			f.Close()
			return nil, err
		}
		mu.Lock()
		if e := held[key]; e != nil {
			e.refs++
			mu.Unlock()
			f.Close() // flock stays with e.f's open file description
			return &Lock{e: e}, nil
		}
		l, retry, err := lockNew(dir, path, f, key)
		mu.Unlock()
		if !retry {
			return l, err
		}
	}
	return nil, fmt.Errorf("run directory %s: its lock file %s keeps being replaced", dir, FileName)
}

// lockNew flocks f (the lock file at path, not yet held by this process)
// and records it as held. retry reports that the file was replaced after
// it was opened, so the lock taken would guard nothing. Called with mu held.
func lockNew(dir, path string, f *os.File, key fileKey) (l *Lock, retry bool, err error) {
	if err := flock(f); err != nil {
		defer f.Close()
		if errors.Is(err, errBusy) {
			return nil, false, &BusyError{Dir: dir, Holder: readHolder(f)}
		}
		return nil, false, fmt.Errorf("run directory %s: cannot lock %s: %w", dir, FileName, err)
	}
	if !stillAt(path, key) {
		f.Close()
		return nil, true, nil
	}
	if err := writeHolder(f); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("run directory %s: cannot write %s: %w", dir, FileName, err)
	}
	e := &entry{key: key, f: f, refs: 1}
	held[key] = e
	return &Lock{e: e}, false, nil
}

// stillAt reports whether path still names the file key: a process that
// took a flock on a file someone removed or replaced holds nothing.
func stillAt(path string, key fileKey) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	k, err := keyOf(f, path)
	return err == nil && k == key
}

// Release gives the lock back; the flock goes with the last Lock of the
// directory this process holds. Releasing twice is harmless.
func (l *Lock) Release() error {
	var err error
	l.once.Do(func() {
		mu.Lock()
		defer mu.Unlock()
		l.e.refs--
		if l.e.refs > 0 {
			return
		}
		delete(held, l.e.key)
		err = l.e.f.Close() // closing the last descriptor drops the flock
	})
	return err
}

// writeHolder replaces the lock file's contents with this process's details.
func writeHolder(f *os.File) error {
	host, _ := os.Hostname()
	b, err := json.Marshal(Holder{PID: os.Getpid(), Host: host, Started: time.Now().UTC().Truncate(time.Second), Command: os.Args})
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err = f.WriteAt(append(b, '\n'), 0)
	return err
}

// readHolder reads the details a holder wrote; zero when there are none
// (the holder has only just taken the lock) or they do not decode.
func readHolder(f *os.File) Holder {
	var h Holder
	if b, err := os.ReadFile(f.Name()); err == nil {
		json.Unmarshal(b, &h) // a half-written file leaves h zero: "another process"
	}
	return h
}
