package evaluate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/train"
)

// TestEmbeddedBaseModel extracts the embedded default and checks that the
// base model is a trained language model of the built-in task's text: its
// perplexity on unseen task paragraphs is far below the vocabulary size,
// and scoring "text" equals scoring the tokenizer's ids.
func TestEmbeddedBaseModel(t *testing.T) {
	dir := t.TempDir()
	c, err := train.EmbeddedConfig(dir, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Task != "classification" || c.Test == "" || c.Target != 0.5 {
		t.Fatalf("embedded config: %+v", c)
	}
	b, err := os.ReadFile(c.Test)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := data.LoadTokenizer(c.Model)
	if err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	lines := strings.SplitN(string(b), "\n", 5)[:4]
	for _, line := range lines {
		var r struct{ Text string }
		json.Unmarshal([]byte(line), &r)
		ids, err := data.EncodeForModel(tok, r.Text)
		if err != nil {
			t.Fatal(err)
		}
		idsJSON, _ := json.Marshal(ids)
		textJSON, _ := json.Marshal(r.Text)
		fmt.Fprintf(&in, "{\"text\": %s}\n{\"ids\": %s}\n", textJSON, idsJSON)
	}
	path := filepath.Join(dir, "in.jsonl")
	os.WriteFile(path, []byte(in.String()), 0o644)
	var out bytes.Buffer
	if err := Score(ScoreConfig{ModelDir: c.Model, Data: path}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	res := strings.Split(strings.TrimSpace(out.String()), "\n")
	for i := 0; i < len(res); i += 2 {
		var a, b ScoreResult
		json.Unmarshal([]byte(res[i]), &a)
		json.Unmarshal([]byte(res[i+1]), &b)
		// The two copies sit in different rows of one batch, where BLAS may
		// order a dot product's terms differently: equal to rounding.
		if a.Tokens != b.Tokens || math.Abs(*a.Logprob-*b.Logprob) > 1e-4*math.Abs(*b.Logprob) {
			t.Errorf("text and ids of paragraph %d score differently: %d tokens %.6f vs %d tokens %.6f", i/2, a.Tokens, *a.Logprob, b.Tokens, *b.Logprob)
		}
		if *a.PPL > 30 {
			t.Errorf("paragraph %d: perplexity %.1f; the base model should know this language (vocab 2048)", i/2, *a.PPL)
		}
		t.Logf("paragraph %d: %d tokens, perplexity %.2f", i/2, a.Tokens, *a.PPL)
	}
}
