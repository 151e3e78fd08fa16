package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestInspectShowsFamilyFeatures: inspect names the family and the
// switches of a published checkpoint's config.
func TestInspectShowsFamilyFeatures(t *testing.T) {
	for name, want := range map[string]string{
		"qwen3":         "(qwen3: head_dim 16, q/k norm)",
		"qwen2":         "(qwen2: q/k/v bias, tied head)",
		"llama3_scaled": "(llama: head_dim 12, q/k/v bias, o bias, mlp bias, rope_scaling llama3 ×8)",
		"mistral":       "(mistral: sliding_window 16)",
		"gpt2_hub":      "(gpt2)",
	} {
		var out, errb bytes.Buffer
		if err := runInspect([]string{filepath.Join("..", "..", "testdata", "fixtures", name)}, &out, &errb); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("%s: inspect printed %q, want %q", name, out.String(), want)
		}
	}
}
