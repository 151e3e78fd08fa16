package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// bench infer --synthetic builds the llama-layout families, with their
// key/value heads and head_dim, and reports the weights read per decoded
// token.
func TestBenchInferSyntheticQwen3(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "infer", "--synthetic", "--family", "qwen3", "--layers", "2", "--d-model", "64", "--heads", "4",
		"--kv-heads", "2", "--head-dim", "32", "--ffn", "128", "--vocab", "300", "--group-size", "16",
		"--calib-seqs", "2", "--calib-len", "16", "--batch", "2", "--seq", "16", "--prompt", "4", "--gen", "4", "--reps", "1"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"synthetic qwen3: 2 layers, d 64, 4 heads (2 key/value, head_dim 32)", "weights read per decoded token"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	var r map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	for _, k := range []string{"decode_bytes_per_token_dense", "decode_bytes_per_token_sparse", "decode_bytes_per_token_bound", "decode_speedup", "score_speedup"} {
		if v, ok := r[k].(float64); !ok || !(v > 0) {
			t.Errorf("%s = %v, want positive", k, r[k])
		}
	}
}

// Bad synthetic sizes are usage errors (exit 2) naming the flag.
func TestBenchInferSyntheticUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--family", "t5"}, "--family t5"},
		{[]string{"--family", "gpt2", "--kv-heads", "2"}, "not gpt2"},
		{[]string{"--family", "llama", "--heads", "8", "--kv-heads", "3"}, "--kv-heads 3 does not divide --heads 8"},
		{[]string{"--family", "mistral", "--kv-heads", "-1"}, "--kv-heads and --head-dim must be ≥ 0"},
		{[]string{"--family", "qwen2", "--heads", "3"}, "--heads 3 does not divide --d-model 512"},
		{[]string{"--family", "qwen3", "--head-dim", "7"}, "RoPE needs an even head size"},
		{[]string{"--family", "qwen3", "--calib-len", "0"}, "--calib-len must be positive"},
		{[]string{"--family", "llama", "--ffn", "100"}, "--group-size 32 does not divide --ffn 100"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"bench", "infer", "--synthetic"}, tc.args...), &stdout, &stderr)
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if code != 2 || !strings.Contains(lines[0], tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}
