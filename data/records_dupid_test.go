package data

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestDuplicateIDIsErrDuplicateID: a caller tells a duplicate id from
// other bad input by errors.Is, not by the message; other errors are not it.
func TestDuplicateIDIsErrDuplicateID(t *testing.T) {
	dir := t.TempDir()
	dup, bad := filepath.Join(dir, "dup.jsonl"), filepath.Join(dir, "bad.jsonl")
	os.WriteFile(dup, []byte("{\"id\": \"x\", \"text\": \"a\"}\n{\"id\": \"x\", \"text\": \"b\"}\n"), 0o644)
	os.WriteFile(bad, []byte("{\"id\": \"x\", \"text\": \"\"}\n"), 0o644)
	if _, _, err := ReadRecords(dup, ReadOptions{}); !errors.Is(err, ErrDuplicateID) {
		t.Errorf("duplicate id: got %v, want ErrDuplicateID", err)
	}
	if _, _, err := ReadRecords(bad, ReadOptions{}); err == nil || errors.Is(err, ErrDuplicateID) {
		t.Errorf("empty text: got %v, want another error", err)
	}
	if _, _, err := ReadRecords(dup, ReadOptions{IDField: DeriveIDs}); err != nil {
		t.Errorf("derived ids: %v", err)
	}
}
