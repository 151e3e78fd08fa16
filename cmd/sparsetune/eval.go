package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/sparsetune/sparsetune/internal/blas"
	"github.com/sparsetune/sparsetune/train"
)

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "eval --model DIR --data FILE [flags]", stderr)
	var c train.EvalConfig
	fs.StringVar(&c.Model, "model", "", "model directory or training checkpoint")
	fs.StringVar(&c.Data, "data", "", "evaluation data (.jsonl, .csv, .tsv, .txt, .parquet)")
	fs.StringVar(&c.TextField, "text-field", "text", "field holding the text")
	fs.StringVar(&c.LabelField, "label-field", "label", "field holding the class label")
	fs.StringVar(&c.IDField, "id-field", "id", `field holding a unique example id ("-": derive ids from file and line)`)
	fs.IntVar(&c.SeqLen, "seq-len", 0, "tokens per sequence (0: min(model context, 256))")
	fs.IntVar(&c.Batch, "batch", 8, "sequences per forward pass")
	fs.StringVar(&c.CacheDir, "cache-dir", "", "tokenized-data cache directory")
	if err := parse(fs, args); err != nil {
		return err
	}
	if c.Model == "" || c.Data == "" {
		return usagef("--model and --data are required")
	}
	if err := blas.Init(); err != nil {
		return err
	}
	r, err := train.Evaluate(c)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s on %s: %s %.4f (loss %.4f, %d counted)\n", r.Model, r.Data, r.MetricName, r.Metric, r.Loss, r.Count)
	b, _ := json.Marshal(r)
	fmt.Fprintln(stdout, string(b))
	return nil
}
