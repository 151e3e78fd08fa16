package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/checkpoints"
)

// outCase is one command line and what it must do.
type outCase struct {
	name string
	args []string
	code int
	want string
}

func runOutCases(t *testing.T, cases []outCase) {
	t.Helper()
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(c.args, &stdout, &stderr)
		all := stdout.String() + stderr.String()
		if code != c.code || !strings.Contains(all, c.want) {
			t.Errorf("%s: %v: exit %d, want %d with %q; output %q", c.name, c.args, code, c.code, c.want, all)
		}
		if c.code == 2 && strings.Count(strings.TrimSpace(stderr.String()), "\n") > 0 {
			t.Errorf("%s: usage error spans several lines: %q", c.name, stderr.String())
		}
	}
}

// fileID is a fingerprint of a file's contents, to check nothing changed.
func fileID(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s was lost: %v", path, err)
	}
	return string(b)
}

// TestExportRefusesForeignOrInputOut: export replaces only an earlier
// export (or, with --force, another non-empty directory), and never its
// input or a directory containing it or inside it.
func TestExportRefusesForeignOrInputOut(t *testing.T) {
	in := sparseFixture(t, false)
	weights := filepath.Join(in, "model.safetensors")
	before := fileID(t, weights)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o755)
	os.WriteFile(filepath.Join(data, "train.jsonl"), []byte("{\"text\": \"keep me\"}\n"), 0o644)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(in, link); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	exp := func(out string, extra ...string) []string {
		return append([]string{"export", "--checkpoint", in, "--out", out}, extra...)
	}
	runOutCases(t, []outCase{
		{"the input itself", exp(in, "--force"), 2, "--out " + in + " is the input --checkpoint"},
		{"the input through a link", exp(link, "--force"), 2, "is the input --checkpoint"},
		{"a directory holding the input", exp(filepath.Dir(in), "--force"), 2, "contains the input --checkpoint"},
		{"inside the input", exp(filepath.Join(in, "hf"), "--force"), 2, "is inside the input --checkpoint"},
		{"a data directory", exp(data), 2, "is a non-empty directory that is not an earlier export"},
		{"a file", exp(file, "--force"), 2, "exists and is not a directory"},
	})
	if got := fileID(t, weights); got != before {
		t.Fatal("a refused export changed the input checkpoint")
	}
	fileID(t, filepath.Join(data, "train.jsonl"))
	fileID(t, file)

	out := filepath.Join(dir, "hf")
	runOutCases(t, []outCase{
		{"a new directory", exp(out), 0, "exported"},
		{"an earlier export", exp(out), 0, "exported"},
		{"a data directory with --force", exp(data, "--force"), 0, "exported"},
	})
	if !checkpoints.IsExportDir(data) {
		t.Error("--force did not replace the data directory with an export")
	}
}

// TestExportHealsHalfSwappedCheckpoint: a sparse checkpoint that an
// earlier release's writer left moved aside (killed between its renames)
// is found again, not reported missing.
func TestExportHealsHalfSwappedCheckpoint(t *testing.T) {
	in := sparseFixture(t, false)
	if err := os.Rename(in, filepath.Join(filepath.Dir(in), "."+filepath.Base(in)+".tmp-42.old")); err != nil {
		t.Fatal(err)
	}
	runOutCases(t, []outCase{{"half-swapped input", []string{"export", "--checkpoint", in, "--out", filepath.Join(t.TempDir(), "hf")}, 0, "exported"}})
}

// fakeRun makes a run directory whose best checkpoint names the run's
// training data dataDir/train.jsonl; it is enough for harden's checks on
// --out, which come before anything is loaded.
func fakeRun(t *testing.T, dataDir string) string {
	t.Helper()
	run := filepath.Join(t.TempDir(), "run")
	best := filepath.Join(run, "best")
	os.MkdirAll(best, 0o755)
	os.WriteFile(filepath.Join(best, checkpoints.StateFile), []byte(`{"step": 3}`), 0o644)
	os.WriteFile(filepath.Join(best, checkpoints.ConfigFile), []byte(`{"train": "`+filepath.Join(dataDir, "train.jsonl")+`", "target": 0.5}`), 0o644)
	return run
}

