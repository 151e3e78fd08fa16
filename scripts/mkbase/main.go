// Command mkbase prepares and finishes the embedded base model (see
// scripts/make_base.sh).
//
//	go run ./scripts/mkbase prepare DIR   corpus, tokenizer and config.json into DIR
//	go run ./scripts/mkbase finish SRC DST  copy a trained model as F16 with its tokenizer
//	go run ./scripts/mkbase prepare-from DIR VOCAB FILE...
//	    the same as prepare, but the corpus is the "text" of JSONL files
//	    (e.g. ../shared/datasets/sotu/train.jsonl); 2% of documents go to valid.txt
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
	case len(args) >= 4 && args[0] == "prepare-from":
		var v int
		if _, err := fmt.Sscanf(args[2], "%d", &v); err != nil {
			return fmt.Errorf("VOCAB %q: want an integer", args[2])
		}
		return prepareFrom(args[1], v, args[3:])
	}
	return fmt.Errorf("usage: mkbase prepare DIR | mkbase finish SRC DST")
}

func prepare(dir string) error {
	return writePrepared(dir, corpus.Pretraining(1, corpusChars), corpus.Pretraining(2, validChars), vocabSize)
}

// writePrepared writes the corpus, trains the tokenizer and writes the
// model's config.json.
func writePrepared(dir, text, valid string, vocab int) error {
	model := filepath.Join(dir, "model")
	if err := os.MkdirAll(model, 0o755); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "pretrain.txt"), []byte(text), 0o644); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "valid.txt"), []byte(valid), 0o644); err != nil {
		return err
	}
	bpe, err := data.TrainBPE([]string{text}, vocab)
	if err != nil {
		return err
	}
	if err := bpe.WriteGPT2Files(model); err != nil {
		return err
	}
	eos := bpe.Vocab["<|endoftext|>"]
	cfg := fmt.Sprintf(config, vocab, eos, eos)
	fmt.Printf("prepared %s: %d chars of pretraining text, %d of validation text, BPE vocabulary %d\n", dir, len(text), len(valid), vocab)
	return atomicfile.WriteFile(filepath.Join(model, "config.json"), []byte(cfg), 0o644)
}

// prepareFrom builds a corpus, tokenizer and config from JSONL documents.
func prepareFrom(dir string, vocab int, files []string) error {
	var train, valid strings.Builder
	n := 0
	for _, f := range files {
		recs, _, err := data.ReadRecords(f, data.ReadOptions{IDField: data.DeriveIDs})
		if err != nil {
			return err
		}
		for _, r := range recs {
			dst := &train
			if n%50 == 49 {
				dst = &valid
			}
			dst.WriteString(strings.TrimSpace(r.Text))
			dst.WriteString("\n\n")
			n++
		}
	}
	return writePrepared(dir, train.String(), valid.String(), vocab)
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
