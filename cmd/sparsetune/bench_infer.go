package main

import (
	"cmp"
	"fmt"
	"io"

	"github.com/sparsetune/sparsetune/bench"
	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/harden"
	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/internal/blas"
)

// benchInferFlags are bench infer's command line.
type benchInferFlags struct {
	dir, save, dtype string
	synthetic        bool
	sc               harden.SyntheticConfig
	bc               bench.InferConfig
	denseAbove       float64
	d                checkpoints.DType // dtype, parsed
}

func runBenchInfer(args []string, stdout, stderr io.Writer) error {
	var f benchInferFlags
	if err := f.parse(args, stderr); err != nil {
		return err
	}
	initBLAS(stderr, false)
	e, err := f.engine(stderr)
	if err != nil {
		return err
	}
	if f.save != "" {
		if err := checkpoints.Quantize(e.Source, cmp.Or(f.d, checkpoints.F32)); err != nil {
			return err
		}
		if err := checkpoints.WriteSparse(f.save, e.Source, "", nil); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s\n", f.save)
	}
	if f.denseAbove >= 0 {
		e.DenseAbove = f.denseAbove
	}
	fmt.Fprintf(stderr, "calibrated compute %.4f (τ %.4f)\n", e.Manifest.Compute, e.Manifest.Layers[0].Tau)
	if err := quantizeBenched(e, f.d, stderr); err != nil {
		return err
	}
	r, err := bench.Infer(e, f.bc, stderr)
	if err != nil {
		return err
	}
	printBenchInfer(stderr, r)
	return printJSON(stdout, r)
}

// parse reads bench infer's flags into f and checks them.
func (f *benchInferFlags) parse(args []string, stderr io.Writer) error {
	fs := newFlags("bench infer", "bench infer (--checkpoint DIR | --synthetic [--family gpt2 --layers 8 --d-model 512 --heads 8 --ffn 2048 --target 0.5]) [flags]", stderr)
	fs.StringVar(&f.dir, "checkpoint", "", "sparse checkpoint directory to benchmark")
	fs.BoolVar(&f.synthetic, "synthetic", false, "benchmark a random model with routers calibrated to --target on random tokens")
	fs.Bool("dense", true, "also run the same engine densely, for the speedups (always on; kept for scripts)")
	sc := &f.sc
	fs.StringVar(&sc.Family, "family", "gpt2", "synthetic model family: gpt2, llama, mistral, qwen2 or qwen3 (its config.json defaults: qwen3's q/k norms and head_dim 128, qwen2's q/k/v biases)")
	fs.IntVar(&sc.Layers, "layers", 8, "synthetic model layers")
	fs.IntVar(&sc.DModel, "d-model", 512, "synthetic model width")
	fs.IntVar(&sc.Heads, "heads", 8, "synthetic model heads")
	fs.IntVar(&sc.KVHeads, "kv-heads", 0, "synthetic model key/value heads, grouped-query attention (llama layout; 0: --heads)")
	fs.IntVar(&sc.HeadDim, "head-dim", 0, "synthetic model head_dim (llama layout; 0: the family's default, d-model/heads or 128 for qwen3)")
	fs.IntVar(&sc.FFN, "ffn", 2048, "synthetic model FFN width")
	fs.IntVar(&sc.Vocab, "vocab", 4096, "synthetic model vocabulary")
	fs.IntVar(&sc.GroupSize, "group-size", 32, "synthetic model FFN group size")
	fs.Float64Var(&sc.Target, "target", 0.5, "synthetic model compute target")
	fs.IntVar(&sc.CalibSeqs, "calib-seqs", 4, "synthetic model: random sequences the threshold is calibrated on")
	fs.IntVar(&sc.CalibLen, "calib-len", 128, "synthetic model: tokens per calibration sequence")
	bc := &f.bc
	fs.IntVar(&bc.Batch, "batch", 16, "scoring batch size")
	fs.IntVar(&bc.SeqLen, "seq", 128, "scoring sequence length")
	fs.IntVar(&bc.Prompt, "prompt", 16, "decoding: prompt tokens")
	fs.IntVar(&bc.Gen, "gen", 112, "decoding: generated tokens (greedy)")
	fs.IntVar(&bc.Reps, "reps", 5, "repetitions (medians are reported)")
	fs.StringVar(&f.save, "save", "", "with --synthetic: also write the calibrated random model as a sparse checkpoint to this directory")
	fs.Float64Var(&f.denseAbove, "dense-above", -1, "run a block densely with masks when more than this fraction of its (token, unit) pairs is on (default: measured per layer part, the faster path)")
	fs.StringVar(&f.dtype, "dtype", "", "store the engine's weight matrices as f32, bf16 or int8 before timing (quantized in memory; with --save the checkpoint too), and report the largest logit change that caused on random tokens (default: as the checkpoint stores them; f32 for --synthetic)")
	if err := parse(fs, args); err != nil {
		return err
	}
	return f.check()
}

// check checks bench infer's flags (after parsing) and parses --dtype.
func (f *benchInferFlags) check() error {
	if f.dtype != "" {
		var err error
		if f.d, err = checkpoints.ParseDType(f.dtype); err != nil {
			return usagef("--dtype: %v", err)
		}
	}
	if (f.dir == "") == !f.synthetic {
		return usagef("give exactly one of --checkpoint DIR and --synthetic")
	}
	bc := f.bc
	if bc.Batch <= 0 || bc.SeqLen <= 0 || bc.Prompt <= 0 || bc.Gen < 0 || bc.Reps <= 0 {
		return usagef("--batch, --seq, --prompt and --reps must be positive, --gen ≥ 0")
	}
	if f.synthetic {
		if err := checkSynthetic(f.sc); err != nil {
			return err
		}
	}
	if f.save != "" && !f.synthetic {
		return usagef("--save needs --synthetic")
	}
	if f.denseAbove > 1 {
		return usagef("--dense-above must be at most 1 (negative: measured per layer part), got %g", f.denseAbove)
	}
	return nil
}

