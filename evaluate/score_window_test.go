package evaluate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScoreTruncatesAtSlidingWindow: inputs longer than Mistral's
// sliding_window (16 in the fixture, max positions 32) are cut to the
// window, which the model runs exactly, instead of failing to build.
func TestScoreTruncatesAtSlidingWindow(t *testing.T) {
	dir := filepath.Join("..", "testdata", "fixtures", "mistral")
	ids := make([]int, 20)
	for i := range ids {
		ids[i] = 3 + i
	}
	path := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(path, []byte(mustJSON(map[string]any{"ids": ids})+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, log bytes.Buffer
	if err := Score(ScoreConfig{ModelDir: dir, Data: path}, &out, &log); err != nil {
		t.Fatal(err)
	}
	var r ScoreResult
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &r); err != nil {
		t.Fatal(err)
	}
	if r.Tokens != 16 || !strings.Contains(log.String(), "16 tokens") {
		t.Fatalf("scored %d tokens (log %q), want the 16 of the window", r.Tokens, log.String())
	}
}
