package main

import (
	"io"
	"os"
	"path/filepath"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/internal/jsonfile"

	"github.com/sparsetune/sparsetune/train"
)

func runHarden(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("harden", "harden --checkpoint RUN_OR_CHECKPOINT --out DIR [--data FILE] [--target T] [--force]", stderr)
	var c train.HardenConfig
	fs.StringVar(&c.Checkpoint, "checkpoint", "", "sparse run directory (its best checkpoint) or checkpoint directory")
	fs.StringVar(&c.Out, "out", "", "sparse checkpoint directory to write: new, empty, or an earlier sparse checkpoint (replaced atomically)")
	fs.StringVar(&c.Data, "data", "", "calibration data (default: the run's training data)")
	fs.Float64Var(&c.Target, "target", 0, "compute target (default: the run's)")
	fs.Float64Var(&c.PruneBelow, "prune-below", 0.001, "remove units on for at most this fraction of calibration tokens")
	fs.Float64Var(&c.DenseAbove, "dense-above", 0.999, "make units on for at least this fraction of calibration tokens dense")
	fs.IntVar(&c.Sequences, "sequences", 128, "calibration sequences")
	fs.StringVar(&c.CacheDir, "cache-dir", "", "tokenized-data cache (default: the run's)")
	force := fs.Bool("force", false, "replace --out even if it is a non-empty directory that is not a sparse checkpoint")
	if err := parse(fs, args); err != nil {
		return err
	}
	if c.Checkpoint == "" || c.Out == "" {
		return usagef("--checkpoint and --out are required")
	}
	if c.Target < 0 || c.Target > 1 {
		return usagef("--target must be in (0, 1], got %g", c.Target)
	}
	if c.Sequences <= 0 {
		return usagef("--sequences must be positive")
	}
	if err := checkHardenPaths(c, *force); err != nil {
		return err
	}
	initBLAS(stderr, false)
	r, err := train.Harden(c, stderr)
	if err != nil {
		return err
	}
	return printJSON(stdout, r)
}

// checkHardenPaths heals the checkpoint a crash may have left half-swapped
// and checks --out against everything the hardening reads: the checkpoint,
// the calibration data, the caches, and the run's base model and data.
func checkHardenPaths(c train.HardenConfig, force bool) error {
	if err := checkpoints.Heal(c.Checkpoint); err != nil {
		return err
	}
	ckpt := c.Checkpoint // a run directory is read through its best checkpoint
	if _, err := os.Stat(filepath.Join(ckpt, "best", checkpoints.StateFile)); err == nil {
		ckpt = filepath.Join(ckpt, "best")
	}
	inputs := []pathInput{{"input --checkpoint", ckpt}, {"input --data", c.Data}, {"--cache-dir", c.CacheDir}}
	run := train.DefaultConfig()
	if jsonfile.Read(filepath.Join(ckpt, checkpoints.ConfigFile), &run) == nil {
		inputs = append(inputs, pathInput{"run's base model", run.Model}, pathInput{"run's training data", run.Train},
			pathInput{"run's validation data", run.Valid}, pathInput{"run's cache", run.CacheDir})
	}
	return checkOutDir("out", c.Out, force, "a sparse checkpoint (it has no "+checkpoints.SparseManifestFile+")", checkpoints.IsSparseDir, inputs...)
}
