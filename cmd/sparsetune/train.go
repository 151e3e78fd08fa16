package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/spf13/pflag"

	"github.com/sparsetune/sparsetune/coreset"
	"github.com/sparsetune/sparsetune/internal/blas"
	"github.com/sparsetune/sparsetune/train"
)

// trainHelp is the help text of each setting's flag, by JSON key.
var trainHelp = map[string]string{
	"model":               "base model: a Hugging Face model directory with tokenizer files (required with --train; with neither --model nor --train, the embedded default job runs)",
	"task":                "classification or causal-lm; default: the model's own task",
	"train":               "training data: .jsonl, .csv, .tsv, .txt or .parquet (default: the built-in task)",
	"valid":               "validation data; default: valid-ratio of the training data",
	"test":                "test data, evaluated once with the best checkpoint",
	"valid_ratio":         "fraction of the training data held out for validation when --valid is not given",
	"text_field":          "field holding the text",
	"label_field":         "field holding the class label",
	"id_field":            `field holding a unique example id ("-": derive ids from file and line)`,
	"seq_len":             "tokens per sequence (0: min(model context, 256))",
	"out_dir":             "run directory for checkpoints, metrics.jsonl and logs",
	"cache_dir":           "tokenized-data cache (default: .cache beside the run directory)",
	"no_cache":            "tokenize the data afresh, without reading or writing the token cache",
	"steps":               "optimizer steps",
	"batch":               "sequences per micro-batch",
	"grad_accum":          "micro-batches per optimizer step",
	"lr":                  "peak learning rate",
	"min_lr_ratio":        "final learning rate as a fraction of --lr",
	"warmup":              "linear warm-up steps",
	"schedule":            "learning-rate decay after warm-up: cosine, linear or constant",
	"weight_decay":        "AdamW decoupled weight decay (matrices and embeddings)",
	"beta1":               "AdamW β1",
	"beta2":               "AdamW β2",
	"eps":                 "AdamW ε",
	"clip_norm":           "global gradient-norm clip (0 disables)",
	"dropout":             "hidden dropout probability while training",
	"eval_every":          "evaluate on the validation data every N steps",
	"eval_batches":        "cap on validation batches per evaluation (0: all)",
	"save_every":          "write a checkpoint every N steps",
	"patience":            "stop after N evaluations without improvement (0: never)",
	"log_every":           "print a log line every N steps",
	"seed":                "seed for data order, dropout and new-head initialisation",
	"resume":              "continue from the run directory's latest checkpoint",
	"target":              "compute target as a fraction of the dense routed FLOPs, in (0, 1]; 0 trains densely",
	"router":              "gate kind: sigmoid (LTE), hard-concrete (L0) or static (input-independent baseline)",
	"routing":             "threshold (a unit runs when its gate passes --tau; compute follows the data) or topk (each token runs the k units with the largest router logits; fixed compute)",
	"group_size":          "FFN neurons per routed group",
	"tau":                 "hardening threshold on a gate's on-probability",
	"budget_tol":          "an evaluation competes for the best checkpoint only when its measured compute is within this of --target",
	"calibrate_on":        "data the sparse checkpoint's threshold is calibrated on: valid (held out), train, or a data file",
	"dtype":               "store the sparse checkpoint's weight matrices as f32, bf16 or int8; its τ and compute are measured on them (sparse runs)",
	"stage2_steps":        "final steps with hard masks and frozen routers (0: a third of --steps)",
	"target_warmup":       "steps over which the target ramps from 1 down to --target (0: nine tenths of stage 1)",
	"stage2_calibrations": "times stage 2 calibrates the threshold again as the model adapts to its masks, evenly spaced (0: never)",
	"lambda_lr":           "ascent rate of the Lagrange multipliers",
	"penalty_weight":      "fixed penalty weight w (penalty w·ĉ) instead of the Lagrangian controller",
	"sep_weight":          "weight of the separability term that pushes gates away from --tau",
	"distill":             "weight of distillation from the dense model (0: off; negative: 1 with --trainable routers, else off)",
	"trainable":           "what a sparse run trains: all (model and routers) or routers (routers and a new head; base weights frozen)",
	"distill_temp":        "distillation temperature",
	"dense_reference":     "dense fine-tuned model directory evaluated on the same valid and test data (summary: dense_metric)",
	"from_scratch":        "initialise the model randomly from --model's config.json (pretraining)",

	// Training dynamics and coreset selection (docs/coreset.md).
	"record_dynamics":     "record per-example training dynamics into dynamics.jsonl in the run directory",
	"dynamics_every":      "steps between two recordings of the training dynamics (0: about one epoch)",
	"coreset":             "train on a subset chosen first: ccs, elfs, random, hardest or easiest (see sparsetune coreset)",
	"coreset_ratio":       "fraction of the training examples the subset keeps, in (0, 1]",
	"coreset_score":       "difficulty score: aum, forgetting, el2n or entropy",
	"coreset_beta":        "fraction of hardest examples dropped first by ccs and elfs (negative: by the ratio)",
	"coreset_beta_search": "choose the hard-drop fraction on the validation set (one run per candidate)",
	"coreset_strata":      "CCS score strata (0: min(50, examples))",
	"coreset_by_class":    "select within each class (ccs) or pseudo-class (elfs), the budget split in proportion to the class sizes",
	"coreset_proxy":       "the dynamics run: base (fine-tune the model) or scratch (its architecture from random weights, as the ELFS paper's proxy)",
	"coreset_clusters":    "ELFS pseudo-classes (0: the number of labels)",
	"coreset_dynamics":    "existing dynamics table (or run directory) to score with instead of a dynamics run",
}

