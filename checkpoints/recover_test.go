package checkpoints

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func stepOf(t *testing.T, dir string) int {
	t.Helper()
	var st struct{ Step int }
	if err := ReadState(dir, &st); err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return st.Step
}

// TestRecoverRunDir builds what killed runs of this and earlier releases
// leave in a run directory and checks that Recover keeps exactly the
// complete checkpoints and the run's own files.
func TestRecoverRunDir(t *testing.T) {
	run := t.TempDir()
	m := tinyModel(t)
	save := func(name string, step int) {
		t.Helper()
		if _, err := Save(run, name, m, Contents{Optimizer: []byte{1}, State: map[string]int{"step": step}}); err != nil {
			t.Fatal(err)
		}
	}
	save("checkpoint-4", 4)
	save("checkpoint-5", 5)
	save("checkpoint-6", 6)
	save("best", 5)
	if err := SetLatest(run, "checkpoint-5"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(run, "metrics.jsonl"), []byte("{}\n"))
	// A prune killed half-way through deleting checkpoint-6 in place (an
	// earlier release): only its optimizer state is left.
	for _, f := range []string{StateFile, modelConfigFile, modelWeightsFile} {
		os.Remove(filepath.Join(run, "checkpoint-6", f))
	}
	// A save killed while writing checkpoint-7, a latest pointer killed
	// before its rename, a prune killed after its rename.
	os.MkdirAll(filepath.Join(run, ".checkpoint-7.tmp-123", "x"), 0o755)
	writeFile(t, filepath.Join(run, ".latest.tmp-0a1b"), []byte("checkpoint-7\n"))
	if err := os.Rename(filepath.Join(run, "checkpoint-4"), filepath.Join(run, ".checkpoint-4.deleting")); err != nil {
		t.Fatal(err)
	}
	// best cut between the two renames of an earlier release's Save.
	if err := os.Rename(filepath.Join(run, "best"), filepath.Join(run, "best.old")); err != nil {
		t.Fatal(err)
	}
	if err := Recover(run); err != nil {
		t.Fatal(err)
	}
	want := []string{"best", "checkpoint-5", "latest", "metrics.jsonl"}
	if got := dirNames(t, run); !slices.Equal(got, want) {
		t.Fatalf("after Recover the run holds %q, want %q", got, want)
	}
	if got := stepOf(t, filepath.Join(run, "best")); got != 5 {
		t.Errorf("restored best is at step %d, want 5", got)
	}
	if p, err := Latest(run); err != nil || filepath.Base(p) != "checkpoint-5" {
		t.Errorf("latest after Recover: %q, %v", p, err)
	}
}

// TestRecoverKeepsIncompleteLatest: a checkpoint that "latest" names is
// never removed, even when it is incomplete; resuming reports it.
func TestRecoverKeepsIncompleteLatest(t *testing.T) {
	run := t.TempDir()
	if _, err := Save(run, "checkpoint-3", tinyModel(t), Contents{State: map[string]int{"step": 3}}); err != nil {
		t.Fatal(err)
	}
	SetLatest(run, "checkpoint-3")
	os.Remove(filepath.Join(run, "checkpoint-3", modelWeightsFile))
	if err := Recover(run); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(run, "checkpoint-3")); err != nil {
		t.Fatalf("Recover removed the latest checkpoint: %v", err)
	}
	if err := Recover(filepath.Join(run, "no-such-run")); err != nil {
		t.Fatalf("Recover of a missing run directory: %v", err)
	}
}

