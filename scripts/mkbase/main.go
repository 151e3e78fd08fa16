// Command mkbase prepares and finishes the embedded base model (see
// scripts/make_base.sh).
//
//	go run ./scripts/mkbase prepare DIR   corpus, tokenizer and config.json into DIR
//	go run ./scripts/mkbase finish SRC DST  copy a trained model as F16 with its tokenizer
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/internal/atomicfile"
	"github.com/sparsetune/sparsetune/internal/corpus"
	"github.com/sparsetune/sparsetune/nn"
)

// The base model's shape: GPT-2 family, small enough to ship (about 1.1 M
// parameters, 2 MB as F16) and to fine-tune in minutes on two cores.
const (
	vocabSize   = 2048
	corpusChars = 3_000_000
	validChars  = 200_000
	config      = `{
  "model_type": "gpt2",
  "architectures": ["GPT2LMHeadModel"],
  "vocab_size": %d,
  "n_embd": 128,
  "n_layer": 4,
  "n_head": 4,
  "n_inner": 512,
  "n_positions": 256,
  "activation_function": "gelu_new",
  "layer_norm_epsilon": 1e-5,
  "tie_word_embeddings": true,
  "bos_token_id": %d,
  "eos_token_id": %d
}
`
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkbase:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 2 && args[0] == "prepare":
		return prepare(args[1])
	case len(args) == 3 && args[0] == "finish":
		return finish(args[1], args[2])
	}
	return fmt.Errorf("usage: mkbase prepare DIR | mkbase finish SRC DST")
}

func prepare(dir string) error {
	model := filepath.Join(dir, "model")
	if err := os.MkdirAll(model, 0o755); err != nil {
		return err
	}
	text := corpus.Pretraining(1, corpusChars)
	valid := corpus.Pretraining(2, validChars)
	if err := atomicfile.WriteFile(filepath.Join(dir, "pretrain.txt"), []byte(text), 0o644); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "valid.txt"), []byte(valid), 0o644); err != nil {
		return err
	}
	bpe, err := data.TrainBPE([]string{text}, vocabSize)
	if err != nil {
		return err
	}
	if err := bpe.WriteGPT2Files(model); err != nil {
		return err
	}
	eos := bpe.Vocab["<|endoftext|>"]
	cfg := fmt.Sprintf(config, vocabSize, eos, eos)
	fmt.Printf("prepared %s: %d chars of pretraining text, BPE vocabulary %d\n", dir, len(text), vocabSize)
	return atomicfile.WriteFile(filepath.Join(model, "config.json"), []byte(cfg), 0o644)
}

func finish(src, dst string) error {
	m, err := nn.Load(src, nn.LoadOptions{})
	if err != nil {
		return err
	}
	if err := m.SaveAs(dst, "F16"); err != nil {
		return err
	}
	for _, f := range []string{"vocab.json", "merges.txt"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(filepath.Join(dst, f), b, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("wrote %s (%d parameters, F16)\n", dst, m.Params.Count())
	return nil
}