// trainFlags registers one flag per setting of coreset.Config (train's
// and the data-efficiency settings), named after its JSON key with dashes
// ("seq_len" → --seq-len), bound to fc.
func trainFlags(fs *pflag.FlagSet, fc *coreset.Config) {
	eachSetting(reflect.ValueOf(fc).Elem(), func(key string, f reflect.Value) {
		name, usage := strings.ReplaceAll(key, "_", "-"), trainHelp[key]
		switch p := f.Addr().Interface().(type) {
		case *string:
			fs.StringVar(p, name, *p, usage)
		case *int:
			fs.IntVar(p, name, *p, usage)
		case *uint64:
			fs.Uint64Var(p, name, *p, usage)
		case *float64:
			fs.Float64Var(p, name, *p, usage)
		case *bool:
			fs.BoolVar(p, name, *p, usage)
		default: // a typed string setting (train.Task, train.Schedule, router.Kind): the flag writes its string
			if f.Kind() == reflect.String {
				fs.StringVar(f.Addr().Convert(reflect.TypeFor[*string]()).Interface().(*string), name, f.String(), usage)
			}
		}
	})
}

// eachSetting calls fn with the JSON key and the field of every exported
// setting of struct v, in order, descending into embedded structs (whose
// keys encoding/json flattens into the one object as well).
func eachSetting(v reflect.Value, fn func(key string, f reflect.Value)) {
	for i := 0; i < v.NumField(); i++ {
		sf := v.Type().Field(i)
		if !sf.IsExported() {
			continue
		}
		if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
			eachSetting(v.Field(i), fn)
			continue
		}
		fn(strings.Split(sf.Tag.Get("json"), ",")[0], v.Field(i))
	}
}

