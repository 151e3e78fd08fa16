// Package vec holds the inference engine's float32 row kernels and their
// low-precision twins.
//
//   - vec.go: Dot, Axpy, GemvN and GemvT over rows of a row-major weight
//     matrix, for batch-1 decoding; DotRows and AxpyRows, the batched
//     per-unit products of package infer (one head's or FFN group's rows
//     with the tokens that use it, reading and writing the tokens' rows in
//     place instead of gathering them).
//   - lowp.go: weight rows stored as BF16 or as INT8 with a float32 scale
//     per block of 32 (ToBF16, QuantizeQ8): DotBF16, DotQ8, AxpyBF16 and
//     AxpyQ8 dequantise inside; WidenBF16 and DequantizeQ8 widen the rows a
//     batched product needs.
//   - level.go: the level the kernels run at, chosen once at start
//     (Kernels: the best the CPU supports, or EnvVar's choice; SetKernels
//     for tests and benchmarks).
//
// The kernels are AVX2/FMA and AVX-512 assembly on amd64 machines that
// have them and plain Go elsewhere; the Go versions are the reference
// every assembly variant is fuzzed against.
package vec
