package evaluate

import (
	"encoding/json"
	"testing"

	"github.com/sparsetune/sparsetune/internal/testmodel"
)

// byteLevelModelDir writes a tiny GPT-2 model directory with random
// weights whose tokenizer is plain byte-level (testmodel.ByteLevelGPT2).
func byteLevelModelDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := testmodel.ByteLevelGPT2(dir, true); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
