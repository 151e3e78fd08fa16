package train

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/internal/testmodel"
)

// dirState maps each file under dir to its contents, to check that a
// refused run changed nothing. The lock file and the token cache (tinyRun
// keeps it in the run directory; a new sequence length adds a file) are
// left out.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() && fi.Name() == "cache" {
			return filepath.SkipDir
		}
		if err != nil || fi.IsDir() || fi.Name() == ".lock" {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameState(t *testing.T, what string, a, b map[string]string) {
	t.Helper()
	if len(a) != len(b) {
		t.Errorf("%s: %d files before, %d after", what, len(a), len(b))
	}
	for p, s := range a {
		if b[p] != s {
			t.Errorf("%s: %s changed", what, p)
		}
	}
}

// TestResumeRefusesChangedSettings: a resume that changes the learning
// rate and the sequence length is refused in one line naming both, before
// anything in the run directory changes; one that changes only what may
// change (steps of a dense run, log_every, ...) continues, also from a
// train_config.json older than some keys.
func TestResumeRefusesChangedSettings(t *testing.T) {
	dir := t.TempDir()
	cut := tinyRun(t, testmodel.Dir(t, true), testmodel.Topic(t, dir, 40), filepath.Join(dir, "run"))
	cut.Task = TaskClassification
	runCut(t, cut, 7)
	before := dirState(t, cut.OutDir)
	changed := cut
	changed.Resume, changed.LR, changed.SeqLen = true, 1e-3, 16
	var refusal strings.Builder
	_, err := Run(changed, &refusal)
	if refusal.Len() > 0 { // the refusal is the command's one line: nothing logged before it
		t.Errorf("a refused resume logged:\n%s", refusal.String())
	}
	saved := filepath.Join(cut.OutDir, "checkpoint-6", "train_config.json")
	want := "--resume: changed seq_len 32 -> 16, lr 0.003 -> 0.001; these cannot change on resume (give the run's settings, saved in " + saved + ", or start a new --out-dir)"
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	sameState(t, "refused resume", before, dirState(t, cut.OutDir))

	// An older run's config, without keys added since: their defaults.
	b, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"coreset_proxy"`, `"from_scratch"`} {
		lines := strings.Split(string(b), "\n")
		for i, l := range lines {
			if strings.Contains(l, key) {
				lines = append(lines[:i], lines[i+1:]...)
				break
			}
		}
		b = []byte(strings.Join(lines, "\n"))
	}
	b = bytes.Replace(b, []byte(",\n}"), []byte("\n}"), 1)
	if err := os.WriteFile(saved, b, 0o644); err != nil {
		t.Fatal(err)
	}
	more := cut
	more.Resume, more.Steps, more.LogEvery, more.EvalEvery, more.SaveEvery = true, 15, 5, 5, 5
	var log strings.Builder
	sum, err := Run(more, &log)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Steps != 15 || !strings.Contains(log.String(), "resume: steps 12 -> 15") {
		t.Errorf("resumed to %d steps, want 15; log:\n%s", sum.Steps, log.String())
	}
}

// TestFailedRunDoesNotBlockRerun: a directory holding only what a run that
// failed before its first step leaves (a stale lock file, an empty metrics
// file, the token cache) takes a new run without --resume.
func TestFailedRunDoesNotBlockRerun(t *testing.T) {
	dir := t.TempDir()
	c := tinyRun(t, testmodel.Dir(t, true), testmodel.Topic(t, dir, 40), filepath.Join(dir, "run"))
	c.Task, c.Steps = "classification", 2
	os.MkdirAll(c.CacheDir, 0o755)
	for _, f := range []string{".lock", "metrics.jsonl"} {
		if err := os.WriteFile(filepath.Join(c.OutDir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if HoldsRun(c.OutDir) {
		t.Fatal("HoldsRun: true for a directory holding no result")
	}
	if _, err := Run(c, io.Discard); err != nil {
		t.Fatalf("rerun into a failed run's directory: %v", err)
	}
	if !HoldsRun(c.OutDir) {
		t.Fatal("HoldsRun: false after a run")
	}
	_, err := Run(c, io.Discard)
	want := "out_dir " + c.OutDir + " already holds a training run (latest checkpoint at step 2); pass --resume to continue it or choose another --out-dir (nothing was changed)"
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

// TestCheckFresh: what each kind of earlier content says.
func TestCheckFresh(t *testing.T) {
	dir := t.TempDir()
	if err := checkFresh(dir); err != nil {
		t.Fatalf("empty directory: %v", err)
	}
	metrics := `{"step":1,"loss":2}` + "\n" + `{"step":4,"loss":1}` + "\n" + `{"step":4,"split":"valid"}` + "\n"
	os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte(metrics), 0o644)
	err := checkFresh(dir)
	if err == nil || !strings.Contains(err.Error(), "holds the metrics of a run that stopped at step 4 before its first checkpoint; pass --resume") {
		t.Errorf("metrics only: %v", err)
	}
	os.Mkdir(filepath.Join(dir, "checkpoint-3"), 0o755) // no latest pointer yet
	err = checkFresh(dir)
	if err == nil || !strings.Contains(err.Error(), "already holds a training run; pass --resume") {
		t.Errorf("a checkpoint without latest: %v", err)
	}
}
