package train

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/harden"
	"github.com/sparsetune/sparsetune/internal/jsonfile"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
)

// LoadedRun is a sparse run's checkpoint loaded for further work
// (hardening, a frontier): its config, model and routers with the
// checkpoint's weights, and its data.
type LoadedRun struct {
	Config     *Config
	State      State
	Checkpoint string // the checkpoint directory loaded
	Model      *nn.Model
	Data       *data.Dataset
	Tokenizer  data.Tokenizer
	sp         *sparsity
	key        string
	spec       data.Spec
}

// SparseRunCheckpoint resolves run, a sparse run directory or one of its
// checkpoints, to the checkpoint to load (a run directory's best) and
// checks that it holds routers.
func SparseRunCheckpoint(run string) (string, error) {
	ckpt := run
	if _, err := os.Stat(filepath.Join(run, "best", checkpoints.StateFile)); err == nil {
		ckpt = filepath.Join(run, "best")
	} else if _, err := os.Stat(filepath.Join(run, checkpoints.StateFile)); err != nil {
		return "", fmt.Errorf("%s is neither a finished run (no best checkpoint) nor a checkpoint", run)
	}
	if _, err := os.Stat(filepath.Join(ckpt, routerFile)); err != nil {
		return "", fmt.Errorf("%s has no %s: it needs a sparse run's routers (a run trained with target > 0)", ckpt, routerFile)
	}
	return ckpt, nil
}

// LockEnclosingRun takes the lock of the run directory that holds out, a
// directory a command is about to write (harden writing <run>/sparse),
// so that the output does not race the run's own hardening; where out's
// parent holds no run it takes none. release is never nil on success.
func LockEnclosingRun(out string) (release func(), err error) {
	return lockEnclosingRun(out, "--out")
}

// OpenRun loads a sparse run (train_config.json, trainer_state.json,
// weights and router.safetensors of run's checkpoint, see
// SparseRunCheckpoint), re-reading the run's data through the token cache
// (cacheDir, "" for the run's own). A non-empty dataFile replaces the run's
// data files: it is read as both the training and the validation split,
// and the run's files are not opened.
func OpenRun(run, cacheDir, dataFile string) (*LoadedRun, error) {
	ckpt, err := SparseRunCheckpoint(run)
	if err != nil {
		return nil, err
	}
	cfg := DefaultConfig()
	if err := jsonfile.Read(filepath.Join(ckpt, checkpoints.ConfigFile), &cfg); err != nil {
		return nil, err
	}
	if cfg.Target <= 0 {
		return nil, fmt.Errorf("%s is from a dense run; this needs a sparse run's routers", ckpt)
	}
	if dataFile != "" {
		cfg.Train, cfg.Valid, cfg.Test = dataFile, dataFile, ""
	}
	r := &LoadedRun{Config: &cfg, Checkpoint: ckpt}
	if err := checkpoints.ReadState(ckpt, &r.State); err != nil {
		return nil, err
	}
	if cacheDir != "" {
		cfg.CacheDir = cacheDir
	}
	cfg.Resume = false
	if r.Tokenizer, err = data.LoadTokenizer(cfg.Model); err != nil {
		return nil, fmt.Errorf("the run's base model: %w", err)
	}
	if r.key, err = data.TokenizerKey(cfg.Model); err != nil {
		return nil, err
	}
	if r.Model, r.Data, err = loadModelAndData(&cfg, r.Tokenizer); err != nil {
		return nil, err
	}
	r.spec = r.Data.Spec
	if r.sp, err = newSparsity(&cfg, r.Model); err != nil {
		return nil, err
	}
	if err := loadCheckpointWeights(ckpt, r.Model, r.sp); err != nil {
		return nil, err
	}
	if r.State.Tau > 0 {
		r.sp.set.Config.Tau = r.State.Tau
	}
	return r, nil
}

// Routers returns the run's router parameters (router.Set.Params).
func (r *LoadedRun) Routers() []*nn.Param { return r.sp.params() }

// RouterConfig returns the run's router configuration, τ the checkpoint's.
func (r *LoadedRun) RouterConfig() router.Config { return r.sp.set.Config }

