// Package metrics turns a model's outputs on evaluated data into the
// figures sparsetune reports: loss, accuracy and macro-F1 (classifiers),
// perplexity (language models) and, for a hard-masked model, the compute it
// spent.
//
// Every evaluation feeds one Accumulator: the training graph's evaluator
// (package train) with its batch losses and logits, the inference engine's
// (package infer) with per-row logits and labels or per-token logits and
// targets, and checkpoint evaluation and scoring (package evaluate) through
// them. The Accumulator's Metrics value prints the evaluation line of a run's
// log (String) and its record in metrics.jsonl (Record).
//
// The row functions LogSumExp, LogProb, Softmax and Argmax are the one
// numerically stable reading of a row of logits that evaluation, scoring and
// greedy decoding share.
//
// The package sits at the bottom of the stack: it imports nn (for the task)
// and nothing else of sparsetune's.
package metrics
