package coreset

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/internal/jsonfile"
	"github.com/sparsetune/sparsetune/internal/testmodel"
	"github.com/sparsetune/sparsetune/train"
)

// TestCoresetRunResumes: a run on a coreset subset resumes with the
// settings the subset was chosen with (task, ids), so its config equals
// the saved one even when the task was left to the model.
func TestCoresetRunResumes(t *testing.T) {
	model := testmodel.Dir(t, true)
	dir := t.TempDir()
	data := testmodel.Topic(t, dir, 24)
	c := tinyRun(t, model, data, filepath.Join(dir, "run"))
	c.Valid, c.Coreset, c.CoresetRatio, c.IDField = data, MethodRandom, 0.5, "-"
	trainCut(t, c, 7)
	resumeToEnd(t, c)
}

// TestResumeRefusesChangedCoresetSettings: the coreset settings are the
// run's, as train's are: a resume that changes the ratio is refused in one
// line naming the key and the file, before anything is written.
func TestResumeRefusesChangedCoresetSettings(t *testing.T) {
	model := testmodel.Dir(t, true)
	dir := t.TempDir()
	data := testmodel.Topic(t, dir, 24)
	c := tinyRun(t, model, data, filepath.Join(dir, "run"))
	c.Valid, c.Coreset, c.CoresetRatio, c.IDField = data, MethodRandom, 0.5, "-"
	trainCut(t, c, 4)
	c.Resume, c.CoresetRatio = true, 0.25
	var log strings.Builder
	_, err := Train(c, &log)
	saved := filepath.Join(c.OutDir, "coreset", SettingsFile)
	want := "--resume: changed coreset_ratio 0.5 -> 0.25; these cannot change on resume (give the run's settings, saved in " + saved + ", or start a new --out-dir)"
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	if log.Len() > 0 {
		t.Errorf("a refused resume logged:\n%s", log.String())
	}
}

// oldConfig is the train_config.json of a coreset run (ccs at ratio 0.5,
// dynamics every 4 steps) saved verbatim by sparsetune before the coreset
// settings left train.Config.
const oldConfig = "testdata/old_coreset_train_config.json"

// TestOldCoresetConfigLoads: the old file still loads as a --config, its
// coreset keys into the settings.
func TestOldCoresetConfigLoads(t *testing.T) {
	c := DefaultConfig()
	if err := c.LoadConfigFile(oldConfig); err != nil {
		t.Fatal(err)
	}
	if c.Coreset != MethodCCS || c.CoresetRatio != 0.5 || c.DynamicsEvery != 4 || c.CoresetScore != "aum" ||
		c.Task != train.TaskClassification || c.Steps != 16 || c.Target != 0.5 || c.Router != "sigmoid" {
		t.Errorf("loaded %+v", c)
	}
}

// TestOldCoresetRunResumes: a run directory from before the coreset
// settings left train.Config, whose checkpoints' train_config.json hold
// them (as oldConfig does), resumes with its settings read from there; a
// change of one is refused.
func TestOldCoresetRunResumes(t *testing.T) {
	model := testmodel.Dir(t, true)
	dir := t.TempDir()
	data := testmodel.Topic(t, dir, 24)
	c := tinyRun(t, model, data, filepath.Join(dir, "run"))
	c.Valid, c.IDField = data, "-"
	if err := jsonfile.Read(oldConfig, &c.Settings); err != nil { // ccs at 0.5, as the old run chose
		t.Fatal(err)
	}
	trainCut(t, c, 7)
	// Make the run an old one: no settings file, and the old run's coreset
	// keys in each checkpoint's train_config.json.
	if err := os.Remove(filepath.Join(c.OutDir, "coreset", SettingsFile)); err != nil {
		t.Fatal(err)
	}
	var old map[string]any
	if err := jsonfile.Read(oldConfig, &old); err != nil {
		t.Fatal(err)
	}
	saved, _ := filepath.Glob(filepath.Join(c.OutDir, "*", "train_config.json"))
	if len(saved) == 0 {
		t.Fatal("no checkpoint")
	}
	for _, p := range saved {
		var cfg map[string]any
		if err := jsonfile.Read(p, &cfg); err != nil {
			t.Fatal(err)
		}
		for k, v := range old {
			if strings.HasPrefix(k, "coreset") || strings.Contains(k, "dynamics") {
				cfg[k] = v
			}
		}
		if err := jsonfile.Write(p, cfg); err != nil {
			t.Fatal(err)
		}
	}
	changed := c
	changed.Resume, changed.CoresetScore = true, "el2n"
	if _, err := Train(changed, io.Discard); err == nil || !strings.Contains(err.Error(), `changed coreset_score "aum" -> "el2n"`) {
		t.Errorf("a changed setting of an old run: %v", err)
	}
	resumeToEnd(t, c)
	if _, err := os.Stat(filepath.Join(c.OutDir, "coreset", SettingsFile)); err != nil {
		t.Errorf("the old run's settings were not kept where a new run has them: %v", err)
	}
}

// resumeToEnd resumes the cut run c, which must reuse its subset and
// train to its last step.
func resumeToEnd(t *testing.T, c Config) {
	t.Helper()
	c.Resume = true
	var log strings.Builder
	sum, err := Train(c, &log)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Steps != c.Steps || !strings.Contains(log.String(), "coreset: resuming with the subset") {
		t.Errorf("resumed to step %d; log:\n%s", sum.Steps, log.String())
	}
}
