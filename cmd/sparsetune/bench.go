package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"

	"github.com/sparsetune/sparsetune/bench"
	"github.com/sparsetune/sparsetune/internal/blas"
	"github.com/sparsetune/sparsetune/internal/vec"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/train"
)

func runBench(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "infer" {
		return runBenchInfer(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "train" {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			fmt.Fprintln(stdout, "Usage: sparsetune bench train|infer [flags]   (sparsetune bench train --help, sparsetune bench infer --help)")
			return nil
		}
		return usagef("want a benchmark name: sparsetune bench train|infer [flags]")
	}
	fs := newFlags("bench train", "bench train [flags]", stderr)
	c := bench.TrainConfig{}
	family := fs.String("family", "gpt2", "model family: gpt2, bert or llama")
	fs.IntVar(&c.Layers, "layers", 2, "transformer layers")
	fs.IntVar(&c.D, "d-model", 256, "model width")
	fs.IntVar(&c.Heads, "heads", 4, "attention heads")
	fs.IntVar(&c.KVHeads, "kv-heads", 0, "key/value heads, grouped-query attention (llama; 0: --heads)")
	fs.IntVar(&c.FFN, "ffn", 1024, "FFN width")
	fs.IntVar(&c.Vocab, "vocab", 4096, "vocabulary size")
	fs.IntVar(&c.Seq, "seq", 128, "sequence length")
	fs.IntVar(&c.Batch, "batch", 8, "batch size")
	fs.IntVar(&c.Steps, "steps", 30, "timed steps")
	fs.IntVar(&c.Warmup, "warmup", 5, "untimed warm-up steps")
	fs.IntVar(&c.RSSEvery, "rss-every", 0, "print loss, step time and RSS every N steps (0: only the summary)")
	fs.Float64Var(&c.PeakGFLOPS, "peak-gflops", 0, "fp32 peak of the cores used, for MFU (default: clock × FMA width from /proc/cpuinfo, per thread)")
	fs.Uint64Var(&c.Seed, "seed", 1, "random seed")
	fs.StringVar(&c.Trainable, "train", train.TrainAll, "what trains: all, or routers (the base frozen; needs --target)")
	fs.Float64Var(&c.Target, "target", 0, "compute target in (0, 1]: time a sparse run's step (routers, cost objective); 0: dense")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile of the timed run to this file")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	c.Family = nn.Family(*family)
	if err := positive(map[string]int{"layers": c.Layers, "d-model": c.D, "heads": c.Heads, "ffn": c.FFN, "vocab": c.Vocab,
		"seq": c.Seq, "batch": c.Batch, "steps": c.Steps}); err != nil {
		return err
	}
	if c.Warmup < 0 || c.RSSEvery < 0 || c.PeakGFLOPS < 0 || c.KVHeads < 0 {
		return usagef("--warmup, --rss-every, --peak-gflops and --kv-heads must be ≥ 0")
	}
	switch {
	case c.Trainable != train.TrainAll && c.Trainable != train.TrainRouters:
		return usagef("--train %q: want all or routers", c.Trainable)
	case !(c.Target >= 0 && c.Target <= 1):
		return usagef("--target must be in (0, 1] (0: dense), got %g", c.Target)
	case c.Trainable == train.TrainRouters && c.Target == 0:
		return usagef("--train routers applies only to sparse runs: give --target in (0, 1]")
	}
	if _, err := bench.ModelConfig(c); err != nil {
		return usageError{err}
	}
	if c.PeakGFLOPS == 0 {
		c.PeakGFLOPS = bench.PeakGFLOPSPerCore() * float64(runtime.GOMAXPROCS(0))
	}
	initBLAS(stderr, false)
	fmt.Fprintf(stdout, "blas: %s\n", blas.Name())
	fmt.Fprintf(stdout, "model: %s, %d layers, d %d, %d heads, ffn %d, vocab %d; batch %d × seq %d; %d+%d steps; train %s, target %g\n",
		c.Family, c.Layers, c.D, c.Heads, c.FFN, c.Vocab, c.Batch, c.Seq, c.Warmup, c.Steps, c.Trainable, c.Target)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	r, err := bench.Train(c, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "median step %.4f s  %.0f tokens/s  %.1f GFLOPS  MFU %.1f%%  peak RSS %.1f MB\n",
		r.MedianStepS, r.TokensPerS, r.GFLOPS, 100*r.MFU, r.PeakRSSMB)
	return printJSON(stdout, r)
}

// positive checks that each size flag (name → value) is positive, in name
// order so that the first one reported does not depend on map order.
func positive(sizes map[string]int) error {
	names := make([]string, 0, len(sizes))
	for n := range sizes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if sizes[n] <= 0 {
			return usagef("--%s must be positive, got %d", n, sizes[n])
		}
	}
	return nil
}

func runInfo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("info", "info", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	initBLAS(stderr, false)
	fmt.Fprintf(stdout, "blas: %s\n", blas.Name())
	fmt.Fprintf(stdout, "kernels: %s (this CPU: up to %s; %s=scalar|avx2|avx512 overrides)\n", vec.Kernels(), vec.Best(), vec.EnvVar)
	fmt.Fprintf(stdout, "threads: %d (GOMAXPROCS)\n", runtime.GOMAXPROCS(0))
	fmt.Fprintf(stdout, "go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
