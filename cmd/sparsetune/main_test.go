package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExitCodes checks the CLI's contract: 0 success, 1 run error with one
// clear line, 2 usage error, never a Go stack trace.
func TestExitCodes(t *testing.T) {
	fixture := filepath.Join("..", "..", "testdata", "fixtures", "gpt2")
	in := filepath.Join(t.TempDir(), "in.jsonl")
	os.WriteFile(in, []byte("{\"ids\": [1, 2, 3]}\n"), 0o644)
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("{\"ids\": [1, 2\n"), 0o644)
	cases := []struct {
		args []string
		code int
		want string // in stderr (or stdout for success)
	}{
		{nil, 2, "Usage"},
		{[]string{"help"}, 0, "Commands"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"score", "--bogus"}, 2, "unknown flag"},
		{[]string{"score"}, 2, "--data and one of --model and --checkpoint are required"},
		{[]string{"eval", "--model", fixture, "--checkpoint", fixture, "--data", in}, 2, "one of --model and --checkpoint"},
		{[]string{"harden", "--checkpoint", "/nonexistent", "--out", t.TempDir()}, 1, "nonexistent"},
		{[]string{"harden", "--checkpoint", fixture}, 2, "--out"},
		{[]string{"harden", "--checkpoint", fixture, "--out", t.TempDir(), "--calibrate-on", "/nonexistent.jsonl"}, 2, "--calibrate-on"},
		{[]string{"harden", "--checkpoint", fixture, "--out", t.TempDir(), "--data", in, "--calibrate-on", "train"}, 2, "not both"},
		{[]string{"harden", "--checkpoint", fixture, "--out", t.TempDir(), "--prune-below", "0.5", "--dense-above", "0.4"}, 2, "prune_below"},
		{[]string{"generate", "--checkpoint", fixture, "--prompt", "hi"}, 1, "sparse.json"},
		{[]string{"bench", "infer"}, 2, "--synthetic"},
		{[]string{"bench", "infer", "--synthetic", "--target", "1.5"}, 2, "--target"},
		{[]string{"bench", "infer", "--synthetic", "--layers", "1", "--d-model", "32", "--heads", "2", "--ffn", "64", "--vocab", "50",
			"--group-size", "16", "--batch", "2", "--seq", "8", "--prompt", "2", "--gen", "3", "--reps", "1"}, 0, `"decode_speedup"`},
		{[]string{"score", "--help"}, 0, "--per-token"},
		{[]string{"train", "--help"}, 0, "--grad-accum"},
		{[]string{"eval", "--help"}, 0, "--data"},
		{[]string{"inspect", "--help"}, 0, "--tensors"},
		{[]string{"bench", "train", "--help"}, 0, "--d-model"},
		{[]string{"score", "--model", fixture, "--data", in}, 0, `"logprob"`},
		{[]string{"score", "--model", fixture, "--data", bad}, 1, "bad.jsonl:1: malformed JSON"},
		{[]string{"score", "--model", "/nonexistent", "--data", in}, 1, "no config.json"},
		{[]string{"train", "--model", fixture, "--train", "/nonexistent.jsonl", "--out-dir", t.TempDir()}, 1, ""},
		{[]string{"train", "--model", fixture, "--train", in, "--lr", "-1"}, 2, "lr must be"},
		{[]string{"train", "--model", fixture, "--train", in, "--config", "/nonexistent.json"}, 2, "nonexistent.json"},
		{[]string{"inspect", fixture}, 0, "parameters:"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, code, c.code, errb.String())
			continue
		}
		all := out.String() + errb.String()
		if !strings.Contains(all, c.want) {
			t.Errorf("%v: output does not mention %q: %q", c.args, c.want, all)
		}
		if strings.Contains(all, "goroutine ") || strings.Contains(all, "panic:") {
			t.Errorf("%v: stack trace in output: %q", c.args, all)
		}
		if c.code != 0 && strings.Count(strings.TrimSpace(errb.String()), "\n") > 0 {
			t.Errorf("%v: run error spans several lines: %q", c.args, errb.String())
		}
	}
}

// TestConfigFileRejectsUnknownKeys and layers flags over the file.
func TestConfigFileLayering(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.json")
	os.WriteFile(p, []byte(`{"steps": 7, "lr": 0.01}`), 0o644)
	fs := newFlags("train", "", &bytes.Buffer{})
	fc := defaultForTest()
	trainFlags(fs, &fc)
	if err := fs.Parse([]string{"--lr", "0.5"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := resolveConfig(fs, &fc, p, defaultForTest())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Steps != 7 || cfg.LR != 0.5 || cfg.Batch != defaultForTest().Batch {
		t.Fatalf("defaults → file → flags layering broken: steps %d lr %g batch %d", cfg.Steps, cfg.LR, cfg.Batch)
	}
	os.WriteFile(p, []byte(`{"stepz": 7}`), 0o644)
	if _, err := resolveConfig(fs, &fc, p, defaultForTest()); err == nil || !strings.Contains(err.Error(), "stepz") {
		t.Fatalf("unknown key accepted: %v", err)
	}
}
