package checkpoints

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestContentHashMismatchShowsBothHashes: the message gives both hashes in
// full, so that two hashes sharing a prefix never read as equal.
func TestContentHashMismatchShowsBothHashes(t *testing.T) {
	dir, _ := writeTiny(t, "gpt2", false)
	p := filepath.Join(dir, modelWeightsFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-3] ^= 0x01
	writeFile(t, p, b)
	got, err := fileHash(p)
	if err != nil {
		t.Fatal(err)
	}
	var want string
	editManifest(t, dir, func(m map[string]any) { want = m["content_hash"].(string) })
	_, err = ReadSparse(dir)
	if err == nil || !strings.Contains(err.Error(), got) || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want both %s and %s in full", err, got, want)
	}
}
