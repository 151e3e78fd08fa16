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

// TestReadStrict: a config file's known keys decode; a missing file is the
// os error; an unknown key, a truncated object and content after the
// object are one-line errors naming the file and what is wrong.
func TestReadStrict(t *testing.T) {
	dir := t.TempDir()
	type config struct {
		Steps int     `json:"steps"`
		LR    float64 `json:"lr"`
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := config{Steps: 5, LR: 0.1}
	if err := ReadStrict(write("ok.json", `{"steps": 7}`+"\n"), &c); err != nil || c != (config{Steps: 7, LR: 0.1}) {
		t.Fatalf("ok file: %+v, %v; want steps 7 over the lr default", c, err)
	}
	if err := ReadStrict(filepath.Join(dir, "missing.json"), &c); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	for name, tc := range map[string]struct{ body, want string }{
		"unknown.json":   {`{"stpes": 7}`, `unknown field "stpes"`},
		"truncated.json": {`{"steps": `, "unexpected EOF"},
		"trailing.json":  {`{"steps": 7} {"lr": 1}`, "unexpected content after the JSON object at byte 14"},
	} {
		p := write(name, tc.body)
		err := ReadStrict(p, &c)
		if err == nil || !strings.HasPrefix(err.Error(), p+": ") || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line naming the file and %q", name, err, tc.want)
		}
	}
}
