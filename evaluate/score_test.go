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

	"github.com/sparsetune/sparsetune/internal/safetensors"
	"github.com/sparsetune/sparsetune/metrics"
)

// TestScoreMatchesReferenceLogits scores the fixture's sequences and
// compares each token's log-probability with one computed from PyTorch's
// logits for the same batch.
func TestScoreMatchesReferenceLogits(t *testing.T) {
	for _, name := range []string{"gpt2", "llama", "gpt2_hub", "llama3_scaled", "llama_linear", "mistral", "qwen2", "qwen3"} {
		dir := filepath.Join("..", "testdata", "fixtures", name)
		ref, err := safetensors.ReadOptions{Ints: true}.Read(filepath.Join(dir, "reference.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		ids, logits := ref.Tensors["input_ids"], ref.Tensors["logits"].Data
		B, T, V := ids.Shape[0], ids.Shape[1], ref.Tensors["logits"].Shape[2]
		var in strings.Builder
		for b := 0; b < B; b++ {
			row, _ := json.Marshal(ids.Ints[b*T : (b+1)*T])
			// The second copy is cut short: its log-probabilities are a prefix.
			fmt.Fprintf(&in, "{\"ids\": %s}\n{\"ids\": %s}\n", row, mustJSON(ids.Ints[b*T:b*T+4]))
		}
		path := filepath.Join(t.TempDir(), "in.jsonl")
		if err := os.WriteFile(path, []byte(in.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := Score(ScoreConfig{ModelDir: dir, Data: path, PerToken: true, Batch: 3}, &out, os.Stderr); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 2*B {
			t.Fatalf("%s: %d output lines, want %d", name, len(lines), 2*B)
		}
		for b := 0; b < B; b++ {
			for k, n := range []int{T, 4} {
				var r ScoreResult
				if err := json.Unmarshal([]byte(lines[2*b+k]), &r); err != nil {
					t.Fatal(err)
				}
				if r.Tokens != n || r.TokenLogprobs == nil || len(*r.TokenLogprobs) != n-1 {
					t.Fatalf("%s row %d: tokens %d, %v log-probs; want %d and %d", name, b, r.Tokens, r.TokenLogprobs, n, n-1)
				}
				var sum float64
				for tt := 0; tt+1 < n; tt++ {
					row := logits[(b*T+tt)*V : (b*T+tt+1)*V]
					want := float64(row[ids.Ints[b*T+tt+1]]) - metrics.LogSumExp(row)
					sum += want
					if got := (*r.TokenLogprobs)[tt]; math.Abs(got-want) > 1e-4 {
						t.Errorf("%s row %d token %d: log-prob %.6f, want %.6f", name, b, tt+1, got, want)
					}
				}
				if math.Abs(*r.Logprob-sum) > 1e-3 || math.Abs(*r.PPL-math.Exp(-sum/float64(n-1))) > 1e-3**r.PPL {
					t.Errorf("%s row %d: logprob %.5f ppl %.4f, want %.5f", name, b, *r.Logprob, *r.PPL, sum)
				}
			}
		}
	}
}

func TestScoreRejectsBadInput(t *testing.T) {
	dir := filepath.Join("..", "testdata", "fixtures", "gpt2")
	cases := map[string]string{
		"malformed":  "{\"ids\": [1, 2\n",
		"no field":   "{\"foo\": 1}\n",
		"empty ids":  "{\"ids\": []}\n",
		"bad id":     "{\"ids\": [1, 100000]}\n",
		"empty file": "",
	}
	for name, body := range cases {
		path := filepath.Join(t.TempDir(), "in.jsonl")
		os.WriteFile(path, []byte(body), 0o644)
		err := Score(ScoreConfig{ModelDir: dir, Data: path}, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: want a one-line error, got %v", name, err)
		}
	}
}
