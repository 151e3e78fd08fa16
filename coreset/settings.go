package coreset

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/internal/jsonfile"
	"github.com/sparsetune/sparsetune/train"
)

// SettingsFile holds a run's Settings in <out_dir>/coreset, written when
// a run starts with any of them set, so that a resume refuses to change
// them as train refuses to change its own settings (train.Config). A run
// from before the settings left train.Config has them in its checkpoints'
// train_config.json instead, where they are read from.
const SettingsFile = "settings.json"

// keepSettings saves the settings of a fresh run (when any is set) and
// checks those of a resumed run against the ones it started with: a
// change is refused in one line naming each key with its old and new
// value.
func (c *Config) keepSettings() error {
	path := filepath.Join(c.OutDir, "coreset", SettingsFile)
	if c.Resume {
		saved, from, err := savedSettings(c.OutDir)
		if err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
		if changed := settingChanges(saved, c.Settings); len(changed) > 0 {
			return fmt.Errorf("--resume: changed %s; these cannot change on resume (give the run's settings, saved in %s, or start a new --out-dir)", strings.Join(changed, ", "), from)
		}
		if _, err := os.Stat(path); err == nil || from == "" {
			return nil
		}
		// An older run's settings, read from its train_config.json: keep
		// them where a newer run has them.
	} else if c.Settings == DefaultSettings() {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return jsonfile.Write(path, c.Settings)
}

// savedSettings are the settings run directory dir started with, and the
// file that says so: SettingsFile, else (an older run) the latest
// checkpoint's train_config.json; the defaults, from "", when neither
// exists (a run that set none, or one with no checkpoint yet).
func savedSettings(dir string) (s Settings, from string, err error) {
	s = DefaultSettings() // keys a file does not name keep their defaults
	path := filepath.Join(dir, "coreset", SettingsFile)
	if err := jsonfile.Read(path, &s); err == nil {
		return s, path, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return s, "", err
	}
	ckpt, err := checkpoints.Latest(dir)
	if err != nil || ckpt == "" {
		return s, "", err
	}
	path = filepath.Join(ckpt, checkpoints.ConfigFile)
	if err := jsonfile.Read(path, &s); errors.Is(err, fs.ErrNotExist) {
		return s, "", nil
	} else if err != nil {
		return s, "", err
	}
	return s, path, nil
}

// settingChanges lists "key old -> new" for each setting that differs,
// in declaration order; coreset_dynamics, a path, is compared cleaned.
func settingChanges(saved, now Settings) []string {
	var out []string
	a, b := reflect.ValueOf(saved), reflect.ValueOf(now)
	for i := range a.NumField() {
		key := strings.Split(a.Type().Field(i).Tag.Get("json"), ",")[0]
		old, cur := a.Field(i).Interface(), b.Field(i).Interface()
		if key == "coreset_dynamics" && samePath(old.(string), cur.(string)) {
			continue
		}
		if old != cur {
			out = append(out, key+" "+train.FormatSetting(old)+" -> "+train.FormatSetting(cur))
		}
	}
	return out
}

// samePath reports whether two path settings are equal once cleaned; ""
// (unset) equals only "".
func samePath(a, b string) bool {
	return a == b || a != "" && b != "" && filepath.Clean(a) == filepath.Clean(b)
}
