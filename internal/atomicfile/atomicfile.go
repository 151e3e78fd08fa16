package atomicfile

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// bufSize is the write buffer: large enough that multi-gigabyte checkpoints
// are written in few system calls, small enough not to matter for memory.
const bufSize = 1 << 20

// createTries bounds the retries when a random temporary name already exists;
// with 64 random bits a second collision means something else is wrong.
const createTries = 10

// Write atomically replaces the file at path with what write writes to w.
//
// w is buffered; write need not buffer again. The new file is created with
// mode 0666 before the umask, as os.Create does; the old file's mode is not
// copied. If path is a symbolic link, the link itself is replaced. If write
// returns an error or panics, or any step fails, the temporary file is
// removed and path is left untouched; the error names path. An error from
// syncing the directory is reported even though the rename has happened,
// because the new contents may then not survive a crash.
func Write(path string, write func(w io.Writer) error) error {
	return writeMode(path, 0o666, write)
}

// WriteFile atomically replaces the file at path with data, like
// os.WriteFile but never leaving a partial file. perm (before the umask) is
// the new file's mode, whether or not path existed.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return writeMode(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

func writeMode(path string, perm os.FileMode, write func(w io.Writer) error) (err error) {
	if write == nil {
		return fmt.Errorf("atomicfile: write %s: nil write function", path)
	}
	dir, base := filepath.Split(path)
	if base == "" || base == "." || base == ".." {
		return fmt.Errorf("atomicfile: write %s: path does not name a file", path)
	}
	if dir == "" {
		dir = "."
	}
	f, err := createTemp(dir, base, perm)
	if err != nil {
		return fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	tmp := f.Name()
	committed := false
	defer func() {
		// Runs on errors and on panics in write alike.
		if !committed {
			f.Close()
			os.Remove(tmp)
		}
	}()

	bw := bufio.NewWriterSize(f, bufSize)
	if err := write(bw); err != nil {
		return fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("atomicfile: write %s: sync: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("atomicfile: write %s: close: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	committed = true
	if err := Sync(dir); err != nil {
		return fmt.Errorf("atomicfile: write %s: replaced, but syncing directory %s failed, so the new file may not survive a crash: %w", path, dir, err)
	}
	return nil
}

// createTemp creates ".<base>.tmp-<random>" in dir with O_EXCL. It does not
// use os.CreateTemp because that fixes the mode at 0600; opening with perm
// lets the umask apply exactly as it would for os.Create.
func createTemp(dir, base string, perm os.FileMode) (*os.File, error) {
	for range createTries {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		name := filepath.Join(dir, "."+base+".tmp-"+hex.EncodeToString(b[:]))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	return nil, fmt.Errorf("could not create a unique temporary file in %s after %d tries", dir, createTries)
}

// Sync fsyncs the file or directory at path: a directory so that a rename
// inside it is durable.
func Sync(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
