// Package safetensors reads and writes the Hugging Face safetensors format,
// in which pretrained weights are published and sparsetune checkpoints are
// saved.
//
// A file is an 8-byte little-endian header length N, N bytes of JSON header,
// then the data buffer:
//
//	{"__metadata__": {"format": "pt"},
//	 "h.0.attn.c_attn.weight": {"dtype": "F32", "shape": [768, 2304], "data_offsets": [0, 7077888]},
//	 ...}
//
// data_offsets are [begin, end) byte offsets into the data buffer, which is
// row-major and little-endian. The format is specified by the reference
// implementation, https://github.com/huggingface/safetensors; this package
// follows its rules (safetensors/src/tensor.rs, Metadata::validate): the
// header is at most 100 MB of UTF-8 JSON, padded with spaces; every tensor's
// byte size equals numel times the dtype size; and the tensors, sorted by
// offset, tile the data buffer with no hole, overlap or trailing byte. On top
// of that, duplicate tensor names are rejected rather than silently merged.
//
// Float tensors (F32, F16, BF16, F64) are converted to float32 on read; the
// model code computes in float32. Integer tensors (token ids in fixtures,
// attention masks) are rejected by Read, because weights are never integers,
// and loaded into Tensor.Ints by ReadOptions{Ints: true}.Read. Write stores
// float tensors as F32, F16, BF16 or F64 and integer tensors as their DType,
// replacing the file atomically (package internal/atomicfile).
//
// ReadModelDir loads a Hugging Face model directory, single-file or sharded
// with model.safetensors.index.json.
//
// Every problem with a file is an error naming the file and, where there is
// one, the tensor; no input makes this package panic (FuzzRead checks this).
package safetensors