// TestHardenRefusesForeignOrInputOut: harden replaces only a sparse
// checkpoint (or, with --force, another non-empty directory) and never the
// run, its checkpoint or the data it reads.
func TestHardenRefusesForeignOrInputOut(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	os.MkdirAll(data, 0o755)
	os.WriteFile(filepath.Join(data, "train.jsonl"), []byte("{\"text\": \"keep me\"}\n"), 0o644)
	calib := filepath.Join(t.TempDir(), "calib.jsonl")
	os.WriteFile(calib, []byte("{\"text\": \"x\"}\n"), 0o644)
	runDir := fakeRun(t, data)
	hard := func(out string, extra ...string) []string {
		return append([]string{"harden", "--checkpoint", runDir, "--out", out}, extra...)
	}
	other := filepath.Join(t.TempDir(), "other")
	os.MkdirAll(other, 0o755)
	os.WriteFile(filepath.Join(other, "notes.txt"), []byte("mine"), 0o644)
	runOutCases(t, []outCase{
		{"the run directory", hard(runDir, "--force"), 2, "contains the input --checkpoint " + filepath.Join(runDir, "best")},
		{"the best checkpoint", hard(filepath.Join(runDir, "best"), "--force"), 2, "is the input --checkpoint"},
		{"the run's data directory", hard(data, "--force"), 2, "contains the run's training data"},
		{"the calibration file", hard(calib, "--data", calib, "--force"), 2, "is the input --data"},
		{"a foreign directory", hard(other), 2, "is a non-empty directory that is not a sparse checkpoint"},
	})
	fileID(t, filepath.Join(data, "train.jsonl"))
	fileID(t, filepath.Join(runDir, "best", checkpoints.StateFile))
	fileID(t, filepath.Join(other, "notes.txt"))
	// Past the checks (an earlier sparse checkpoint, or --force), the fake
	// runDir fails to load: a runDir error, not a usage error, and --out is kept.
	sparse := sparseFixture(t, false)
	for _, args := range [][]string{hard(sparse), hard(other, "--force"), hard(filepath.Join(runDir, "sparse"))} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 1 {
			t.Errorf("%v: exit %d, want 1 (the fake runDir does not load): %s", args, code, stderr.String())
		}
	}
	fileID(t, filepath.Join(other, "notes.txt"))
	fileID(t, filepath.Join(sparse, "sparse.json"))
}

// TestScoreAndCoresetRefuseBadOut: a file output is never an input file
// (by path or as the same file) or an existing directory.
func TestScoreAndCoresetRefuseBadOut(t *testing.T) {
	fixture := filepath.Join("..", "..", "testdata", "fixtures", "gpt2")
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	os.WriteFile(in, []byte("{\"id\": \"a\", \"text\": \"one two\", \"label\": \"0\"}\n{\"id\": \"b\", \"text\": \"three\", \"label\": \"1\"}\n"), 0o644)
	hard := filepath.Join(dir, "hard.jsonl")
	if err := os.Link(in, hard); err != nil {
		t.Fatal(err)
	}
	before := fileID(t, in)
	score := func(out string) []string {
		return []string{"score", "--model", fixture, "--data", in, "--out", out}
	}
	coreset := func(out string) []string {
		return []string{"coreset", "--data", in, "--method", "random", "--ratio", "0.5", "--out", out}
	}
	runOutCases(t, []outCase{
		{"score over its input", score(in), 2, "--out " + in + " is the input --data"},
		{"score over a hard link to its input", score(hard), 2, "is the input --data"},
		{"score into a directory", score(dir), 2, "--out " + dir + " is a directory"},
		{"score into the model directory", score(filepath.Join(fixture, "scores.jsonl")), 2, "is inside the input --model"},
		{"coreset over its input", coreset(in), 2, "is the input --data"},
		{"coreset into a directory", coreset(dir), 2, "is a directory"},
	})
	if got := fileID(t, in); got != before {
		t.Fatal("a refused command changed its input")
	}
	if _, err := os.Stat(filepath.Join(fixture, "scores.jsonl")); err == nil {
		t.Fatal("score wrote into the model directory")
	}
	ids := filepath.Join(dir, "ids.jsonl")
	os.WriteFile(ids, []byte("{\"ids\": [1, 2, 3]}\n"), 0o644)
	ok := []string{"score", "--model", fixture, "--data", ids, "--out", filepath.Join(dir, "scores.jsonl")}
	runOutCases(t, []outCase{{"score to a new file", ok, 0, ""}})
	if b := fileID(t, filepath.Join(dir, "scores.jsonl")); !strings.Contains(b, "logprob") {
		t.Errorf("scores: %q", b)
	}
}

// TestScoreHealsHalfSwappedModel: a model directory that a killed save left
// between its two renames (only the complete ".DIR.new" beside it) is put
// back and scored, not reported missing.
func TestScoreHealsHalfSwappedModel(t *testing.T) {
	fixture := filepath.Join("..", "..", "testdata", "fixtures", "gpt2")
	dir := t.TempDir()
	aside := filepath.Join(dir, ".model.new")
	os.MkdirAll(aside, 0o755)
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(fixture, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(aside, f), b, 0o644)
	}
	ids := filepath.Join(dir, "ids.jsonl")
	os.WriteFile(ids, []byte("{\"ids\": [1, 2, 3]}\n"), 0o644)
	runOutCases(t, []outCase{{"half-swapped model", []string{"score", "--model", filepath.Join(dir, "model"), "--data", ids}, 0, "logprob"}})
}
