package testmodel

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedDir returns ../shared/rel relative to the repository root (the
// directory holding go.mod): the real datasets and tokenizers that tests
// and benchmarks read and the repository never copies. When it is missing
// the test fails under CI=true and is skipped, loudly, elsewhere.
func SharedDir(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", rel)
	if _, err := os.Stat(p); err != nil {
		msg := "SKIPPED: shared test data " + p + " is missing (" + err.Error() +
			"); it lives in shared/ beside the repository checkout"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}
