package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"sort"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/sparsetune/sparsetune/internal/blas"
)

// command is one subcommand: it parses its own flags and runs.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"train":    {"fine-tune a model (no flags: the embedded default on the built-in task)", runTrain},
	"eval":     {"evaluate a model or checkpoint on a data file", runEval},
	"inspect":  {"show what a model directory, checkpoint or run holds", runInspect},
	"score":    {"score texts or token ids with a model (log-probabilities or class probabilities)", runScore},
	"bench":    {"benchmark a training step or the inference engine (bench train, bench infer)", runBench},
	"info":     {"show the linear-algebra backend and build information", runInfo},
	"sweep":    {"train one run per compute target and map the quality/compute frontier (sweep collect, sweep frontier)", runSweep},
	"report":   {"render a run or a sweep into one Markdown file with its plots", runReport},
	"coreset":  {"choose a subset of a training file (CCS, ELFS, random, hardest, easiest)", runCoreset},
	"harden":   {"harden a sparse run into a sparse checkpoint for the inference engine", runHarden},
	"generate": {"greedy generation with a sparse checkpoint (decoders)", runGenerate},
	"export":   {"write a sparse checkpoint's kept units as a plain Hugging Face model or a llama.cpp GGUF file", runExport},
}

// usageError marks errors in how the command was called (exit code 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func main() {
	// Training holds a large, long-lived heap of weights, activations and
	// optimizer moments, and makes little garbage per step. Go's default
	// (collect when the heap doubles) would let that garbage grow into a
	// second copy of the model's working set before the first collection;
	// 10% keeps resident memory flat at a negligible cost, because the
	// big buffers hold no pointers to scan. GOGC still overrides it.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(10)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "sparsetune: unknown command %q (run 'sparsetune help')\n", args[0])
		return 2
	}
	err := cmd.run(args[1:], stdout, stderr)
	var u usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, pflag.ErrHelp):
		return 0
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "sparsetune %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "sparsetune %s: %v\n", args[0], err)
		return 1
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "sparsetune: fine-tune transformers together with routers that skip work")
	fmt.Fprintln(w, "\nUsage: sparsetune <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'sparsetune <command> --help' for a command's flags.")
}

// newFlags makes a flag set that reports errors instead of exiting.
func newFlags(name, usage string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: sparsetune %s\n\nFlags:\n%s", usage, fs.FlagUsages())
	}
	return fs
}

// parse parses flags, turning parse failures into usage errors.
func parse(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return finiteFlags(fs)
}

// finiteFlags rejects NaN and ±Inf in every float flag given: no range
// check of a command has to remember that NaN compares false.
func finiteFlags(fs *pflag.FlagSet) error {
	var bad error
	fs.Visit(func(f *pflag.Flag) {
		if bad != nil || (f.Value.Type() != "float64" && f.Value.Type() != "float32") {
			return
		}
		if x, err := strconv.ParseFloat(f.Value.String(), 64); err == nil && (math.IsNaN(x) || math.IsInf(x, 0)) {
			bad = usagef("--%s must be a finite number, got %s", f.Name, f.Value.String())
		}
	})
	return bad
}

// printJSON writes v as one line of JSON. A value JSON cannot hold (a NaN
// metric) is a run error, never an empty line.
func printJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("the result cannot be written as JSON: %v", err)
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// initBLAS chooses the linear-algebra backend. A backend or thread count
// the environment asks for but cannot have falls back (to gonum, to the
// library's default thread count) with one warning line: the run goes on.
// With verbose, the backend is printed.
func initBLAS(stderr io.Writer, verbose bool) {
	if err := blas.Init(); err != nil {
		fmt.Fprintf(stderr, "sparsetune: warning: %v\n", err)
	}
	if verbose {
		fmt.Fprintf(stderr, "blas: %s\n", blas.Name())
	}
}
