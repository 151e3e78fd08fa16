package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/harden"
	"github.com/sparsetune/sparsetune/internal/jsonfile"

	"github.com/sparsetune/sparsetune/train"
)

// hardenFlags are harden's command line: the run to load, where its data
// comes from, and the hardening options.
type hardenFlags struct {
	checkpoint, data, cacheDir string
	calibrateOn                string
	opt                        harden.Options
}

func runHarden(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("harden", "harden --checkpoint RUN_OR_CHECKPOINT --out DIR [--data FILE] [--target T] [--force]", stderr)
	var c hardenFlags
	fs.StringVar(&c.checkpoint, "checkpoint", "", "sparse run directory (its best checkpoint) or checkpoint directory")
	fs.StringVar(&c.opt.Out, "out", "", "sparse checkpoint directory to write: new, empty, or an earlier sparse checkpoint (replaced atomically)")
	fs.StringVar(&c.data, "data", "", "data file to calibrate on and measure, instead of the run's data (which is then not opened)")
	fs.StringVar(&c.calibrateOn, "calibrate-on", train.CalibrateValid, "calibrate on valid (the run's held-out split), train (its training split) or a data file")
	fs.Float64Var(&c.opt.Target, "target", 0, "compute target (default: the run's)")
	fs.Float64Var(&c.opt.PruneBelow, "prune-below", harden.DefaultPruneBelow, "remove units on for at most this fraction of calibration tokens (0: only units never on; a top-k run removes only units never chosen)")
	fs.Float64Var(&c.opt.DenseAbove, "dense-above", harden.DefaultDenseAbove, "make units on for at least this fraction of calibration tokens dense (a top-k run: only units chosen by every token)")
	fs.IntVar(&c.opt.Sequences, "sequences", harden.DefaultSequences, "calibration sequences")
	fs.StringVar(&c.cacheDir, "cache-dir", "", "tokenized-data cache (default: the run's)")
	force := fs.Bool("force", false, "replace --out even if it is a non-empty directory that is not a sparse checkpoint")
	dtype := fs.String("dtype", "f32", "store the weight matrices as f32, bf16 or int8 (blocks of 32 with a scale each); τ is refit and the reported measurements taken on the weights as stored")
	if err := parse(fs, args); err != nil {
		return err
	}
	d, err := checkpoints.ParseDType(*dtype)
	if err != nil {
		return usagef("--dtype: %v", err)
	}
	c.opt.DType = d
	if c.checkpoint == "" || c.opt.Out == "" {
		return usagef("--checkpoint and --out are required")
	}
	if c.opt.Target < 0 || c.opt.Target > 1 {
		return usagef("--target must be in (0, 1], got %g", c.opt.Target)
	}
	if c.opt.Sequences <= 0 {
		return usagef("--sequences must be positive")
	}
	if c.data != "" && fs.Changed("calibrate-on") {
		return usagef("--data calibrates on its file: give --data or --calibrate-on, not both")
	}
	if on := c.calibrateOn; on != train.CalibrateValid && on != train.CalibrateTrain {
		if fi, err := os.Stat(on); err != nil || !fi.Mode().IsRegular() {
			return usagef("--calibrate-on %q: want valid, train or an existing data file", on)
		}
	}
	if err := c.opt.Check(); errors.Is(err, harden.ErrOptions) {
		return usageError{err}
	}
	if err := checkHardenPaths(c, *force); err != nil {
		return err
	}
	initBLAS(stderr, false)
	r, err := hardenRun(c, stderr)
	if err != nil {
		return err
	}
	if d != checkpoints.F32 {
		fmt.Fprintf(stderr, "harden: %s stores its weight matrices as %s\n", c.opt.Out, d)
	}
	return printJSON(stdout, r)
}

// hardenRun loads the run (train.OpenRun) under the lock of the run
// directory that holds --out, and hardens it (harden.Harden) calibrated on
// --calibrate-on. With --data the run's own data files are not opened: the
// data is both the calibration set and the held-out set.
func hardenRun(c hardenFlags, log io.Writer) (*harden.Result, error) {
	ckpt, err := train.SparseRunCheckpoint(c.checkpoint)
	if err != nil {
		return nil, fmt.Errorf("harden: %w", err)
	}
	release, err := train.LockEnclosingRun(c.opt.Out)
	if err != nil {
		return nil, fmt.Errorf("harden: %w", err)
	}
	defer release()
	start := time.Now()
	r, err := train.OpenRun(ckpt, c.cacheDir, c.data)
	if err != nil {
		return nil, fmt.Errorf("harden: %w", err)
	}
	fmt.Fprintf(log, "harden: loaded %s and its data in %.1f s\n", ckpt, time.Since(start).Seconds())
	calib := r.Data.Train
	if c.data != "" {
		calib.Name = c.data
	} else if calib, err = r.CalibrationSplit(c.calibrateOn); err != nil {
		return nil, fmt.Errorf("harden: --calibrate-on %s: %w", c.calibrateOn, err)
	}
	in, err := r.HardenInput(calib)
	if err != nil {
		return nil, err
	}
	return harden.Harden(in, c.opt, log)
}

// checkHardenPaths heals the checkpoint a crash may have left half-swapped
// and checks --out against everything the hardening reads: the checkpoint,
// the calibration data, the caches, and the run's base model and data.
func checkHardenPaths(c hardenFlags, force bool) error {
	if err := checkpoints.Heal(c.checkpoint); err != nil {
		return err
	}
	ckpt := c.checkpoint // a run directory is read through its best checkpoint
	if _, err := os.Stat(filepath.Join(ckpt, "best", checkpoints.StateFile)); err == nil {
		ckpt = filepath.Join(ckpt, "best")
	}
	inputs := []pathInput{{"input --checkpoint", ckpt}, {"input --data", c.data}, {"--cache-dir", c.cacheDir}}
	if c.calibrateOn != train.CalibrateValid && c.calibrateOn != train.CalibrateTrain {
		inputs = append(inputs, pathInput{"input --calibrate-on", c.calibrateOn})
	}
	run := train.DefaultConfig()
	if jsonfile.Read(filepath.Join(ckpt, checkpoints.ConfigFile), &run) == nil {
		inputs = append(inputs, pathInput{"run's base model", run.Model}, pathInput{"run's training data", run.Train},
			pathInput{"run's validation data", run.Valid}, pathInput{"run's cache", run.CacheDir})
	}
	return checkOutDir("out", c.opt.Out, force, "a sparse checkpoint (it has no "+checkpoints.SparseManifestFile+")", checkpoints.IsSparseDir, inputs...)
}
