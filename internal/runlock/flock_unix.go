//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package runlock

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// fileKey identifies a lock file by device and inode, so that two paths of
// one directory (relative, absolute, through a symbolic link) share it.
type fileKey struct{ dev, ino uint64 }

func keyOf(f *os.File, path string) (fileKey, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fileKey{}, fmt.Errorf("%s: %w", path, err)
	}
	return fileKey{uint64(st.Dev), uint64(st.Ino)}, nil
}

// errBusy is flock's answer when another open file description holds it.
var errBusy = unix.EWOULDBLOCK

// flock takes an exclusive flock on f without waiting.
func flock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			return err
		}
	}
}
