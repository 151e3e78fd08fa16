package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/internal/safetensors"
	"github.com/sparsetune/sparsetune/nn"
)

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inspect", "inspect DIR [--tensors]", stderr)
	tensors := fs.Bool("tensors", false, "list every tensor with its dtype and shape")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() != 1 {
		return usagef("want one model or checkpoint directory")
	}
	dir := fs.Arg(0)
	if latest, err := checkpoints.Latest(dir); err == nil && latest != "" {
		fmt.Fprintf(stdout, "run directory %s; latest checkpoint %s\n", dir, latest)
		dir = latest
	}
	if _, err := os.Stat(filepath.Join(dir, checkpoints.SparseManifestFile)); err == nil {
		return inspectSparse(dir, stdout)
	}
	m, err := nn.Load(dir, nn.LoadOptions{})
	if err != nil {
		return err
	}
	c := m.Config
	fmt.Fprintf(stdout, "model:      %s (%s)\n", dir, familyLine(c))
	fmt.Fprintf(stdout, "task:       %s", c.Task)
	if c.Task == nn.Classification {
		fmt.Fprintf(stdout, ", labels %v", c.Labels)
	}
	fmt.Fprintf(stdout, "\nshape:      %d layers, d %d, %d heads (%d kv), ffn %d, vocab %d, context %d\n", c.L, c.D, c.H, c.KVH, c.F, c.Vocab, c.MaxPos)
	fmt.Fprintf(stdout, "parameters: %d in %d tensors\n", m.Params.Count(), len(m.Params.List))
	if tok, err := data.LoadTokenizer(dir); err == nil {
		fmt.Fprintf(stdout, "tokenizer:  %s, %d tokens\n", tok.Name(), tok.VocabSize())
	} else {
		fmt.Fprintf(stdout, "tokenizer:  none (%v)\n", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, checkpoints.StateFile)); err == nil {
		var st map[string]any
		if json.Unmarshal(b, &st) == nil {
			fmt.Fprintf(stdout, "training:   step %v, best metric %v at step %v\n", st["step"], st["best_metric"], st["best_step"])
		}
	}
	if *tensors {
		f, err := safetensors.ReadModelDir(dir)
		if err != nil {
			return err
		}
		for _, n := range f.Names {
			t := f.Tensors[n]
			fmt.Fprintf(stdout, "  %-60s %-5s %v\n", n, t.DType, t.Shape)
		}
	}
	return nil
}

// familyLine is the family with the config's switches, e.g.
// "qwen3: head_dim 16, q/k norm".
func familyLine(c *nn.Config) string {
	if fs := c.Features(); len(fs) > 0 {
		return string(c.Family) + ": " + strings.Join(fs, ", ")
	}
	return string(c.Family)
}

// inspectSparse summarises a sparse checkpoint: the model, the router, and
// per layer the kept, dense and routed units and the threshold (top-k
// routing: the heads and groups every token runs).
func inspectSparse(dir string, w io.Writer) error {
	sp, err := checkpoints.ReadSparse(dir)
	if err != nil {
		return err
	}
	c, m := sp.Config, sp.Manifest
	fmt.Fprintf(w, "sparse checkpoint: %s (format %s v%d, %s, %s)\n", dir, m.Format, m.Version, familyLine(c), c.Task)
	fmt.Fprintf(w, "dense shape:       %d layers, d %d, %d heads, ffn %d in %d groups of %d\n", c.L, c.D, c.H, c.F, c.F/m.GroupSize, m.GroupSize)
	fmt.Fprintf(w, "router:            %s; target %.3f, measured compute %.4f on %d calibration sequences (%s)\n",
		m.Router, m.Target, m.Compute, m.Calibration.Sequences, m.Calibration.Source)
	topk := m.Routing == checkpoints.RoutingTopK
	if topk {
		fmt.Fprintf(w, "routing:           top-k: every token runs each layer's k heads and k groups\n")
	}
	for l, ml := range m.Layers {
		rule := fmt.Sprintf("τ %.4f", ml.Tau)
		if topk {
			rule = fmt.Sprintf("k %d heads, %d groups", ml.KHeads, ml.KGroups)
		}
		fmt.Fprintf(w, "  layer %2d: %s | heads %d kept (%d dense) of %d | groups %d kept (%d dense) of %d\n",
			l, rule, len(ml.Heads), len(ml.HeadsDense), c.H, len(ml.Groups), len(ml.GroupsDense), c.F/m.GroupSize)
	}
	return nil
}
