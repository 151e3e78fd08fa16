// Package infer is the sparse inference engine: it runs a sparse checkpoint
// (package checkpoints, format docs/sparse-checkpoint.md) and skips, per
// token, the attention heads and FFN neuron groups its routers switch off.
//
// What lives where:
//   - engine.go: Engine, built from a checkpoint with New; load.go: New's
//     steps (embeddings, each layer in its family's layout, the head).
//   - forward.go: Forward, one batched pass with per-token routing, and
//     Stats, the measured compute (active over dense FLOPs, the cost model
//     of package loss); attention.go: its attention sublayer (keys and
//     values, queries, RoPE and q/k norms, per-head contexts, the output
//     projection).
//   - topk.go: top-k routing (manifest version 3): every token runs its
//     layer's k_heads and k_groups units with the largest router logits,
//     ties to the lower index (the order of the training graph's mask), so
//     the measured compute is fixed whatever the tokens; threshold routing
//     (float32(σ(logit − shift)) > τ) is forward.go's gate rule.
//   - units.go: the per-unit path (one product per kept unit over the tokens
//     that use it) and the dense-with-mask fallback, chosen per layer part
//     by timing both or by a threshold (Engine.DenseAbove).
//   - decode.go: Session, batch-1 decoding with a key/value cache that a
//     head fills only when a token reads it.
//   - heads.go: the language-model and classification heads.
//   - matrix.go: the weight matrices (attention, FFN, LM head), stored as
//     F32, BF16 or INT8 with a scale per 32 weights: decoding reads them in
//     their dtype through internal/vec's kernels, batched passes widen the
//     rows a product needs; Quantize converts an engine in memory.
//   - cost.go: the FLOPs of a head at a token's position and of an FFN
//     group (package loss's cost model), which Stats adds up.
//   - bench.go: MeasureCompute and SetTau (what calibration in package
//     harden drives), RandomTokens and WeightCount (package bench times the
//     engine: sparsetune bench infer).
//   - evaluate.go: Evaluate, a split's metrics (package metrics) and the
//     compute measured on it: how a run and sparsetune eval measure a
//     sparse checkpoint.
//
// The engine never builds or calibrates a checkpoint: package harden does
// (and builds the random models of bench infer --synthetic).
//
// Every family and layout the nn package loads runs here: GPT-2, BERT and
// RoBERTa, and the LLaMA layout (llama, mistral, qwen2, qwen3) with its
// biases, q/k norms, RoPE scaling and head_dim. The fast row kernels are in
// internal/vec, chosen at run time by CPU feature (SPARSETUNE_KERNELS). The
// engine is checked against the masked training graph (package nn) to 1e-4.
package infer
