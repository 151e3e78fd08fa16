// Package checkpoints writes and reads training checkpoints, sparse
// checkpoints and their exports: Hugging Face directories (ExportHF) and
// llama.cpp GGUF files (ExportGGUF, docs/gguf.md).
//
// A checkpoint is a directory: a Hugging Face model directory (config.json,
// model.safetensors, tokenizer files copied from the base model) plus the
// trainer's files (optimizer.bin, trainer_state.json, train_config.json).
// Every directory here (checkpoints, best, sparse checkpoints, exports) is
// written with internal/atomicdir: under a temporary name, every file
// fsynced, then swapped into place and the parent fsynced, and the run's
// "latest" pointer is replaced atomically after that. Prune deletes a
// checkpoint through a hidden ".checkpoint-N.deleting" name. A crash at
// any moment leaves the previous directory or the new one, never a
// half-written or half-deleted one under a checkpoint's name; where it
// leaves the name empty between the two renames of a swap, Heal (run by
// readers, ReadSparse included) restores it, and Recover (run when a run
// starts or resumes) also removes every temporary left behind.
//
// ExportGGUF writes one file, atomically (internal/atomicfile), through
// internal/gguf: llama.cpp's tensor names and metadata for the llama,
// mistral, qwen2, qwen3 and gpt2 families, the kept units zero-padded to
// the widest layer where llama.cpp needs one shape for all layers, and the
// tokenizer's vocabulary (GGUFVocab).
//
// A sparse checkpoint's weight matrices may be stored as BF16 or INT8
// (version 2; Quantize, QuantizeDir, docs/sparse-checkpoint.md); the
// reader widens them into SparseTensor.Data and keeps the stored form for
// the engine. A top-k checkpoint (version 3, written only for top-k
// routing: SparseManifest.Routing and each layer's KHeads and KGroups)
// runs a fixed number of units per token.
//
// The one per-family tensor layout table is PruneRules
// (sparse_io_shapes.go): for every tensor that heads or FFN groups own,
// the axis that is cut and the width of one unit along it. SparseShapes
// (the reader's shape checks), Assemble (the cut to a manifest's kept
// units, which package harden writes), ExportHF (the scatter back to dense
// shapes) and ExportGGUF all read it.
//
// IsSparseDir and IsExportDir recognise this package's own outputs
// (ExportHF leaves ExportMarkerFile), so commands can refuse to replace any
// other directory.
package checkpoints
