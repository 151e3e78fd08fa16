// Package bench measures sparsetune's speed and memory: training steps
// (Train, the `sparsetune bench train` command) and the inference engine
// dense against sparse (Infer, `sparsetune bench infer` and the latency
// column of a sweep), with the /proc readers they report from (PeakRSSMB,
// CurrentRSSMB, PeakGFLOPSPerCore).
//
// Train times full steps of a random model through the trainer a run uses
// (train.Stepper), so its figures are those of `sparsetune train`; its FLOP
// count is the standard 6·P·B·T estimate that scripts/bench_torch.py uses
// too, for comparison with PyTorch. Infer alternates dense and sparse
// passes of one engine so that both see the same machine state, and
// reports medians (Median) of its repetitions. ValidSequences gives it a
// sparse checkpoint's own validation data: the compute a checkpoint spends
// depends on what it reads.
//
// Benchmarks are never timed assertions in tests: the figures are printed
// (JSON keys are stable, scripts compare them) and testing.B benchmarks
// report tokens/s.
//
// Where it sits: above train and infer (it drives both); the synthetic
// random sparse model it can time is built by package harden.
package bench
