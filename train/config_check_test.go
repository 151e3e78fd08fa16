package train

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/checkpoints"
)

func validConfig() Config {
	c := DefaultConfig()
	c.Model, c.Train = "m", "t"
	return c
}

// TestValidateRejectsNonFinite: NaN and ±Inf in any float setting are
// rejected naming the key (NaN used to pass every range check).
func TestValidateRejectsNonFinite(t *testing.T) {
	v := reflect.ValueOf(validConfig())
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if !f.IsExported() || f.Type.Kind() != reflect.Float64 {
			continue
		}
		for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			c := validConfig()
			reflect.ValueOf(&c).Elem().Field(i).SetFloat(bad)
			var se *SettingError
			if err := c.Validate(); !errors.As(err, &se) || se.Key != jsonKey(f) {
				t.Errorf("%s = %g: got %v, want an error naming %s", f.Name, bad, err, jsonKey(f))
			}
		}
	}
	if c := validConfig(); c.Validate() != nil {
		t.Fatalf("the base config: %v", c.Validate())
	}
}

// TestValidateNamesTheKey: each bad setting is reported by its key.
func TestValidateNamesTheKey(t *testing.T) {
	for key, edit := range map[string]func(*Config){
		"seq_len":      func(c *Config) { c.SeqLen = -3 },
		"out_dir":      func(c *Config) { c.OutDir = "" },
		"lr":           func(c *Config) { c.LR = 2 },
		"beta2":        func(c *Config) { c.Beta2 = 1 },
		"eps":          func(c *Config) { c.Eps = 0 },
		"clip_norm":    func(c *Config) { c.ClipNorm = -1 },
		"weight_decay": func(c *Config) { c.WeightDecay = -0.1 },
		"target":       func(c *Config) { c.Target = 1.5 },
		"distill_temp": func(c *Config) { c.Target, c.Distill, c.DistillTemp = 0.5, 1, 0 },
	} {
		c := validConfig()
		edit(&c)
		var se *SettingError
		if err := c.Validate(); !errors.As(err, &se) || se.Key != key {
			t.Errorf("%s: got %v", key, err)
		}
	}
}

// TestUnusedSettings: a setting the run would ignore is an error naming
// it; the same setting where it applies is fine.
func TestUnusedSettings(t *testing.T) {
	dense, sparse := validConfig(), validConfig()
	sparse.Target = 0.5
	for _, k := range sparseOnly {
		c := dense
		c.Distill = 0.5 // distill off (0, or the automatic default) ignores nothing: TestDistillOffIsNotFlagged
		if err := c.Unused(map[string]bool{k: true}); err == nil || !strings.HasPrefix(err.Error(), k+" applies only to sparse runs") {
			t.Errorf("%s in a dense run: got %v", k, err)
		}
	}
	if err := sparse.Unused(map[string]bool{"router": true, "penalty_weight": true, "distill": true}); err != nil {
		t.Errorf("sparse settings in a sparse run: %v", err)
	}
	withValid, constant, lm := dense, dense, dense
	withValid.Valid, constant.Schedule, lm.Task = "v.jsonl", "constant", "causal-lm"
	for name, tc := range map[string]struct {
		c   Config
		key string
	}{
		"valid_ratio with valid":   {withValid, "valid_ratio"},
		"distill_temp, no distill": {sparse, "distill_temp"},
		"min_lr_ratio, constant":   {constant, "min_lr_ratio"},
		"label_field, causal-lm":   {lm, "label_field"},
	} {
		if err := tc.c.Unused(map[string]bool{tc.key: true}); err == nil || !strings.HasPrefix(err.Error(), tc.key+" applies only") {
			t.Errorf("%s: got %v", name, err)
		}
	}
	if err := dense.Unused(map[string]bool{"valid_ratio": true, "lr": true}); err != nil {
		t.Errorf("valid_ratio without a valid file: %v", err)
	}
}

// TestConfigFileTrailingContent: anything after the JSON object is an
// error (it used to be ignored, with whatever settings it held).
func TestConfigFileTrailingContent(t *testing.T) {
	dir := t.TempDir()
	for body, ok := range map[string]bool{
		`{"lr": 0.001}`:                  true,
		"{\"lr\": 0.001}\n\n":            true,
		`{"lr": 0.001} {"steps": 5}`:     false,
		`{"lr": 0.001}, "steps": 5}`:     false,
		"{\"lr\": 0.001}\n# a comment\n": false,
	} {
		p := filepath.Join(dir, "c.json")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		c := DefaultConfig()
		err := c.LoadConfigFile(p)
		if (err == nil) != ok || (!ok && !strings.Contains(err.Error(), "after the JSON object")) {
			t.Errorf("%q: got %v", body, err)
		}
		if ok && c.LR != 0.001 {
			t.Errorf("%q: lr %g", body, c.LR)
		}
	}
}

// TestValidateDType: the sparse checkpoint's dtype is f32, bf16, int8 or
// none; anything else is refused naming the key.
func TestValidateDType(t *testing.T) {
	for _, d := range []string{"", "f32", "bf16", "int8"} {
		c := validConfig()
		c.Target, c.DType = 0.5, checkpoints.DType(d)
		if err := c.Validate(); err != nil {
			t.Errorf("dtype %q: %v", d, err)
		}
	}
	c := validConfig()
	c.Target, c.DType = 0.5, "int4"
	var se *SettingError
	if err := c.Validate(); !errors.As(err, &se) || se.Key != "dtype" || !strings.Contains(err.Error(), "int4") {
		t.Errorf("dtype int4: got %v, want an error naming dtype", err)
	}
}
