// Package nn is sparsetune's transformer: one configurable model covering
// the GPT-2, BERT/RoBERTa and LLaMA families, loaded from and saved to
// Hugging Face model directories with Hugging Face's tensor names and
// layouts, and built as a gorgonia graph of the fused ops in internal/ops.
//
// Mistral, Qwen2 and Qwen3 share LLaMA's layout (Family.Layout) and differ
// in Config switches: explicit head_dim, q/k/v and o biases, MLP biases,
// Qwen3's per-head q/k RMSNorm, rope_scaling (linear, dynamic within
// max_position_embeddings, llama3) and Mistral's sliding_window, which we
// run exactly when it covers the sequence and refuse beyond (CheckLength).
// GPT-2 loads from both its prefixed ("transformer.h.0...") and the Hub's
// bare GPT2Model key layout ("h.0..."). A config.json feature we do not
// implement (rope_scaling yarn, a per-layer sliding window, ...) is an
// error naming the key. Before any weight is allocated, config.json's sizes
// are checked against sane limits and each other (validate.go) and the
// file's tensors against the shapes they imply; a NaN or infinite weight
// is an error naming the tensor and element (CheckFinite).
//
// Attention takes an optional per-token, per-head gate and the FFN an
// optional per-token, per-neuron-group gate (see Gates). Without gates the
// model is the dense model; routers supply gates without nn knowing them.
//
// A Param marked Frozen gets no gradient: a compiled graph computes only
// the gradients asked for (the backward ops built for frozen weights are
// left out of the machine) and shares the buffers of the input gradients
// between layers, so freezing the base of a model saves both the
// weight-gradient GEMMs and their weight-sized results.
//
// Shape letters used in comments throughout the project:
//
//	B batch            T time (sequence length)   D model width
//	H attention heads  S head size (D/H or head_dim) F FFN width
//	G neuron groups    V vocabulary               L layers
//	N rows = B*T       C classes
//
// # Where things live
//
//   - config.go, config_llama.go: Config (config.json, the families and
//     their switches), validate.go: the size limits and CheckFinite.
//   - families.go: each family's layers; graph.go: Build, the training
//     graph with its Gates; feed.go: Batch, Feed and Compile.
//   - params.go: Param and every family's parameter names (Specs); io.go:
//     Model, Load and Save of Hugging Face directories; permute.go: the FFN
//     tensors a neuron permutation reorders (PermuteFFN).
package nn