// TestSaveFinishesInterruptedSwap: a Save killed between its renames
// leaves best missing; reading commands (Heal) and the next Save (and
// Recover) bring it back without deleting anything a live writer needs.
func TestSaveFinishesInterruptedSwap(t *testing.T) {
	run := t.TempDir()
	m := tinyModel(t)
	if _, err := Save(run, "best", m, Contents{State: map[string]int{"step": 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Save(run, "next", m, Contents{State: map[string]int{"step": 2}}); err != nil {
		t.Fatal(err)
	}
	// The state between the renames: new complete beside, old aside.
	os.Rename(filepath.Join(run, "best"), filepath.Join(run, ".best.old"))
	os.Rename(filepath.Join(run, "next"), filepath.Join(run, ".best.new"))
	os.MkdirAll(filepath.Join(run, ".best.tmp-9"), 0o755)
	if err := Heal(run); err != nil {
		t.Fatal(err)
	}
	if got := stepOf(t, filepath.Join(run, "best")); got != 2 {
		t.Errorf("healed best is at step %d, want the finished swap's 2", got)
	}
	if got := dirNames(t, run); !slices.Contains(got, ".best.tmp-9") {
		t.Errorf("Heal removed a temporary a live writer may own: %q", got)
	}
	if _, err := Save(run, "best", m, Contents{State: map[string]int{"step": 3}}); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, run); !slices.Equal(got, []string{"best"}) {
		t.Errorf("after the next Save the run holds %q, want only best", got)
	}
}

// TestHealLegacyCheckpoint: a checkpoint an earlier release's Save left
// as "<name>.old" is found again when a reader opens it by name.
func TestHealLegacyCheckpoint(t *testing.T) {
	run := t.TempDir()
	if _, err := Save(run, "best", tinyModel(t), Contents{State: map[string]int{"step": 7}}); err != nil {
		t.Fatal(err)
	}
	os.Rename(filepath.Join(run, "best"), filepath.Join(run, "best.old"))
	if err := Heal(filepath.Join(run, "best")); err != nil {
		t.Fatal(err)
	}
	if got := stepOf(t, filepath.Join(run, "best")); got != 7 {
		t.Errorf("best at step %d, want 7", got)
	}
}

// TestSparseHealsInterruptedReplace: an earlier release's WriteSparse
// killed between its renames left only ".<dir>.tmp-N.old"; ReadSparse
// finds the checkpoint again and the next WriteSparse leaves no sibling.
func TestSparseHealsInterruptedReplace(t *testing.T) {
	dir, s := writeTiny(t, "gpt2", false)
	parent := filepath.Dir(dir)
	aside := filepath.Join(parent, "."+filepath.Base(dir)+".tmp-1234.old")
	if err := os.Rename(dir, aside); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSparse(dir); err != nil {
		t.Fatalf("ReadSparse of a half-swapped checkpoint: %v", err)
	}
	os.Rename(dir, aside)
	os.MkdirAll(filepath.Join(parent, "."+filepath.Base(dir)+".tmp-1234"), 0o755)
	if err := WriteSparse(dir, s, "", nil); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, parent); !slices.Equal(got, []string{filepath.Base(dir)}) {
		t.Errorf("after WriteSparse the parent holds %q", got)
	}
}

// TestPruneLeavesNoHalfCheckpoint: pruned checkpoints disappear whole,
// through a hidden name, and nothing of them is left.
func TestPruneLeavesNoHalfCheckpoint(t *testing.T) {
	run := t.TempDir()
	m := tinyModel(t)
	for _, n := range []string{"checkpoint-1", "checkpoint-2", "checkpoint-3"} {
		if _, err := Save(run, n, m, Contents{State: map[string]int{"step": 1}}); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(run, ".checkpoint-1.deleting"), 0o755) // an earlier crash's leftover
	if err := Prune(run, 1, "checkpoint-3"); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, run); !slices.Equal(got, []string{"checkpoint-3"}) {
		t.Fatalf("after Prune the run holds %q", got)
	}
}

func TestOutputKinds(t *testing.T) {
	dir, _ := writeTiny(t, "gpt2", true)
	s, err := ReadSparse(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !IsSparseDir(dir) || IsExportDir(dir) {
		t.Errorf("sparse checkpoint: IsSparseDir %v, IsExportDir %v", IsSparseDir(dir), IsExportDir(dir))
	}
	out := filepath.Join(t.TempDir(), "hf")
	if err := ExportHF(s, out, "", nil); err != nil {
		t.Fatal(err)
	}
	if IsSparseDir(out) || !IsExportDir(out) {
		t.Errorf("export: IsSparseDir %v, IsExportDir %v", IsSparseDir(out), IsExportDir(out))
	}
	b, _ := os.ReadFile(filepath.Join(out, ExportMarkerFile))
	if s.Manifest.ContentHash == "" || !strings.Contains(string(b), s.Manifest.ContentHash) {
		t.Errorf("marker %s does not name the source", b)
	}
	if IsSparseDir(t.TempDir()) || IsExportDir(filepath.Join(out, "nope")) {
		t.Error("an empty or missing directory counts as an output")
	}
}
