package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResumeRecoversKilledRunDir resumes a run whose directory holds what
// SIGKILLs leave behind: a checkpoint being written, a latest pointer being
// replaced, a prune cut after its rename and one cut half-way through an
// earlier release's in-place delete, and best cut between the renames of
// its replacement. The resumed run must continue exactly and leave none of
// it behind.
func TestResumeRecoversKilledRunDir(t *testing.T) {
	full, cut := fullAndCut(t, t.TempDir())
	run := cut.OutDir
	mk := func(name string) {
		if err := os.MkdirAll(filepath.Join(run, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mk(".checkpoint-99.tmp-12345/sub")
	mk(".checkpoint-98.deleting")
	mk("checkpoint-1")
	os.WriteFile(filepath.Join(run, "checkpoint-1", "optimizer.bin"), []byte{1}, 0o644)
	os.WriteFile(filepath.Join(run, ".latest.tmp-0123abcd"), []byte("checkpoint-99\n"), 0o644)
	if err := os.Rename(filepath.Join(run, "best"), filepath.Join(run, ".best.old")); err != nil {
		t.Fatal(err)
	}
	resumeMatches(t, full, cut)
	entries, err := os.ReadDir(run)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		n := e.Name()
		if strings.Contains(n, ".tmp-") || strings.HasSuffix(n, ".old") || strings.HasSuffix(n, ".deleting") || strings.HasSuffix(n, ".new") || n == "checkpoint-1" {
			t.Errorf("left in the run directory after resuming: %s", n)
		}
	}
	if _, err := os.Stat(filepath.Join(run, "best", "trainer_state.json")); err != nil {
		t.Fatalf("best is missing after resuming: %v", err)
	}
	// A save of best killed between its renames; eval finds best again.
	best := filepath.Join(run, "best")
	if err := os.Rename(best, filepath.Join(run, ".best.new")); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenEvalModel(best, 0); err != nil {
		t.Fatalf("eval of a half-swapped best: %v", err)
	}
}
