package main

import (
	"io"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/evaluate"
)

func runScore(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("score", "score (--model DIR | --checkpoint SPARSE_DIR) --data FILE.jsonl [--out FILE] [--per-token] [--dense]", stderr)
	var c evaluate.ScoreConfig
	fs.StringVar(&c.ModelDir, "model", "", "Hugging Face model directory (config.json, model.safetensors, tokenizer files)")
	fs.StringVar(&c.Sparse, "checkpoint", "", "sparse checkpoint directory, run by the sparse inference engine")
	fs.StringVar(&c.Data, "data", "", `input: JSONL (one {"text": ...} or {"ids": [...]} object per line), or the "text" column of a .csv, .tsv, .txt or .parquet file`)
	fs.StringVar(&c.Out, "out", "", "write the JSONL results to this file (atomically) instead of stdout")
	fs.BoolVar(&c.PerToken, "per-token", false, `add "token_logprobs" for every predicted token (decoders)`)
	fs.IntVar(&c.Batch, "batch", 8, "sequences per forward pass")
	fs.BoolVar(&c.Dense, "dense", false, "with --checkpoint: run every kept unit for every token (ignore the routers), the model an export holds")
	if err := parse(fs, args); err != nil {
		return err
	}
	if (c.ModelDir == "") == (c.Sparse == "") || c.Data == "" {
		return usagef("--data and one of --model and --checkpoint are required")
	}
	if c.Dense && c.Sparse == "" {
		return usagef("--dense applies to --checkpoint only")
	}
	if c.Out != "" {
		if err := checkOutFile("out", c.Out, pathInput{"input --data", c.Data}, pathInput{"input --model", c.ModelDir}, pathInput{"input --checkpoint", c.Sparse}); err != nil {
			return err
		}
	}
	if c.ModelDir != "" { // a training checkpoint a killed save left half-swapped (ReadSparse heals --checkpoint)
		if err := checkpoints.Heal(c.ModelDir); err != nil {
			return err
		}
	}
	initBLAS(stderr, false)
	return evaluate.Score(c, stdout, stderr)
}
