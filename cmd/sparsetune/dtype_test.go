package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/harden"
	"github.com/sparsetune/sparsetune/internal/testmodel"
)

// harden --dtype writes the sparse checkpoint with its weight matrices in
// that dtype, which eval runs, and reports the dtype and the compute of
// what it wrote; float32 stays version 1; an unknown dtype
// is a usage error before anything is loaded.
func TestHardenDType(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny sparse run")
	}
	dir, model, data := tinyLM(t)
	runDir := filepath.Join(dir, "run")
	var stdout, stderr bytes.Buffer
	if code := run(tinySparseTrain(model, data, runDir), &stdout, &stderr); code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr.String())
	}
	for _, d := range []checkpoints.DType{checkpoints.F32, checkpoints.Int8} {
		out := filepath.Join(dir, "hard-"+string(d))
		stdout.Reset()
		stderr.Reset()
		if code := run([]string{"harden", "--checkpoint", runDir, "--out", out, "--sequences", "4", "--dtype", string(d)}, &stdout, &stderr); code != 0 {
			t.Fatalf("harden --dtype %s: exit %d: %s", d, code, stderr.String())
		}
		s, err := checkpoints.ReadSparse(out)
		if err != nil {
			t.Fatal(err)
		}
		wantVersion, wantDType := 1, checkpoints.DType("")
		if d != checkpoints.F32 {
			wantVersion, wantDType = 2, d
		}
		var r harden.Result
		if err := json.Unmarshal(stdout.Bytes(), &r); err != nil || r.DType != wantDType || r.Compute != s.Manifest.Compute {
			t.Errorf("--dtype %s: result %s (%v): want dtype %q and the manifest's compute %g", d, stdout.String(), err, wantDType, s.Manifest.Compute)
		}
		if s.Manifest.Version != wantVersion || s.Manifest.DType != wantDType {
			t.Errorf("--dtype %s: version %d dtype %q, want %d and %q", d, s.Manifest.Version, s.Manifest.DType, wantVersion, wantDType)
		}
		if w := s.Tensors["transformer.h.0.mlp.c_fc.weight"]; w.DType != wantDType {
			t.Errorf("--dtype %s: c_fc stored as %q", d, w.DType)
		}
		stdout.Reset()
		stderr.Reset()
		if code := run([]string{"eval", "--checkpoint", out, "--data", data, "--batch", "4"}, &stdout, &stderr); code != 0 {
			t.Errorf("eval of the %s checkpoint: exit %d: %s", d, code, stderr.String())
		}
	}
	stderr.Reset()
	code := run([]string{"harden", "--checkpoint", runDir, "--out", filepath.Join(dir, "x"), "--dtype", "int4"}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), `--dtype: dtype "int4" is not f32, bf16 or int8`) {
		t.Errorf("--dtype int4: exit %d, stderr %q", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("a refused harden wrote its --out")
	}
}

