package main

import (
	"bytes"
	"os"
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

// TestUnsupportedFeatureExitCode: a published config with a feature the
// model lacks is a run error (exit 1), one line naming the key and file.
func TestUnsupportedFeatureExitCode(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("..", "..", "testdata", "fixtures", "llama3_scaled")
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "config.json" {
			b = bytes.Replace(b, []byte(`"rope_type": "llama3"`), []byte(`"rope_type": "yarn"`), 1)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	code := run([]string{"inspect", dir}, &out, &errb)
	msg := strings.TrimSpace(errb.String())
	if code != 1 || strings.Contains(msg, "\n") || !strings.Contains(msg, filepath.Join(dir, "config.json")) || !strings.Contains(msg, `rope_scaling.rope_type "yarn"`) {
		t.Fatalf("exit %d, stderr %q", code, msg)
	}
}
