package checkpoints

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/nn"
)

func tinyModel(t *testing.T) *nn.Model {
	t.Helper()
	c, err := nn.ParseConfig([]byte(`{"model_type":"gpt2","architectures":["GPT2LMHeadModel"],"vocab_size":11,"n_embd":8,"n_layer":1,"n_head":2,"n_positions":8}`))
	if err != nil {
		t.Fatal(err)
	}
	return &nn.Model{Config: c, Params: nn.InitParams(c, 1, tensor.Float32)}
}

func TestSaveLatestPrune(t *testing.T) {
	run := t.TempDir()
	m := tinyModel(t)
	if p, err := Latest(run); err != nil || p != "" {
		t.Fatalf("empty run: latest %q, %v", p, err)
	}
	for _, step := range []int{10, 20, 30} {
		name := "checkpoint-" + string(rune('0'+step/10)) + "0"
		if _, err := Save(run, name, m, Contents{Optimizer: []byte{1, 2}, State: map[string]int{"step": step}}); err != nil {
			t.Fatal(err)
		}
		if err := SetLatest(run, name); err != nil {
			t.Fatal(err)
		}
	}
	latest, err := Latest(run)
	if err != nil || filepath.Base(latest) != "checkpoint-30" {
		t.Fatalf("latest %q, %v", latest, err)
	}
	var st struct{ Step int }
	if err := ReadState(latest, &st); err != nil || st.Step != 30 {
		t.Fatalf("state %+v, %v", st, err)
	}
	if b, err := ReadOptimizer(latest); err != nil || len(b) != 2 {
		t.Fatalf("optimizer %v, %v", b, err)
	}
	if _, err := nn.Load(latest, nn.LoadOptions{}); err != nil {
		t.Fatalf("a checkpoint is not a loadable model directory: %v", err)
	}
	if err := Prune(run, 2, "checkpoint-30"); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(run)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	got := strings.Join(names, " ")
	if strings.Contains(got, "checkpoint-10") || !strings.Contains(got, "checkpoint-20") || strings.Contains(got, ".tmp-") {
		t.Fatalf("after pruning to 2: %s", got)
	}
}

// TestSaveReplacesAtomically: re-saving a name replaces it whole, and a
// failed save leaves the previous checkpoint untouched.
func TestSaveReplacesAtomically(t *testing.T) {
	run := t.TempDir()
	m := tinyModel(t)
	if _, err := Save(run, "best", m, Contents{State: map[string]int{"step": 1}}); err != nil {
		t.Fatal(err)
	}
	_, err := Save(run, "best", m, Contents{State: map[string]int{"step": 2}, Extra: []string{"missing.txt"}, ExtraFrom: run})
	if err == nil {
		t.Fatal("a save copying a missing file succeeded")
	}
	var st struct{ Step int }
	if err := ReadState(filepath.Join(run, "best"), &st); err != nil || st.Step != 1 {
		t.Fatalf("the failed save changed best: %+v %v", st, err)
	}
	entries, _ := os.ReadDir(run)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temporary directory left behind: %s", e.Name())
		}
	}
	os.WriteFile(filepath.Join(run, latestFile), []byte("../etc\n"), 0o644)
	if _, err := Latest(run); err == nil {
		t.Fatal("a latest pointer leaving the run directory was accepted")
	}
}
