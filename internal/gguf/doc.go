// Package gguf writes and reads GGUF files, the model format of llama.cpp
// (ggml's docs/gguf.md, version 3), and encodes tensors in the three types
// sparsetune exports: F32, F16 and Q8_0.
//
// A GGUF file is, all little-endian:
//
//	magic "GGUF", version uint32 (3), tensor count uint64, KV count uint64
//	KV metadata:  key (string), value type uint32, value
//	tensor infos: name (string), n_dims uint32, dims uint64 × n_dims,
//	              type uint32, offset uint64 (from the start of the data)
//	padding to general.alignment (default 32)
//	tensor data, each tensor starting at a multiple of the alignment
//
// A string is a uint64 byte count and the bytes (UTF-8, no terminator);
// an array value is an element type uint32, a count uint64 and the
// elements. Tensor dims are listed innermost first: Dims[0] is the length
// of a row, so a row-major (out, in) matrix has Dims {in, out}.
//
// Write streams a File; Read parses one from bytes and returns an error,
// never a panic, for any corrupt or truncated input (FuzzRead holds it to
// that). Metadata values are Go values of fixed types (see KV), so a file
// read back compares equal to the one written.
package gguf
