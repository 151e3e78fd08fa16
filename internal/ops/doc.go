// Package ops holds the fused gorgonia operations that the transformer in
// package nn is built from.
//
// Every operation is a gorgonia.Op with its symbolic derivative (gorgonia.SDOp)
// defined beside it, in one file per operation. The operations own their output
// buffers, so a TapeMachine that is Reset every step does not reallocate them,
// and they call BLAS directly through internal/blas. An op whose output is
// needed only within the run (Transient: a matmul's input gradient) lets its
// caller give that buffer to several ops whose lifetimes do not overlap. All kernels are generic
// over float32 (training) and float64 (finite-difference gradient checks).
//
// Gorgonia's stock softmax, InverseSqrt, dropout and 1-D gather are wrong on
// some inputs (see the package tests of each replacement here), so the model
// never uses them.
//
// TopKMask is the routers' top-k gate (package router): a hard per-row mask
// whose backward pass is straight-through (σ'), and TopKRow its ranking,
// which the inference engine shares so that it picks the units training
// picks.
//
// Integer inputs (token ids, class targets, padding masks) travel through the
// graph as float tensors holding exact integers: float32 represents every
// integer below 2^24, far above any vocabulary size.
//
// Shape letters follow package nn: N rows (B*T tokens), D model width, H heads,
// S head size, F FFN width, G neuron groups, V vocabulary.
package ops
