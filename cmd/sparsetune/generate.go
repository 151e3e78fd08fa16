package main

import (
	"fmt"
	"io"
	"time"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/metrics"
)

func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("generate", "generate --checkpoint SPARSE_DIR --prompt TEXT [--max-new 64] [--dense]", stderr)
	dir := fs.String("checkpoint", "", "sparse checkpoint directory of a decoder language model")
	prompt := fs.String("prompt", "", "prompt text")
	maxNew := fs.Int("max-new", 64, "tokens to generate (greedy); generation also stops at the end-of-sequence token")
	dense := fs.Bool("dense", false, "run every kept unit (ignore the routers)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dir == "" || *prompt == "" {
		return usagef("--checkpoint and --prompt are required")
	}
	if *maxNew <= 0 {
		return usagef("--max-new must be positive")
	}
	initBLAS(stderr, false)
	sp, err := checkpoints.ReadSparse(*dir)
	if err != nil {
		return err
	}
	e, err := infer.New(sp)
	if err != nil {
		return err
	}
	e.Dense = *dense
	tok, err := data.LoadTokenizer(*dir)
	if err != nil {
		return err
	}
	ids, err := data.EncodeForModel(tok, *prompt)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return fmt.Errorf("the prompt encodes to no tokens")
	}
	s, err := e.NewSession(len(ids) + *maxNew)
	if err != nil {
		return err
	}
	var logits []float32
	for _, id := range ids {
		if logits, err = s.Step(id); err != nil {
			return err
		}
	}
	start := time.Now()
	var out []int
	for len(out) < *maxNew && s.Len() < len(ids)+*maxNew {
		next := metrics.Argmax(logits)
		if next == sp.Config.EOSID {
			break
		}
		out = append(out, next)
		if len(out) == *maxNew {
			break
		}
		if logits, err = s.Step(next); err != nil {
			return err
		}
	}
	dt := time.Since(start).Seconds()
	text := tok.Decode(out)
	fmt.Fprintf(stderr, "%d tokens in %.2f s (%.1f tokens/s), compute %.3f\n", len(out), dt, float64(len(out))/dt, e.Stats.Compute())
	return printJSON(stdout, map[string]any{"prompt": *prompt, "completion": text, "tokens": out})
}