// engine builds the engine to benchmark: the synthetic model, calibrated,
// or the sparse checkpoint read.
func (f *benchInferFlags) engine(stderr io.Writer) (*infer.Engine, error) {
	if f.synthetic {
		sc := f.sc
		mc, _ := harden.SyntheticModelConfig(sc) // checked by checkSynthetic
		fmt.Fprintf(stderr, "synthetic %s: %d layers, d %d, %d heads (%d key/value, head_dim %d), ffn %d, vocab %d, groups of %d; calibrating τ for compute %.2f on %d×%d random tokens\n",
			sc.Family, mc.L, mc.D, mc.H, mc.KVH, mc.S(), mc.F, mc.Vocab, sc.GroupSize, sc.Target, sc.CalibSeqs, sc.CalibLen)
		return harden.Synthetic(sc)
	}
	sp, err := checkpoints.ReadSparse(f.dir)
	if err != nil {
		return nil, err
	}
	return infer.New(sp)
}

// quantizeBenched stores e's weight matrices as d (none given, or the
// dtype they have: nothing to do) and reports the bytes saved and the
// largest logit change on random tokens.
func quantizeBenched(e *infer.Engine, d checkpoints.DType, stderr io.Writer) error {
	from := e.DType()
	if d == "" || d == from {
		return nil
	}
	f32MB := e.WeightBytes() / 1e6
	T := 64
	if lim := e.Config.MaxLen(); lim > 0 {
		T = min(T, lim)
	}
	seqs := infer.RandomTokens(e.Config.Vocab, 2, T, 7)
	delta, err := e.QuantizeCompared(d, seqs)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "weights %s → %s: %.1f MB → %.1f MB; max |Δ logit| %.3g routed, %.3g dense (logits up to %.3g) on 2×%d random tokens\n",
		from, d, f32MB, e.WeightBytes()/1e6, delta.Routed, delta.Dense, delta.Scale, len(seqs[0]))
	return nil
}

// printBenchInfer writes r's figures as lines a person reads.
func printBenchInfer(stderr io.Writer, r *bench.InferResult) {
	fmt.Fprintf(stderr, "scoring %d×%d: dense %.1f ms, sparse %.1f ms (%.2fx; compute %.3f, %.0f%% of blocks dense, union sparsity %.3f)\n",
		r.Batch, r.SeqLen, r.ScoreMsDense, r.ScoreMsSparse, r.ScoreSpeedup, r.Compute, 100*r.DenseBlocks, r.UnionSparsity)
	if r.DecodeMsDense > 0 {
		fmt.Fprintf(stderr, "greedy decode, batch 1: dense %.2f ms/token, sparse %.2f ms/token (%.2fx; compute %.3f)\n",
			r.DecodeMsDense, r.DecodeMsSparse, r.DecodeSpeedup, r.DecodeCompute)
	}
	if r.DecodeBytesSparse > 0 {
		fmt.Fprintf(stderr, "weights read per decoded token: dense %.1f MB, sparse %.1f MB, bound %.1f MB (sparse/bound %.3f)\n",
			r.DecodeBytesDense/1e6, r.DecodeBytesSparse/1e6, r.DecodeBytesBound/1e6, r.DecodeBytesSparse/r.DecodeBytesBound)
	}
	fmt.Fprintf(stderr, "blas: %s\n", blas.Name())
}

// checkSynthetic checks a synthetic model's sizes before anything is
// built: a model with no layers (or heads, ...) would report speedups of
// nothing.
func checkSynthetic(sc harden.SyntheticConfig) error {
	if err := positive(map[string]int{"layers": sc.Layers, "d-model": sc.DModel, "heads": sc.Heads, "ffn": sc.FFN,
		"vocab": sc.Vocab, "group-size": sc.GroupSize, "calib-seqs": sc.CalibSeqs, "calib-len": sc.CalibLen}); err != nil {
		return err
	}
	switch {
	case !(sc.Target > 0 && sc.Target <= 1):
		return usagef("--target must be in (0, 1], got %g", sc.Target)
	case sc.KVHeads < 0 || sc.HeadDim < 0:
		return usagef("--kv-heads and --head-dim must be ≥ 0 (0: the family's default), got %d and %d", sc.KVHeads, sc.HeadDim)
	case sc.Family == "gpt2" && (sc.KVHeads != 0 || sc.HeadDim != 0):
		return usagef("--kv-heads and --head-dim apply to the llama layout (llama, mistral, qwen2, qwen3), not gpt2")
	case sc.KVHeads > 0 && sc.Heads%sc.KVHeads != 0:
		return usagef("--kv-heads %d does not divide --heads %d", sc.KVHeads, sc.Heads)
	case sc.HeadDim == 0 && sc.Family != "qwen3" && sc.DModel%sc.Heads != 0:
		return usagef("--heads %d does not divide --d-model %d (or give --head-dim)", sc.Heads, sc.DModel)
	case sc.FFN%sc.GroupSize != 0:
		return usagef("--group-size %d does not divide --ffn %d", sc.GroupSize, sc.FFN)
	}
	if _, err := harden.SyntheticModelConfig(sc); err != nil {
		return usagef("--family %s: %v", sc.Family, err)
	}
	return nil
}