// tinyLM writes a byte-level GPT-2 and a little text into a temporary
// directory: dir, the model's directory and the data file.
func tinyLM(t *testing.T) (dir, model, data string) {
	t.Helper()
	dir = t.TempDir()
	model = filepath.Join(dir, "model")
	if err := os.MkdirAll(model, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := testmodel.ByteLevelGPT2(model, true); err != nil {
		t.Fatal(err)
	}
	data = filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(data, []byte(strings.Repeat("{\"text\": \"the cat sat on the mat\"}\n{\"text\": \"a dog ran in the park\"}\n", 8)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, model, data
}

// tinySparseTrain is the command line of a two-step sparse run of model
// on data into runDir.
func tinySparseTrain(model, data, runDir string) []string {
	return []string{"train", "--model", model, "--train", data, "--valid", data, "--seq-len", "16", "--batch", "4", "--steps", "2",
		"--target", "0.5", "--stage2-steps", "1", "--eval-every", "2", "--out-dir", runDir}
}

// train --dtype hardens the sparse run into a checkpoint whose weight
// matrices are stored in that dtype (the manifest's compute measured on
// them: package harden's test); an unknown dtype is a usage error naming
// the key.
func TestTrainDType(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny sparse run")
	}
	dir, model, data := tinyLM(t)
	runDir := filepath.Join(dir, "run")
	var stdout, stderr bytes.Buffer
	if code := run(append(tinySparseTrain(model, data, runDir), "--dtype", "bf16"), &stdout, &stderr); code != 0 {
		t.Fatalf("train --dtype bf16: exit %d: %s", code, stderr.String())
	}
	s, err := checkpoints.ReadSparse(filepath.Join(runDir, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Manifest.DType != checkpoints.BF16 {
		t.Errorf("manifest dtype %q, want bf16", s.Manifest.DType)
	}
	if w := s.Tensors["transformer.h.0.mlp.c_fc.weight"]; w.DType != checkpoints.BF16 {
		t.Errorf("c_fc stored as %q, want bf16", w.DType)
	}
	stderr.Reset()
	code := run(append(tinySparseTrain(model, data, filepath.Join(dir, "x")), "--dtype", "int4"), &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "dtype") || !strings.Contains(stderr.String(), "int4") {
		t.Errorf("--dtype int4: exit %d, stderr %q", code, stderr.String())
	}
}

// bench infer --dtype quantizes the engine before timing and reports what
// that cost in logits and saved in bytes; an unknown dtype is a usage
// error.
func TestBenchInferDType(t *testing.T) {
	for _, d := range []string{"bf16", "int8"} {
		var stdout, stderr bytes.Buffer
		args := []string{"bench", "infer", "--synthetic", "--family", "llama", "--layers", "2", "--d-model", "64", "--heads", "4",
			"--ffn", "128", "--vocab", "300", "--group-size", "16", "--calib-seqs", "2", "--calib-len", "16",
			"--batch", "2", "--seq", "16", "--prompt", "4", "--gen", "4", "--reps", "1", "--dtype", d}
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("--dtype %s: exit %d: %s", d, code, stderr.String())
		}
		if want := "weights f32 → " + d + ": "; !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "max |Δ logit|") {
			t.Errorf("--dtype %s: stderr lacks %q and the logit change:\n%s", d, want, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", "infer", "--synthetic", "--dtype", "fp8"}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), `--dtype: dtype "fp8" is not f32, bf16 or int8`) {
		t.Errorf("--dtype fp8: exit %d, stderr %q", code, stderr.String())
	}
}

// bench infer of a checkpoint keeps the dtype it is stored in unless
// --dtype says otherwise.
func TestBenchInferKeepsCheckpointDType(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "int8")
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "infer", "--layers", "2", "--d-model", "64", "--heads", "4", "--ffn", "128", "--vocab", "300",
		"--group-size", "16", "--calib-seqs", "2", "--calib-len", "16", "--batch", "2", "--seq", "16", "--prompt", "4", "--gen", "4", "--reps", "1"}
	if code := run(append(args, "--synthetic", "--dtype", "int8", "--save", dir), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if s, err := checkpoints.ReadSparse(dir); err != nil || s.Manifest.DType != checkpoints.Int8 {
		t.Fatalf("--save with --dtype int8: %v", err)
	}
	for _, tc := range []struct {
		dtype string
		want  string // in stderr, or "" for no conversion line
	}{{"", ""}, {"int8", ""}, {"bf16", "weights int8 → bf16"}} {
		stdout.Reset()
		stderr.Reset()
		a := []string{"bench", "infer", "--checkpoint", dir, "--batch", "2", "--seq", "16", "--prompt", "4", "--gen", "4", "--reps", "1"}
		if tc.dtype != "" {
			a = append(a, "--dtype", tc.dtype)
		}
		if code := run(a, &stdout, &stderr); code != 0 {
			t.Fatalf("--dtype %q: exit %d: %s", tc.dtype, code, stderr.String())
		}
		converted := strings.Contains(stderr.String(), "weights int8 → ")
		if converted != (tc.want != "") || (tc.want != "" && !strings.Contains(stderr.String(), tc.want)) {
			t.Errorf("--dtype %q: stderr %s", tc.dtype, stderr.String())
		}
	}
}
