package train

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/checkpoints"
)

// savedCheckpoint writes a checkpoint directory holding only cfg as its
// train_config.json, without the keys drop (as a run older than them
// saved it).
func savedCheckpoint(t *testing.T, cfg Config, drop ...string) string {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range drop {
		if _, ok := m[k]; !ok {
			t.Fatalf("no key %q in Config", k)
		}
		delete(m, k)
	}
	b, _ = json.Marshal(m)
	dir := filepath.Join(t.TempDir(), "checkpoint-6")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, checkpoints.ConfigFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func resumeBase() Config {
	c := DefaultConfig()
	c.Model, c.Train, c.OutDir, c.SeqLen, c.CacheDir = "models/gpt2", "data/train.jsonl", "runs/a", 128, "runs/.cache"
	return c
}

func TestResumeConfigNamesChangedKeys(t *testing.T) {
	saved := resumeBase()
	ckpt := savedCheckpoint(t, saved)
	cfg := saved
	cfg.LR, cfg.SeqLen, cfg.Train, cfg.Resume = 1e-3, 256, "data/other.jsonl", true
	err := checkResumeConfig(&cfg, ckpt, 6, io.Discard)
	want := `--resume: changed train "data/train.jsonl" -> "data/other.jsonl", seq_len 128 -> 256, lr 0.0003 -> 0.001; these cannot change on resume (give the run's settings, saved in ` +
		filepath.Join(ckpt, checkpoints.ConfigFile) + `, or start a new --out-dir)`
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

// TestResumeConfigAllowsOutputSettings: every key of mayChangeOnResume may
// change on a dense run, paths are compared cleaned, and a saved config
// without the newer keys reads as their defaults.
func TestResumeConfigAllowsOutputSettings(t *testing.T) {
	saved := resumeBase()
	ckpt := savedCheckpoint(t, saved, "from_scratch", "router_lr", "distill_temp")
	cfg := saved
	cfg.Resume, cfg.OutDir, cfg.CacheDir, cfg.NoCache = true, "/moved/a", "/elsewhere/cache", true
	cfg.EvalEvery, cfg.SaveEvery, cfg.LogEvery, cfg.Patience = 7, 9, 1, 3
	cfg.Test, cfg.DenseRef, cfg.Steps, cfg.CalibrateOn, cfg.DType = "data/test.jsonl", "models/dense", 600, CalibrateTrain, checkpoints.BF16
	cfg.Model, cfg.Train = "models/./gpt2/", "data//train.jsonl"
	var log strings.Builder
	if err := checkResumeConfig(&cfg, ckpt, 6, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "resume: steps 300 -> 600: the learning rate now decays to step 600") {
		t.Errorf("no note of the new schedule horizon in %q", log.String())
	}
	// Every other key is compared: the allowed set is exactly the list.
	changed := map[string]bool{}
	for _, c := range configChanges(&saved, &cfg) {
		changed[c.key] = true
	}
	for k := range changed {
		if mayChangeOnResume[k] == "" {
			t.Errorf("%s changed but is not allowed to", k)
		}
	}
	for k := range mayChangeOnResume {
		if !changed[k] {
			t.Errorf("the test leaves %s unchanged", k)
		}
	}
}

// TestResumeConfigIgnoresMovedKeys: a run saved when the coreset and
// dynamics settings were train's keeps them in its train_config.json;
// train compares only its own (package coreset checks those).
func TestResumeConfigIgnoresMovedKeys(t *testing.T) {
	saved := resumeBase()
	ckpt := savedCheckpoint(t, saved)
	path := filepath.Join(ckpt, checkpoints.ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("{"), []byte(`{"record_dynamics":true,"dynamics_every":4,"coreset":"ccs","coreset_ratio":0.5,"coreset_beta":-1,`), 1)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := saved
	cfg.Resume = true
	if err := checkResumeConfig(&cfg, ckpt, 6, io.Discard); err != nil {
		t.Error(err)
	}
}

func TestResumeConfigSteps(t *testing.T) {
	saved := resumeBase()
	cfg := saved
	cfg.Steps = 5
	err := checkResumeConfig(&cfg, savedCheckpoint(t, saved), 6, io.Discard)
	if err == nil || err.Error() != "--resume: steps 5 is fewer than the 6 steps the run has done; give at least 6" {
		t.Errorf("steps below the checkpoint: %v", err)
	}
	saved.Target, saved.Stage2Steps, saved.TargetWarmup = 0.5, 100, 100
	cfg = saved
	cfg.Steps = 600
	err = checkResumeConfig(&cfg, savedCheckpoint(t, saved), 6, io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), "--resume: changed steps 300 -> 600 (a sparse run's stages are fixed by steps); ") {
		t.Errorf("steps of a sparse run: %v", err)
	}
}

// TestResumeConfigPathsFollowTheRun: a path inside the run directory (a
// coreset run's subset) follows the directory when it moves.
func TestResumeConfigPathsFollowTheRun(t *testing.T) {
	saved := resumeBase()
	saved.Train = "runs/a/coreset/subset.jsonl"
	ckpt := savedCheckpoint(t, saved)
	cfg := saved
	cfg.OutDir, cfg.Train = "runs/b", "runs/b/coreset/subset.jsonl"
	if err := checkResumeConfig(&cfg, ckpt, 6, io.Discard); err != nil {
		t.Fatal(err)
	}
	cfg.Train = "runs/a/coreset/subset.jsonl"
	if err := checkResumeConfig(&cfg, ckpt, 6, io.Discard); err == nil || !strings.Contains(err.Error(), `train "runs/b/coreset/subset.jsonl" -> "runs/a/coreset/subset.jsonl"`) {
		t.Errorf("train outside the moved run: %v", err)
	}
	for _, c := range []struct{ p, from, to, want string }{
		{"", "runs/a", "runs/b", ""},
		{"runs/ab/x", "runs/a", "runs/b", "runs/ab/x"},
		{"runs/a", "runs/a", "runs/b", "runs/b"},
		{"../x", ".", "/r", "../x"},
		{"/abs/x", "runs/a", "runs/b", "/abs/x"},
	} {
		if got := rebase(c.p, c.from, c.to); got != c.want {
			t.Errorf("rebase(%q, %q, %q) = %q, want %q", c.p, c.from, c.to, got, c.want)
		}
	}
}

func TestResumeConfigBadSavedFile(t *testing.T) {
	cfg := resumeBase()
	dir := t.TempDir()
	if err := checkResumeConfig(&cfg, dir, 6, io.Discard); err == nil || !strings.Contains(err.Error(), checkpoints.ConfigFile) {
		t.Errorf("missing file: %v", err)
	}
	os.WriteFile(filepath.Join(dir, checkpoints.ConfigFile), []byte(`{"lr": "fast"}`), 0o644)
	if err := checkResumeConfig(&cfg, dir, 6, io.Discard); err == nil || !strings.Contains(err.Error(), checkpoints.ConfigFile) || strings.Contains(err.Error(), "\n") {
		t.Errorf("malformed file: %v", err)
	}
}

// TestConfigChangesSeesEveryKey: a change of any one JSON key of Config is
// found, so no new setting escapes the comparison.
func TestConfigChangesSeesEveryKey(t *testing.T) {
	base := resumeBase()
	v := reflect.ValueOf(&base).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		cfg := base
		fv := reflect.ValueOf(&cfg).Elem().Field(i)
		switch fv.Kind() {
		case reflect.String:
			fv.SetString(fv.String() + "x")
		case reflect.Int:
			fv.SetInt(fv.Int() + 1)
		case reflect.Uint64:
			fv.SetUint(fv.Uint() + 1)
		case reflect.Float64:
			fv.SetFloat(fv.Float() + 0.5)
		case reflect.Bool:
			fv.SetBool(!fv.Bool())
		default:
			t.Fatalf("%s: kind %s not covered", f.Name, fv.Kind())
		}
		if got := configChanges(&base, &cfg); len(got) != 1 || got[0].key != strings.Split(f.Tag.Get("json"), ",")[0] {
			t.Errorf("changing %s: changes %v", f.Name, got)
		}
	}
}

// A resume that names the same files by other paths (relative instead of
// absolute, through a symlink) changes nothing.
func TestConfigChangesSamePathOtherSpelling(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "train.txt")
	if err := os.WriteFile(file, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link.txt")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	saved, now := DefaultConfig(), DefaultConfig()
	saved.Train, saved.Valid = file, file
	now.Train, now.Valid = "train.txt", link
	if ch := configChanges(&saved, &now); len(ch) != 0 {
		t.Fatalf("same files by other paths reported as changes: %v", ch)
	}
	now.Valid = filepath.Join(dir, "other.txt")
	if ch := configChanges(&saved, &now); len(ch) != 1 || ch[0].key != "valid" {
		t.Fatalf("a different file: got %v, want one change of valid", ch)
	}
}
