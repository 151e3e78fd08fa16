package train

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/internal/runlock"
)

// prepareRunDir creates the run directory, checks it is writable, takes
// its lock (runlock: one writing process per run directory, held until the
// run returns) and, unless the run resumes, checks that no earlier run's
// results would be overwritten. All before any work is done; nothing in
// the directory may change before the lock is held.
func prepareRunDir(cfg *Config) (*runlock.Lock, error) {
	return PrepareRunDir(cfg)
}

// PrepareRunDir is what Run first does with cfg's run directory: create it,
// check that it is writable, take its lock (runlock: one writing process
// per run directory, held until Release; taken again by the Run inside,
// as the lock is shared within a process), recover what a killed run left
// half done and, unless cfg resumes, refuse a directory that holds an
// earlier run. It fills in cfg's default cache_dir. A driver that writes
// into the run directory before calling Run (package coreset's subset)
// calls it first, so that nothing there changes before the lock is held.
func PrepareRunDir(cfg *Config) (*runlock.Lock, error) {
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("out_dir: %w", err)
	}
	probe, err := os.CreateTemp(cfg.OutDir, ".probe-")
	if err != nil {
		return nil, fmt.Errorf("out_dir %s is not writable: %w", cfg.OutDir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	lock, err := LockRunDir(cfg.OutDir)
	if err != nil {
		return nil, err
	}
	if err := checkpoints.Recover(cfg.OutDir); err != nil { // what a killed run left half done
		lock.Release()
		return nil, err
	}
	if !cfg.Resume {
		if err := checkFresh(cfg.OutDir); err != nil {
			lock.Release()
			return nil, err
		}
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = filepath.Join(filepath.Dir(filepath.Clean(cfg.OutDir)), ".cache")
	}
	return lock, nil
}

// LockRunDir takes the lock of run directory dir for this process (package
// runlock): a run, a sweep job and a hardening into a run take it before
// writing. Another process's lock is an error that names it, one line.
func LockRunDir(dir string) (*runlock.Lock, error) {
	return lockRunDir(dir, "--out-dir")
}

// lockRunDir is LockRunDir whose refusal suggests flag.
func lockRunDir(dir, flag string) (*runlock.Lock, error) {
	l, err := runlock.Acquire(dir)
	var busy *runlock.BusyError
	if errors.As(err, &busy) {
		return nil, fmt.Errorf("%w; wait for it or choose another %s", err, flag)
	}
	return l, err
}

// lockEnclosingRun takes the lock of the run directory that holds out
// (harden writing <run>/sparse), where out's parent holds a run, so that
// the output does not race the run's own hardening. release is never nil.
func lockEnclosingRun(out, flag string) (release func(), err error) {
	parent := filepath.Dir(filepath.Clean(out))
	if !HoldsRun(parent) {
		return func() {}, nil
	}
	l, err := lockRunDir(parent, flag)
	if err != nil {
		return nil, err
	}
	return func() { l.Release() }, nil
}

// HoldsRun reports whether dir holds an earlier run's results: a
// checkpoint, or at least one record in metrics.jsonl. A directory with
// nothing else than a lock file, a token cache, an empty metrics file or
// the coreset work of a run that failed before its first step holds none.
func HoldsRun(dir string) bool {
	if hasCheckpoint(dir) {
		return true
	}
	_, ok := lastLoggedStep(dir)
	return ok
}

// checkFresh refuses to start a new run in a directory that holds one,
// saying what to do instead; nothing has been changed when it refuses.
func checkFresh(dir string) error {
	if hasCheckpoint(dir) {
		at := ""
		if latest, err := checkpoints.Latest(dir); err == nil && latest != "" {
			var st State
			if checkpoints.ReadState(latest, &st) == nil {
				at = fmt.Sprintf(" (latest checkpoint at step %d)", st.Step)
			}
		}
		return fmt.Errorf("out_dir %s already holds a training run%s; pass --resume to continue it or choose another --out-dir (nothing was changed)", dir, at)
	}
	if step, ok := lastLoggedStep(dir); ok {
		return fmt.Errorf("out_dir %s holds the metrics of a run that stopped at step %d before its first checkpoint; pass --resume to start it over there (those metrics are dropped) or choose another --out-dir (nothing was changed)", dir, step)
	}
	return nil
}

// hasCheckpoint reports whether dir has a checkpoint of a run: the latest
// pointer, the best checkpoint or a checkpoint-<step> directory.
func hasCheckpoint(dir string) bool {
	for _, f := range []string{"latest", "best"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if s, ok := strings.CutPrefix(e.Name(), "checkpoint-"); ok && e.IsDir() {
			if _, err := strconv.Atoi(s); err == nil {
				return true
			}
		}
	}
	return false
}

// lastLoggedStep returns the largest step recorded in dir's metrics.jsonl;
// ok is false when the file is missing or holds no record.
func lastLoggedStep(dir string) (step int, ok bool) {
	f, err := os.Open(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct{ Step int }
		if strings.TrimSpace(sc.Text()) == "" || json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		step, ok = max(step, r.Step), true
	}
	return step, ok
}
