package coreset

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/internal/jsonfile"
	"github.com/sparsetune/sparsetune/train"
)

// Settings are a training run's data-efficiency settings (docs/coreset.md):
// record its training dynamics, or train on a subset of its training data
// chosen first. Their JSON keys are the ones a run's train_config.json
// held for them before they left train.Config, so config files and sweep
// plans that give them still load (Config).
type Settings struct {
	RecordDynamics    bool    `json:"record_dynamics"`     // write the per-example training-dynamics table dynamics.jsonl in out_dir
	DynamicsEvery     int     `json:"dynamics_every"`      // steps between two recordings of the dynamics; 0: about one epoch
	Coreset           string  `json:"coreset"`             // "": train on all of train; ccs, elfs, random, hardest or easiest: on a subset chosen first
	CoresetRatio      float64 `json:"coreset_ratio"`       // fraction of the training examples kept, in (0, 1]
	CoresetScore      string  `json:"coreset_score"`       // difficulty score: aum, forgetting, el2n or entropy
	CoresetBeta       float64 `json:"coreset_beta"`        // fraction of hardest examples dropped first (ccs, elfs); < 0: by the ratio (DefaultBeta)
	CoresetBetaSearch bool    `json:"coreset_beta_search"` // choose β on the validation set instead: one run per candidate
	CoresetStrata     int     `json:"coreset_strata"`      // CCS score strata; 0: min(50, examples left)
	CoresetByClass    bool    `json:"coreset_by_class"`    // select within each class (ccs) or pseudo-class (elfs), the budget split by class size
	CoresetProxy      string  `json:"coreset_proxy"`       // the dynamics run: "base" (fine-tune the model; default) or "scratch" (train its architecture from random weights)
	CoresetClusters   int     `json:"coreset_clusters"`    // ELFS pseudo-classes; 0: the number of labels in train
	CoresetDynamics   string  `json:"coreset_dynamics"`    // an existing dynamics table (or run directory) to score with; "": a dynamics run first
}

// DefaultSettings record nothing and train on all the data.
func DefaultSettings() Settings {
	return Settings{CoresetScore: "aum", CoresetBeta: -1}
}

// Config is a training run with its data-efficiency settings, as one flat
// JSON object: train.Config's keys and Settings'.
type Config struct {
	train.Config
	Settings
}

// DefaultConfig is train.DefaultConfig with DefaultSettings.
func DefaultConfig() Config {
	return Config{Config: train.DefaultConfig(), Settings: DefaultSettings()}
}

// LoadConfigFile overlays the JSON file at path on c, as
// train.Config.LoadConfigFile does: unknown keys, and anything after the
// one JSON object, are errors.
func (c *Config) LoadConfigFile(path string) error {
	return jsonfile.ReadStrict(path, c)
}

// Validate reports the first setting that cannot work: train's first,
// then the dynamics and coreset settings.
func (c *Config) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	if c.DynamicsEvery < 0 {
		return fmt.Errorf("dynamics_every must be ≥ 0, got %d", c.DynamicsEvery)
	}
	if c.Coreset == "" {
		return nil
	}
	sc := SubsetConfig{Run: c.Config, Method: c.Coreset, Ratio: c.CoresetRatio, Score: c.CoresetScore, Beta: c.CoresetBeta,
		BetaSearch: c.CoresetBetaSearch, Strata: c.CoresetStrata, ByClass: c.CoresetByClass, Clusters: c.CoresetClusters, Proxy: c.CoresetProxy, Dynamics: c.CoresetDynamics, WorkDir: "-"}
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("%s (coreset_* settings)", strings.TrimPrefix(err.Error(), "coreset: "))
	}
	switch {
	case c.Valid == "":
		return errors.New("coreset: give a valid file: carving validation examples out of the chosen subset would shrink it further")
	case c.Task == train.TaskCausalLM:
		return errors.New("coreset: selection scores classification examples; the task is causal-lm")
	}
	return nil
}

// coresetOnly are the settings used only to choose a coreset.
var coresetOnly = []string{"coreset_ratio", "coreset_score", "coreset_beta", "coreset_beta_search", "coreset_strata",
	"coreset_by_class", "coreset_proxy", "coreset_clusters", "coreset_dynamics"}

// Unused reports the first setting among given (the JSON keys a user set)
// that c makes no use of: train's (train.Config.Unused), coreset settings
// without a coreset method, dynamics_every without dynamics.
func (c *Config) Unused(given map[string]bool) error {
	if err := c.Config.Unused(given); err != nil {
		return err
	}
	for _, k := range coresetOnly {
		if given[k] && c.Coreset == "" {
			return &train.SettingError{Key: k, Msg: "applies only with a coreset method (coreset)"}
		}
	}
	if given["dynamics_every"] && !c.RecordDynamics && c.Coreset == "" {
		return &train.SettingError{Key: "dynamics_every", Msg: "applies only with record_dynamics or a coreset method"}
	}
	return nil
}

