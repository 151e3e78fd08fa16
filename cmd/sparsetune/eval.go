package main

import (
	"fmt"
	"io"

	"github.com/sparsetune/sparsetune/evaluate"
)

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "eval (--model DIR | --checkpoint SPARSE_DIR) --data FILE [flags]", stderr)
	var c evaluate.Config
	fs.StringVar(&c.Model, "model", "", "model directory or training checkpoint (a sparse run's is evaluated with its routers)")
	sparse := fs.String("checkpoint", "", "sparse checkpoint directory, evaluated with the sparse inference engine (adds the measured compute)")
	fs.StringVar(&c.Data, "data", "", "evaluation data (.jsonl, .csv, .tsv, .txt, .parquet)")
	fs.StringVar(&c.TextField, "text-field", "text", "field holding the text")
	fs.StringVar(&c.LabelField, "label-field", "label", "field holding the class label")
	fs.StringVar(&c.IDField, "id-field", "id", `field holding a unique example id ("-": derive ids from file and line)`)
	fs.IntVar(&c.SeqLen, "seq-len", 0, "tokens per sequence (0: a training or sparse checkpoint's seq_len, else min(model context, 256))")
	fs.IntVar(&c.Batch, "batch", 8, "sequences per forward pass")
	fs.StringVar(&c.CacheDir, "cache-dir", "", "tokenized-data cache directory")
	fs.BoolVar(&c.NoCache, "no-cache", false, "tokenize the data afresh, without reading or writing the cache")
	verbose := fs.BoolP("verbose", "v", false, "print the linear-algebra backend first")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case (c.Model == "") == (*sparse == "") || c.Data == "":
		return usagef("--data and one of --model and --checkpoint are required")
	case c.SeqLen < 0:
		return usagef("--seq-len must be ≥ 0 (0: the model's context, at most 256), got %d", c.SeqLen)
	case c.Batch <= 0:
		return usagef("--batch must be positive, got %d", c.Batch)
	case c.NoCache && fs.Changed("cache-dir"):
		return usagef("--cache-dir conflicts with --no-cache")
	}
	initBLAS(stderr, *verbose)
	run := evaluate.Evaluate
	if *sparse != "" {
		c.Model, run = *sparse, evaluate.EvaluateSparse
	}
	r, err := run(c)
	if err != nil {
		return err
	}
	if r.Compute != nil {
		fmt.Fprintf(stderr, "measured compute %.4f\n", *r.Compute)
	}
	fmt.Fprintf(stderr, "%s on %s: %s %.4f (loss %.4f, %d counted)\n", r.Model, r.Data, r.MetricName, r.Metric, r.Loss, r.Count)
	return printJSON(stdout, r)
}
