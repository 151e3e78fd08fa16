package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/sparsetune/sparsetune/internal/blas"
	"github.com/sparsetune/sparsetune/train"
)

func runHarden(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("harden", "harden --checkpoint RUN_OR_CHECKPOINT --out DIR [--data FILE] [--target T]", stderr)
	var c train.HardenConfig
	fs.StringVar(&c.Checkpoint, "checkpoint", "", "sparse run directory (its best checkpoint) or checkpoint directory")
	fs.StringVar(&c.Out, "out", "", "sparse checkpoint directory to write")
	fs.StringVar(&c.Data, "data", "", "calibration data (default: the run's training data)")
	fs.Float64Var(&c.Target, "target", 0, "compute target (default: the run's)")
	fs.Float64Var(&c.PruneBelow, "prune-below", 0.001, "remove units on for at most this fraction of calibration tokens")
	fs.Float64Var(&c.DenseAbove, "dense-above", 0.999, "make units on for at least this fraction of calibration tokens dense")
	fs.IntVar(&c.Sequences, "sequences", 128, "calibration sequences")
	fs.StringVar(&c.CacheDir, "cache-dir", "", "tokenized-data cache (default: the run's)")
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
	if err := blas.Init(); err != nil {
		return err
	}
	r, err := train.Harden(c, stderr)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(r)
	fmt.Fprintln(stdout, string(b))
	return nil
}
