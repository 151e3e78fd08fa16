package evaluate

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/internal/testmodel"
)

// TestScoreReadsCSVAndTSV: a CSV or TSV file's "text" column is scored
// exactly as the same texts in JSONL (it used to be a JSON parse error).
func TestScoreReadsCSVAndTSV(t *testing.T) {
	model, dir := testmodel.Dir(t, true), t.TempDir()
	files := map[string]string{
		"in.jsonl": "{\"text\": \"the cat sat\"}\n{\"text\": \"on a mat, twice\"}\n",
		"in.csv":   "id,text\n1,the cat sat\n2,\"on a mat, twice\"\n",
		"in.tsv":   "id\ttext\n1\tthe cat sat\n2\ton a mat, twice\n",
	}
	out := map[string]string{}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := Score(ScoreConfig{ModelDir: model, Data: p}, &b, io.Discard); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = b.String()
	}
	if out["in.csv"] != out["in.jsonl"] || out["in.tsv"] != out["in.jsonl"] {
		t.Fatalf("CSV/TSV results differ from JSONL:\n%s\n%s\n%s", out["in.jsonl"], out["in.csv"], out["in.tsv"])
	}
	if strings.Count(out["in.csv"], "\n") != 2 {
		t.Fatalf("want 2 result lines, got %q", out["in.csv"])
	}
}
