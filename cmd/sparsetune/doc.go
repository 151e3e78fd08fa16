// Command sparsetune fine-tunes transformers to skip work: routers learn,
// per token, which attention heads and FFN neuron groups to compute.
//
// Usage:
//
//	sparsetune <command> [flags]
//
// Run "sparsetune help" for the commands and "sparsetune <command> --help"
// for each command's flags. Exit codes: 0 success, 1 run error, 2 usage.
//
// The command only parses flags, builds a config and calls the library
// function that does the work; logs and errors go to stderr (an error is
// one line), a command's result to stdout (one JSON line where scripts read
// it: train, eval, harden, bench, ...).
//
// # Where things live
//
//   - main.go: the command table, the flag sets, usagef and usageError (exit
//     2), and how an error becomes its one line and exit code.
//   - train.go: train, and trainFlags, one flag per setting of the run
//     config, which coreset.go and sweep.go register too.
//   - eval.go, score.go, inspect.go, generate.go: reading models and
//     checkpoints (packages evaluate, infer, checkpoints).
//   - harden.go, export.go: writing sparse checkpoints and exports;
//     outpath.go: the checks that keep --out from replacing an input or a
//     directory the command did not write.
//   - bench.go (bench train, info), bench_infer.go (bench infer),
//     coreset.go, sweep.go (sweep, sweep collect, sweep frontier),
//     report.go.
package main
