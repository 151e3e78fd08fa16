package train

import (
	"fmt"
	"math"
	"reflect"
	"strings"
)

// A SettingError is a Config setting that cannot work, named by its JSON
// key so that a command can say where the value came from (a flag or a
// config file key). Error renders it with the key.
type SettingError struct {
	Key string // JSON key of the setting, e.g. "distill"
	Msg string // what is wrong, after the key: "applies only to sparse runs (target > 0)"
}

func (e *SettingError) Error() string { return e.Key + " " + e.Msg }

func settingf(key, format string, args ...any) error {
	return &SettingError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// checkFinite rejects a NaN or infinite float setting: every range check
// below is written so that NaN fails it too, but naming the key and the
// value here is clearer than the range a NaN happens to miss.
func (c *Config) checkFinite() error {
	v := reflect.ValueOf(c).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if !f.IsExported() || f.Type.Kind() != reflect.Float64 {
			continue
		}
		if x := v.Field(i).Float(); math.IsNaN(x) || math.IsInf(x, 0) {
			return settingf(jsonKey(f), "must be a finite number, got %g", x)
		}
	}
	return nil
}

func jsonKey(f reflect.StructField) string { return strings.Split(f.Tag.Get("json"), ",")[0] }

// sparseOnly are the settings a dense run (target 0) makes no use of.
var sparseOnly = []string{"router", "group_size", "tau", "budget_tol", "calibrate_on", "stage2_steps", "target_warmup", "stage2_calibrations", "lambda_lr", "router_lr",
	"penalty_weight", "sep_weight", "distill", "distill_temp", "trainable"}

// Unused reports the first setting among given (the JSON keys a user set,
// by flag or config file) that c makes no use of, which would otherwise be
// ignored silently: sparse settings in a dense run, valid_ratio beside a
// valid file, distill_temp without distillation, lambda_lr beside a fixed
// penalty_weight, min_lr_ratio with a constant schedule,
// label_field for a language model, cache_dir with no_cache.
func (c *Config) Unused(given map[string]bool) error {
	for _, k := range sparseOnly {
		if k == "distill" && c.Distill <= 0 {
			continue // off (or automatic, off without routers): nothing is ignored; a dense run's saved 0 comes back as --config
		}
		if given[k] && c.Target == 0 {
			return settingf(k, "applies only to sparse runs (target > 0)")
		}
	}
	switch {
	case given["valid_ratio"] && c.Valid != "":
		return settingf("valid_ratio", "applies only without a valid file (valid is %s)", c.Valid)
	case given["distill_temp"] && c.DistillWeight() == 0:
		return settingf("distill_temp", "applies only with distillation (distill > 0)")
	case given["lambda_lr"] && c.PenaltyWeight > 0:
		return settingf("lambda_lr", "applies only to the Lagrangian controller, not with a fixed penalty_weight")
	case given["min_lr_ratio"] && c.Schedule == Constant:
		return settingf("min_lr_ratio", "applies only to a decaying schedule (cosine or linear), not constant")
	case given["label_field"] && c.Task == TaskCausalLM:
		return settingf("label_field", "applies only to classification, not causal-lm")
	case given["cache_dir"] && c.NoCache:
		return settingf("cache_dir", "conflicts with no_cache")
	}
	return nil
}

// DataCacheDir is the token cache directory the run's data is read
// through: "" (no cache) with no_cache.
func (c *Config) DataCacheDir() string {
	if c.NoCache {
		return ""
	}
	return c.CacheDir
}
