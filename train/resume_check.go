package train

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/sparsetune/sparsetune/checkpoints"
)

// mayChangeOnResume lists the settings a resumed run may give differently
// from the run it continues (README, "Resuming"). Each changes only what is
// written or reported, never the training itself: the model, the data and
// its order, the optimizer and the schedule stay the run's. Every other
// key must equal the run's saved train_config.json (a key missing there, from
// a run older than the key, counts as its default).
var mayChangeOnResume = map[string]string{
	"resume":          "how the run starts",
	"out_dir":         "where the run directory is (it may have moved)",
	"cache_dir":       "where the token cache is; its files are keyed by the data and tokenizer",
	"no_cache":        "whether the token cache is used; the data tokenize the same either way",
	"eval_every":      "when the validation data is scored (the best checkpoint is chosen among the evaluations made)",
	"save_every":      "when checkpoints are written",
	"log_every":       "when log lines are printed",
	"patience":        "when an evaluation without improvement stops the run",
	"test":            "the test data, scored once with the best checkpoint at the end",
	"dense_reference": "the dense model evaluated for the summary at the end",
	"calibrate_on":    "the data the sparse checkpoint is calibrated on, after training",
	"dtype":           "the dtype the sparse checkpoint stores its weights in, after training",
	// steps: a dense run may be extended or shortened, but not below the
	// steps it has done. Its cosine or linear decay then follows the new
	// horizon from the resumed step on (the learning rate jumps there;
	// the resume logs by how much). A sparse run may not: its target ramp
	// and the start of stage 2 are fixed by steps.
	"steps": "the number of optimizer steps (dense runs)",
}

// pathKeys are the settings holding paths: compared after filepath.Clean,
// and a path inside the saved run directory follows the run directory when
// it moves (a coreset run's subset).
var pathKeys = map[string]bool{"model": true, "train": true, "valid": true}

// checkResumeConfig compares the resolved config of a resumed run with the
// saved config of checkpoint ckpt, at step done, and refuses, in one line,
// any change of a setting outside mayChangeOnResume.
func checkResumeConfig(cfg *Config, ckpt string, done int, log io.Writer) error {
	path := filepath.Join(ckpt, checkpoints.ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--resume: cannot compare the settings with the run's: %w", err)
	}
	saved := DefaultConfig() // keys an older run did not save keep their defaults
	if err := json.Unmarshal(b, &saved); err != nil {
		return fmt.Errorf("--resume: %s: %v", path, err)
	}
	var changed []string
	// distill is compared by its effect: an older run saved 0 where a new
	// one saves the default (< 0, automatic), both off for it.
	was, now := saved, *cfg
	was.Distill, now.Distill = saved.DistillWeight(), cfg.DistillWeight()
	for _, c := range configChanges(&was, &now) {
		switch {
		case c.key == "steps" && (saved.Target > 0 || cfg.Target > 0):
			changed = append(changed, c.String()+" (a sparse run's stages are fixed by steps)")
		case c.key == "steps" && cfg.Steps < done:
			return fmt.Errorf("--resume: steps %d is fewer than the %d steps the run has done; give at least %d", cfg.Steps, done, done)
		case c.key == "steps":
			fmt.Fprintf(log, "resume: steps %d -> %d: the learning rate now decays to step %d (at step %d: %.3g -> %.3g)\n",
				saved.Steps, cfg.Steps, cfg.Steps, done, saved.LearningRate(done), cfg.LearningRate(done))
		case mayChangeOnResume[c.key] == "":
			changed = append(changed, c.String())
		}
	}
	if len(changed) > 0 {
		return fmt.Errorf("--resume: changed %s; these cannot change on resume (give the run's settings, saved in %s, or start a new --out-dir)", strings.Join(changed, ", "), path)
	}
	return nil
}

// configChange is one key whose value differs, both values formatted.
type configChange struct{ key, old, new string }

func (c configChange) String() string { return c.key + " " + c.old + " -> " + c.new }

// configChanges lists the keys of Config (in declaration order) whose
// values differ between saved and cfg.
func configChanges(saved, cfg *Config) []configChange {
	var out []configChange
	a, b := reflect.ValueOf(saved).Elem(), reflect.ValueOf(cfg).Elem()
	for i := 0; i < a.NumField(); i++ {
		f := a.Type().Field(i)
		key := strings.Split(f.Tag.Get("json"), ",")[0]
		if !f.IsExported() || key == "" || key == "-" {
			continue
		}
		old, now := a.Field(i).Interface(), b.Field(i).Interface()
		if pathKeys[key] {
			old, now = rebase(old.(string), saved.OutDir, cfg.OutDir), cleanPath(now.(string))
		}
		if pathKeys[key] && samePath(old.(string), now.(string)) {
			continue
		}
		if !reflect.DeepEqual(old, now) {
			out = append(out, configChange{key, FormatSetting(old), FormatSetting(now)})
		}
	}
	return out
}

// rebase cleans path p and moves it from run directory from to run
// directory to when it lies inside from.
func rebase(p, from, to string) string {
	p = cleanPath(p)
	if p == "" || from == "" {
		return p
	}
	if rel, err := filepath.Rel(filepath.Clean(from), p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel) {
		return filepath.Join(filepath.Clean(to), rel)
	}
	return p
}

// samePath reports whether two paths name the same thing: equal once made
// absolute against the working directory, or the same existing file or
// directory (a run resumed from another directory, or through a symlink,
// with relative paths that now read differently).
func samePath(a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	aa, errA := filepath.Abs(a)
	bb, errB := filepath.Abs(b)
	if errA == nil && errB == nil && aa == bb {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// cleanPath is filepath.Clean except that "" (unset) stays "".
func cleanPath(p string) string {
	if p == "" {
		return ""
	}
	return filepath.Clean(p)
}

// FormatSetting writes a setting's value as a user would type it (strings
// quoted, numbers in their shortest form), as the refusals of a changed
// setting on resume show it, here and in the packages that keep settings
// of their own beside Config.
func FormatSetting(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}
