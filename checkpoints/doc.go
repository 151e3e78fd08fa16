// Package checkpoints writes and reads training checkpoints.
//
// A checkpoint is a directory: a Hugging Face model directory (config.json,
// model.safetensors, tokenizer files copied from the base model) plus the
// trainer's files (optimizer.bin, trainer_state.json, train_config.json).
// Directories appear atomically: they are written under a temporary name,
// every file fsynced, then renamed into place and the parent fsynced, and the
// run's "latest" pointer is replaced atomically after that. A crash at any
// moment leaves either the previous checkpoint or the new one, never a
// half-written one.
package checkpoints
