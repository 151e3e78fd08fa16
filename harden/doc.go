// Package harden turns a model fine-tuned with routers into a sparse
// checkpoint (docs/sparse-checkpoint.md) that package infer runs.
//
// It owns the four steps of hardening, one file each:
//
//   - calibration (calibrate.go): the hardening threshold τ is set by
//     bisection so that the compute the inference engine measures on the
//     calibration sequences is the target (CalibrateTau);
//   - unit selection (select.go): with that τ, a unit on for at most
//     PruneBelow of the calibration tokens is removed, one on for at least
//     DenseAbove of them runs dense without routing, the others stay routed
//     (Select);
//   - pruning (prune.go): the model's tensors are cut to the kept units
//     (Prune), driven by the one per-family layout table of package
//     checkpoints (checkpoints.PruneRules), which the checkpoint reader's
//     shape checks and the Hugging Face export read too;
//   - writing (harden.go): the pruned weights, the kept units' router
//     columns and the manifest go to disk atomically through
//     checkpoints.WriteSparse (Harden).
//
// Harden takes a model, its router parameters and router.Config,
// calibration and held-out sequences with their names, the base model
// directory (tokenizer files) and the run's config to record; it does not
// know about training runs. Package train calls it at the end of a sparse
// run, and sparsetune harden calls it on a run that train.OpenRun loaded.
//
// Synthetic builds random models with calibrated routers for benchmarking
// the engine without a training run (bench infer --synthetic).
package harden
