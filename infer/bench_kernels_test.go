package infer

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/internal/vec"
)

// TestBenchReportsKernels: Bench's first log line and its JSON name the
// kernel level the engine ran at.
func TestBenchReportsKernels(t *testing.T) {
	e, err := Synthetic(SyntheticConfig{Layers: 1, DModel: 32, Heads: 2, FFN: 64, Vocab: 64, GroupSize: 16, Target: 0.5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	r, err := Bench(e, BenchConfig{Batch: 2, SeqLen: 8, Prompt: 2, Gen: 2, Reps: 1}, &log)
	if err != nil {
		t.Fatal(err)
	}
	want := vec.Kernels().String()
	if first, _, _ := strings.Cut(log.String(), "\n"); first != "kernels: "+want {
		t.Fatalf("first log line %q, want %q", first, "kernels: "+want)
	}
	b, _ := json.Marshal(r)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m["kernels"] != want {
		t.Fatalf("JSON kernels %v (%v), want %q: %s", m["kernels"], err, want, b)
	}
}
