// Package nn is sparsetune's transformer: one configurable model covering
// the GPT-2, BERT/RoBERTa and LLaMA families, loaded from and saved to
// Hugging Face model directories with Hugging Face's tensor names and
// layouts, and built as a gorgonia graph of the fused ops in internal/ops.
//
// Attention takes an optional per-token, per-head gate and the FFN an
// optional per-token, per-neuron-group gate (see Gates). Without gates the
// model is the dense model; routers supply gates without nn knowing them.
//
// Shape letters used in comments throughout the project:
//
//	B batch            T time (sequence length)   D model width
//	H attention heads  S head size (D/H)          F FFN width
//	G neuron groups    V vocabulary               L layers
//	N rows = B*T       C classes
package nn
