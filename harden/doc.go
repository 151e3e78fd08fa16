// Package harden turns a model fine-tuned with routers into a sparse
// checkpoint (docs/sparse-checkpoint.md) that package infer runs.
//
// It owns the four steps of hardening, one file each:
//
//   - calibration (calibrate.go, measure.go): the hardening threshold τ is
//     set by a search over its logit (stepped out from the trained τ,
//     then false position) so that the compute the inference engine
//     measures on the calibration sequences (held-out data: a run's valid split by
//     default) is the target (CalibrateTau). Then each layer's compute
//     there is compared with its allocation: its compute on the data the
//     routers were trained on (the reference), scaled to the target. A
//     layer more than layerTol (0.02, the default budget tolerance) from
//     its allocation gets its own τ, set so that its compute is its
//     allocation, first layer to last; the other layers keep one τ,
//     calibrated again so that the total stays on target
//     (CalibrateLayers). Corrected layers keep the learned allocation,
//     not the others' compute. After pruning, the uncorrected layers' τ
//     is refit on the pruned model (Refit). Measure gives the compute,
//     its standard error over the sequences and each layer's compute;
//     the manifest records them with the calibration set's name;
//   - unit selection (select.go): with that τ, a unit on for at most
//     PruneBelow of the calibration tokens is removed, one on for at least
//     DenseAbove of them runs dense without routing, the others stay routed
//     (Select);
//   - pruning (prune.go): the model's tensors are cut to the kept units
//     (Prune) by checkpoints.Assemble, driven by the one per-family layout
//     table of package checkpoints (checkpoints.PruneRules), which the
//     checkpoint reader's shape checks and the exports read too;
//   - writing (harden.go): the pruned weights are stored as Options.DType
//     (checkpoints.Quantize) before the refit and the final measurements,
//     so that τ and the compute recorded are the written model's; the
//     weights, the kept units' router columns and the manifest go to disk
//     atomically through checkpoints.WriteSparse (Harden).
//
// Under top-k routing (router.TopK; topk.go) there is no τ: each layer's
// k_h heads and k_g groups per token come from router.ChooseK for the
// target, units never chosen on the calibration tokens are removed, units
// chosen by all of them run dense (counted in k), and the manifest records
// routing "topk" and every layer's k (format version 3).
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
