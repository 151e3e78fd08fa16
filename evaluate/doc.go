// Package evaluate measures a model or checkpoint on a data file: the
// `sparsetune eval` and `sparsetune score` commands' engine.
//
//   - Evaluate computes the task metric (accuracy and macro-F1, or
//     perplexity) and loss of a model directory or a training checkpoint in
//     the training graph; a sparse run's checkpoint is evaluated with its
//     routers' hard masks at the run's calibrated τ, as the run's own
//     evaluation did, and reports the compute they spent.
//   - EvaluateSparse does the same for a sparse checkpoint with the
//     inference engine (package infer), which measures the compute.
//   - Score writes one JSON line per input: a decoder's log-probability,
//     perplexity and (optionally) per-token log-probabilities, a
//     classifier's class probabilities and label; dense models run in the
//     graph, sparse checkpoints in the engine.
//
// All of them feed one metrics.Accumulator (package metrics), which the
// training loop's own evaluations use too: the figures of a run's log, of
// `eval` and of the engine agree by construction.
//
// Where it sits: evaluate imports train (train.OpenEvalModel loads a
// checkpoint with its routers) and infer; train never imports evaluate.
// The evaluations a run makes while training (the graph's evaluator, the
// engine evaluation of the sparse checkpoint it delivers) live in train
// and infer, below this package, and feed the same accumulator.
package evaluate
