package jsonfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	in := map[string]any{"metric": 0.5, "name": "dense"}
	if err := Write(path, in); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if want := "{\n  \"metric\": 0.5,\n  \"name\": \"dense\"\n}\n"; string(b) != want {
		t.Errorf("file %q, want %q", b, want)
	}
	var out map[string]any
	if err := Read(path, &out); err != nil || out["name"] != "dense" || out["metric"] != 0.5 {
		t.Errorf("read back %v, %v", out, err)
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	var v map[string]any
	if err := Read(filepath.Join(dir, "missing.json"), &v); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"metric": `), 0o644)
	if err := Read(bad, &v); err == nil || !strings.HasPrefix(err.Error(), bad+": ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("truncated file: %v, want one line naming %s", err, bad)
	}
	if err := Write(filepath.Join(dir, "nan.json"), map[string]float64{"x": nanValue()}); err == nil {
		t.Error("writing NaN: no error")
	}
	if _, err := os.Stat(filepath.Join(dir, "nan.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed write left a file: %v", err)
	}
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}