// resolveConfig layers base, the --config file and the flags given.
func resolveConfig(fs *pflag.FlagSet, fc *coreset.Config, file string, base coreset.Config) (coreset.Config, error) {
	cfg := base
	if file != "" {
		if err := cfg.LoadConfigFile(file); err != nil {
			return cfg, err
		}
	}
	src := map[string]reflect.Value{}
	eachSetting(reflect.ValueOf(fc).Elem(), func(key string, f reflect.Value) { src[key] = f })
	eachSetting(reflect.ValueOf(&cfg).Elem(), func(key string, f reflect.Value) {
		if fs.Changed(strings.ReplaceAll(key, "_", "-")) {
			f.Set(src[key])
		}
	})
	return cfg, nil
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train", "train [--model DIR --train FILE ...] [--config FILE]", stderr)
	fc := coreset.DefaultConfig()
	trainFlags(fs, &fc)
	configFile := fs.String("config", "", "JSON config file (keys as in train_config.json; unknown keys are errors)")
	verbose := fs.BoolP("verbose", "v", false, "print the linear-algebra backend first")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := resolveConfig(fs, &fc, *configFile, coreset.DefaultConfig())
	if err != nil {
		return usageError{err}
	}
	given, err := givenKeys(fs, &fc, *configFile)
	if err != nil {
		return usageError{err}
	}
	var note bytes.Buffer // the embedded default's line, printed once the config is valid
	if cfg.Model == "" && cfg.Train == "" {
		// No model and no data: the embedded default, still adjustable by
		// the flags given (e.g. --steps).
		base, err := train.EmbeddedConfig(filepath.Join("runs", ".builtin"), &note)
		if err != nil {
			return err
		}
		if cfg, err = resolveConfig(fs, &fc, *configFile, coreset.Config{Config: base, Settings: coreset.DefaultSettings()}); err != nil {
			return usageError{err}
		}
	}
	if err := settingErr(cfg.Validate(), fs, *configFile); err != nil {
		return usageError{err}
	}
	if err := settingErr(cfg.Unused(given), fs, *configFile); err != nil {
		return usageError{err}
	}
	io.Copy(stderr, &note)
	initBLAS(stderr, *verbose)
	sum, err := coreset.Train(cfg, stderr)
	if err != nil {
		return settingErr(err, fs, *configFile)
	}
	if sum.SparseCheckpoint != "" && sum.Compute != nil { // the figures of what is delivered: the sparse checkpoint, on the engine
		fmt.Fprintf(stderr, "done: %d steps in %.1f s; sparse checkpoint %s: valid %s %.4f at compute %.3f (blas: %s)\n", sum.Steps, sum.WallS, sum.SparseCheckpoint, sum.MetricName, sum.Metric, *sum.Compute, blas.Backend())
	} else {
		fmt.Fprintf(stderr, "done: %d steps in %.1f s; best %s %.4f; checkpoint %s (blas: %s)\n", sum.Steps, sum.WallS, sum.MetricName, sum.Metric, sum.Checkpoint, blas.Backend())
	}
	return printJSON(stdout, sum)
}

// givenKeys returns the JSON keys of the settings the user gave: the
// flags changed, and the keys of the config file whose value is not the
// default (a run's saved train_config.json lists every key, and may be
// given back as --config to resume it).
func givenKeys(fs *pflag.FlagSet, fc *coreset.Config, file string) (map[string]bool, error) {
	given := map[string]bool{}
	fileCfg, def := coreset.DefaultConfig(), coreset.DefaultConfig()
	var keys map[string]bool
	if file != "" {
		var err error
		if keys, err = train.ConfigKeys(file); err != nil {
			return nil, err
		}
		if err := fileCfg.LoadConfigFile(file); err != nil {
			return nil, err
		}
	}
	fromFile, defaults := map[string]any{}, map[string]any{}
	eachSetting(reflect.ValueOf(&fileCfg).Elem(), func(key string, f reflect.Value) { fromFile[key] = f.Interface() })
	eachSetting(reflect.ValueOf(&def).Elem(), func(key string, f reflect.Value) { defaults[key] = f.Interface() })
	eachSetting(reflect.ValueOf(fc).Elem(), func(key string, _ reflect.Value) {
		if fs.Changed(strings.ReplaceAll(key, "_", "-")) || (keys[key] && !reflect.DeepEqual(fromFile[key], defaults[key])) {
			given[key] = true
		}
	})
	return given, nil
}

// settingErr names a setting's error after where the value came from: the
// flag when it was given, else the config file's key.
func settingErr(err error, fs *pflag.FlagSet, file string) error {
	var se *train.SettingError
	if !errors.As(err, &se) {
		return err
	}
	flag := strings.ReplaceAll(se.Key, "_", "-")
	if fs.Lookup(flag) != nil && (fs.Changed(flag) || file == "") {
		return fmt.Errorf("--%s %s", flag, se.Msg)
	}
	if file != "" {
		return fmt.Errorf("%s: %s %s", file, se.Key, se.Msg)
	}
	return err
}
