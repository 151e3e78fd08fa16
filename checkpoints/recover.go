package checkpoints

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sparsetune/sparsetune/internal/atomicdir"
)

// legacyOld is the suffix under which earlier releases of Save moved the
// previous checkpoint aside (best.old, checkpoint-6.old), visible in the
// run directory.
const legacyOld = ".old"

// Recover makes a run directory whole before a run starts or resumes in
// it, finishing what a crash (SIGKILL, power loss) interrupted:
//
//   - a checkpoint replacement cut between its renames is finished or
//     undone (atomicdir.Recover), and every temporary directory or file
//     left by Save, WriteSparse, SetLatest or the metrics writers
//     (".<name>.tmp-*", ".<name>.new", ".<name>.old") is removed;
//   - an interrupted Prune (".checkpoint-N.deleting") is finished;
//   - an earlier release's moved-aside checkpoint ("best.old") is put back
//     if its checkpoint is missing, else removed;
//   - a "checkpoint-N" directory without its trainer state, config.json or
//     model.safetensors (an earlier release's half-deleted prune) is
//     removed unless "latest" names it.
//
// Only the run's own process may call it: it deletes temporaries that a
// concurrent writer of the run would still be using. A missing runDir has
// nothing to recover.
func Recover(runDir string) error {
	targets, err := atomicdir.Targets(runDir)
	if err != nil {
		return fmt.Errorf("recover %s: %w", runDir, err)
	}
	for _, t := range targets {
		if err := atomicdir.Recover(filepath.Join(runDir, t)); err != nil {
			return fmt.Errorf("recover %s: %w", runDir, err)
		}
	}
	if err := recoverLegacy(runDir, true); err != nil {
		return err
	}
	cks, err := listCheckpoints(runDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("recover %s: %w", runDir, err)
	}
	latest := latestName(runDir)
	for _, c := range cks {
		dir := filepath.Join(runDir, c)
		if c == latest || complete(dir) {
			continue
		}
		if err := atomicdir.Remove(dir); err != nil {
			return fmt.Errorf("recover %s: removing incomplete %s: %w", runDir, c, err)
		}
	}
	return nil
}

// Heal restores what a crash left missing at path, without removing
// anything, so that commands reading a checkpoint or run can call it even
// while a training run writes there: path itself (a checkpoint directory
// cut between the renames of its replacement, see atomicdir.Heal) and, when
// path is a directory, each entry of it that was cut so (a run's "best" or
// "sparse").
func Heal(path string) error {
	if err := atomicdir.Heal(path); err != nil {
		return err
	}
	path = filepath.Clean(path)
	if err := restoreLegacy(path); err != nil {
		return err
	}
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		return nil
	}
	targets, err := atomicdir.Targets(path)
	if err != nil {
		return nil // unreadable: the reader reports it
	}
	for _, t := range targets {
		if err := atomicdir.Heal(filepath.Join(path, t)); err != nil {
			return err
		}
	}
	return recoverLegacy(path, false)
}

// recoverLegacy restores each missing checkpoint that an earlier release's
// Save left moved aside as "<name>.old" and, with clean set, removes the
// ones whose checkpoint is present. Only directories holding a trainer
// state count: they are clearly checkpoints.
func recoverLegacy(runDir string, clean bool) error {
	entries, err := os.ReadDir(runDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("recover %s: %w", runDir, err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), legacyOld)
		old := filepath.Join(runDir, e.Name())
		if !ok || !e.IsDir() || strings.HasPrefix(name, ".") || !isFile(filepath.Join(old, StateFile)) {
			continue
		}
		dir := filepath.Join(runDir, name)
		if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
			if err := restoreLegacy(dir); err != nil {
				return err
			}
			continue
		}
		if clean {
			if err := atomicdir.Remove(old); err != nil {
				return fmt.Errorf("recover %s: %w", runDir, err)
			}
		}
	}
	return nil
}

// restoreLegacy puts back checkpoint dir from an earlier release's
// "<dir>.old" when dir is missing and the old one holds a trainer state
// (atomicdir.Restore: the rename is fsynced like any other heal).
func restoreLegacy(dir string) error {
	old := dir + legacyOld
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) || !isFile(filepath.Join(old, StateFile)) {
		return nil
	}
	return atomicdir.Restore(dir, old)
}

// complete reports whether checkpoint directory dir holds its trainer
// state and its model (config.json and model.safetensors).
func complete(dir string) bool {
	for _, f := range []string{StateFile, modelConfigFile, modelWeightsFile} {
		if !isFile(filepath.Join(dir, f)) {
			return false
		}
	}
	return true
}

// latestName is the checkpoint name the run's "latest" file holds, or "".
func latestName(runDir string) string {
	b, err := os.ReadFile(filepath.Join(runDir, latestFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