// Train runs c: with a coreset method it first chooses the subset of
// c.Train (in <out_dir>/coreset, with its dynamics run and report; a
// resumed run reuses it), then trains on it with train.Run, recording
// the training dynamics when c.RecordDynamics says so. hooks, at most
// one, extend the run as they do train.Run's, after the recorder's.
func Train(c Config, log io.Writer, hooks ...train.Hooks) (*train.Summary, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Coreset != "" || c.RecordDynamics || c.Resume {
		lock, err := train.PrepareRunDir(&c.Config) // the lock is held before anything in out_dir changes
		if err != nil {
			return nil, err
		}
		defer lock.Release()
		if err := c.keepSettings(); err != nil {
			return nil, err
		}
		if b, err := json.Marshal(c.Settings); err == nil && c.Settings != DefaultSettings() {
			fmt.Fprintf(log, "coreset settings: %s\n", b) // beside train's config line, which no longer holds them
		}
	}
	if c.Coreset != "" {
		if err := applyCoreset(&c, log); err != nil {
			return nil, err
		}
	}
	if c.RecordDynamics {
		hooks = append([]train.Hooks{NewRecorder(c.DynamicsEvery).Hooks()}, hooks...)
	}
	return train.Run(c.Config, log, chain(hooks...))
}

// chain is one Hooks that calls each of hs's in order, stopping at the
// first error.
func chain(hs ...train.Hooks) train.Hooks {
	each := func(pick func(train.Hooks) func(*train.Progress) error) func(*train.Progress) error {
		return func(p *train.Progress) error {
			for _, h := range hs {
				if f := pick(h); f != nil {
					if err := f(p); err != nil {
						return err
					}
				}
			}
			return nil
		}
	}
	return train.Hooks{
		Start:     each(func(h train.Hooks) func(*train.Progress) error { return h.Start }),
		AfterStep: each(func(h train.Hooks) func(*train.Progress) error { return h.AfterStep }),
		EndStep:   each(func(h train.Hooks) func(*train.Progress) error { return h.EndStep }),
	}
}

// applyCoreset replaces cfg.Train by a subset chosen as cfg's coreset
// fields say, kept in <out_dir>/coreset with its dynamics run and report.
// A resumed run reuses the subset it chose before.
func applyCoreset(cfg *Config, log io.Writer) error {
	dir := filepath.Join(cfg.OutDir, "coreset")
	out := filepath.Join(dir, "subset"+filepath.Ext(cfg.Train))
	if cfg.Resume {
		if reused, err := reuseSubset(cfg, dir, out, log); reused || err != nil {
			return err
		}
	}
	run := cfg.Config
	run.Resume = false
	res, err := SelectSubset(SubsetConfig{Run: run, DynamicsEvery: cfg.DynamicsEvery, Method: cfg.Coreset, Ratio: cfg.CoresetRatio, Score: cfg.CoresetScore,
		Beta: cfg.CoresetBeta, BetaSearch: cfg.CoresetBetaSearch, Strata: cfg.CoresetStrata, ByClass: cfg.CoresetByClass, Clusters: cfg.CoresetClusters, Proxy: cfg.CoresetProxy,
		Seed: cfg.Seed, Dynamics: cfg.CoresetDynamics, WorkDir: dir, Out: out}, log)
	if err != nil {
		return err
	}
	if err := jsonfile.Write(filepath.Join(dir, "report.json"), res); err != nil {
		return err
	}
	useSubset(&cfg.Config, out, res)
	return nil
}

// reuseSubset points a resumed run at the subset out it chose before, with
// the settings it was chosen with (report.json in dir, written after the
// subset), so that its config equals the saved one. reused is false when
// the choice did not finish.
func reuseSubset(cfg *Config, dir, out string, log io.Writer) (reused bool, err error) {
	var res SubsetResult
	if err := jsonfile.Read(filepath.Join(dir, "report.json"), &res); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if _, err := os.Stat(out); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	fmt.Fprintf(log, "coreset: resuming with the subset %s chosen before\n", out)
	useSubset(&cfg.Config, out, &res)
	return true, nil
}

// useSubset points cfg at the subset file out chosen as res reports.
func useSubset(cfg *train.Config, out string, res *SubsetResult) {
	cfg.Train = out
	cfg.Task = train.TaskClassification // what the subset was chosen for, whatever the base model's head
	// The subset's ids come from the file as written: derived ones name
	// lines of the input, so derive them anew from the subset's lines.
	if res.IDs != "file" {
		cfg.IDField = data.DeriveIDs
	}
}
