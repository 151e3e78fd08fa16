// Package train fine-tunes sparsetune models: the optimizer, the learning
// rate schedule and the training loop.
package train
