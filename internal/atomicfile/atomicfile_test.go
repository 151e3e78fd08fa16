package atomicfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// entries lists the names in dir, so tests can assert no temporary file is
// left behind.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.bin")
	for _, want := range []string{"first", "second, longer contents", "3"} {
		err := Write(path, func(w io.Writer) error {
			_, err := io.WriteString(w, want)
			return err
		})
		if err != nil {
			t.Fatalf("Write(%q): %v", want, err)
		}
		if got := readFile(t, path); got != want {
			t.Fatalf("contents = %q, want %q", got, want)
		}
		if got := entries(t, dir); len(got) != 1 || got[0] != "ckpt.bin" {
			t.Fatalf("directory holds %q, want only ckpt.bin", got)
		}
	}
}

func TestWriteLargeThroughBuffer(t *testing.T) {
	// Larger than bufSize, so the buffer is flushed more than once.
	path := filepath.Join(t.TempDir(), "big")
	data := bytes.Repeat([]byte("0123456789abcdef"), 3*bufSize/16+7)
	if err := Write(path, func(w io.Writer) error {
		for i := 0; i < len(data); i += 1000 {
			if _, err := w.Write(data[i:min(i+1000, len(data))]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != string(data) {
		t.Fatalf("read back %d bytes, want %d identical bytes", len(got), len(data))
	}
}

func TestWriteCallbackErrorKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.bin")
	if err := WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(path, func(w io.Writer) error {
		// Write more than the buffer so part of it reaches the temp file.
		if _, err := w.Write(make([]byte, 2*bufSize)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want it to wrap %v", err, boom)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name %s", err, path)
	}
	if got := readFile(t, path); got != "old" {
		t.Errorf("old file now holds %d bytes, want \"old\"", len(got))
	}
	if got := entries(t, dir); len(got) != 1 {
		t.Errorf("directory holds %q, want only ckpt.bin", got)
	}
}

func TestWriteCallbackPanicRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x")
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic was swallowed")
			}
		}()
		Write(path, func(w io.Writer) error { panic("callback bug") })
	}()
	if got := entries(t, dir); len(got) != 0 {
		t.Errorf("directory holds %q after a panicking callback, want nothing", got)
	}
}

func TestWriteFilePerm(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	if err := WriteFile(path, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode = %v, want 0600", got)
	}
}

func TestWriteRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := WriteFile("rel.txt", []byte("r"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, "rel.txt"); got != "r" {
		t.Errorf("contents = %q, want \"r\"", got)
	}
}

func TestWriteBadPaths(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		filepath.Join(dir, "missing", "x"), // directory does not exist
		filepath.Join(notDir, "x"),         // parent is a regular file
		dir + string(filepath.Separator),   // names a directory, not a file
	} {
		err := WriteFile(path, []byte("x"), 0o644)
		if err == nil {
			t.Errorf("WriteFile(%s) succeeded, want an error", path)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name %s", err, path)
		}
	}
}

func TestWriteOverDirectoryFails(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(sub, []byte("x"), 0o644); err == nil {
		t.Fatal("replacing a directory succeeded, want an error")
	}
	if got := entries(t, dir); len(got) != 1 || got[0] != "sub" {
		t.Errorf("directory holds %q, want only sub", got)
	}
}

func TestWriteUnwritableDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	// root (as in many CI containers) ignores directory permissions.
	if f, err := os.Create(filepath.Join(dir, "probe")); err == nil {
		f.Close()
		t.Skip("directory permissions are not enforced for this user")
	}
	path := filepath.Join(dir, "ckpt.bin")
	err := WriteFile(path, []byte("x"), 0o644)
	if err == nil {
		t.Fatal("WriteFile into a read-only directory succeeded")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name %s", err, path)
	}
}

func TestWriteNilCallback(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x")
	if err := Write(path, nil); err == nil {
		t.Fatal("Write with a nil function succeeded")
	}
}

func ExampleWriteFile() {
	dir, err := os.MkdirTemp("", "atomicfile-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "config.json")
	if err := WriteFile(path, []byte(`{"lr": 3e-4}`), 0o644); err != nil {
		panic(err)
	}
	b, _ := os.ReadFile(path)
	os.Stdout.Write(b)
	// Output: {"lr": 3e-4}
}
