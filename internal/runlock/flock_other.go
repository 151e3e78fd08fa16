//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package runlock

import (
	"errors"
	"os"
	"path/filepath"
)

// fileKey identifies a lock file by its absolute path where there is no
// flock (and no inode to go by).
type fileKey struct{ path string }

func keyOf(f *os.File, path string) (fileKey, error) {
	abs, err := filepath.Abs(path)
	return fileKey{abs}, err
}

var errBusy = errors.New("busy")

// flock does nothing here: only this process's table excludes writers.
func flock(f *os.File) error { return nil }