// HardenInput is what harden.Harden needs to harden the loaded run:
// calibration on calib (with its name; nil: the validation split),
// held-out compute on the validation split, and, unless calib is the
// training split, the training split as the reference of the per-layer
// allocation (harden.CalibrateLayers).
func (r *LoadedRun) HardenInput(calib *data.Split) (harden.Input, error) {
	if calib == nil {
		calib = r.Data.Valid
	}
	return hardenInput(r.Config, r.Model, r.sp, calib, r.Data)
}

// CalibrationSplit returns the sequences that on names (see
// Config.CalibrateOn: valid, train or a data file, read with the run's
// tokenizer and data settings).
func (r *LoadedRun) CalibrationSplit(on string) (*data.Split, error) {
	return calibrationSplit(r.Config, r.Data, r.Tokenizer, on)
}

// calibrationSplit is the split a run's hardening calibrates on (see
// Config.CalibrateOn).
func calibrationSplit(cfg *Config, ds *data.Dataset, tok data.Tokenizer, on string) (*data.Split, error) {
	switch on {
	case CalibrateValid, "":
		return ds.Valid, nil
	case CalibrateTrain:
		return ds.Train, nil
	}
	key, err := data.TokenizerKey(cfg.Model)
	if err != nil {
		return nil, err
	}
	spec := ds.Spec
	spec.Train, spec.Valid, spec.Test = on, on, ""
	file, err := data.Load(spec, tok, key)
	if err != nil {
		return nil, fmt.Errorf("calibrate_on: %w", err)
	}
	file.Train.Name = on
	return file.Train, nil
}

// hardenInput gathers a run's model, routers, data and config for
// harden.Harden: calibration on calib, held-out compute on valid, and the
// training split as the per-layer allocation's reference unless calib is
// the training split itself.
func hardenInput(cfg *Config, m *nn.Model, sp *sparsity, calib *data.Split, ds *data.Dataset) (harden.Input, error) {
	trainCfg, err := json.Marshal(cfg)
	if err != nil {
		return harden.Input{}, fmt.Errorf("harden: the run's config cannot be recorded: %v", err)
	}
	in := harden.Input{Model: m, Routers: sp.params(), Router: sp.set.Config, Target: cfg.Target,
		Calib: harden.Sequences{Name: calib.Name, Seqs: calib.Seqs}, Seed: cfg.Seed, SeqLen: cfg.SeqLen,
		ModelDir: cfg.Model, Tokenizer: tokenizerFiles(cfg.Model), TrainConfig: trainCfg}
	if ds.Valid != nil {
		in.HeldOut = harden.Sequences{Name: ds.Valid.Name, Seqs: ds.Valid.Seqs}
	}
	if ds.Train != nil && calib != ds.Train {
		in.Reference = harden.Sequences{Name: ds.Train.Name, Seqs: ds.Train.Seqs}
	}
	return in, nil
}

// hardenRun hardens a finished sparse run's best checkpoint (loaded into m
// and sp) into <out_dir>/sparse, calibrated on cfg.CalibrateOn, its weight
// matrices stored as cfg.DType: the last step of Run.
func hardenRun(cfg *Config, m *nn.Model, sp *sparsity, ds *data.Dataset, tok data.Tokenizer, log io.Writer) (*harden.Result, error) {
	calib, err := calibrationSplit(cfg, ds, tok, cfg.CalibrateOn)
	if err != nil {
		return nil, err
	}
	in, err := hardenInput(cfg, m, sp, calib, ds)
	if err != nil {
		return nil, err
	}
	o := harden.DefaultOptions(filepath.Join(cfg.OutDir, "sparse"))
	o.DType = cfg.DType
	return harden.Harden(in, o, log)
}

// The named calibration sets of Config.CalibrateOn; any other value is a
// data file.
const (
	CalibrateValid = "valid" // the run's validation split: held-out data (the default)
	CalibrateTrain = "train" // the training split the routers were fit on (before calibrate_on existed)
)

// calibrateOnExists reports whether on names a calibration set: valid,
// train, or a regular file.
func calibrateOnExists(on string) bool {
	if on == CalibrateValid || on == CalibrateTrain {
		return true
	}
	fi, err := os.Stat(on)
	return on != "" && err == nil && fi.Mode().IsRegular()
}
