// Package testmodel writes the tiny model directory and data file that the
// tests of several packages train on: a one-layer GPT-2 (d 16, 2 heads)
// with a plain byte-level tokenizer, and a two-class topic task (a training
// file and held-out splits); and SharedDir, which finds the real datasets
// and tokenizers in shared/ beside the checkout. Tests only.
package testmodel

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/nn"
)

// ByteLevelGPT2 writes a tiny GPT-2 model directory into dir whose
// tokenizer is plain byte-level (256 byte tokens + <|endoftext|>, no
// merges), with random weights (seed 9) when withWeights is set.
func ByteLevelGPT2(dir string, withWeights bool) error {
	// GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest
	// to code points from 256 up.
	vocab := map[string]int{}
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			vocab[string(rune(b))] = b
		} else {
			vocab[string(rune(256+n))] = b
			n++
		}
	}
	vocab["<|endoftext|>"] = 256
	vb, err := json.Marshal(vocab)
	if err != nil {
		return err
	}
	cfg := `{"model_type":"gpt2","architectures":["GPT2LMHeadModel"],"vocab_size":257,"n_embd":16,"n_layer":1,"n_head":2,"n_positions":32,"activation_function":"gelu_new","layer_norm_epsilon":1e-5,"bos_token_id":256,"eos_token_id":256}`
	for name, body := range map[string][]byte{"vocab.json": vb, "merges.txt": []byte("#version: 0.2\n"), "config.json": []byte(cfg)} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			return err
		}
	}
	if !withWeights {
		return nil
	}
	c, err := nn.LoadConfig(dir)
	if err != nil {
		return err
	}
	return (&nn.Model{Config: c, Params: nn.InitParams(c, 9, tensor.Float32)}).Save(dir)
}

// TopicData writes dir/data.jsonl, a two-class task of n examples (cat
// and dog sentences alternating, ids 0..n-1), and returns its path.
func TopicData(dir string, n int) (string, error) {
	var b strings.Builder
	for i := 0; i < n; i++ {
		text, label := fmt.Sprintf("the cat %d sat on the mat and purred", i), "cat"
		if i%2 == 1 {
			text, label = fmt.Sprintf("the dog %d ran in the park and barked", i), "dog"
		}
		fmt.Fprintf(&b, "{\"id\": \"%d\", \"text\": %q, \"label\": %q}\n", i, text, label)
	}
	p := filepath.Join(dir, "data.jsonl")
	return p, os.WriteFile(p, []byte(b.String()), 0o644)
}

// TopicSplit writes path, a split of the same two-class task in other
// words ("a cat number i naps by the warm window" / "a dog number i chases
// the ball outside"), n examples with ids from first, and returns path.
func TopicSplit(path string, first, n int) (string, error) {
	var b strings.Builder
	for i := first; i < first+n; i++ {
		text, label := fmt.Sprintf("a cat number %d naps by the warm window", i), "cat"
		if i%2 == 1 {
			text, label = fmt.Sprintf("a dog number %d chases the ball outside", i), "dog"
		}
		fmt.Fprintf(&b, "{\"id\": \"%d\", \"text\": %q, \"label\": %q}\n", i, text, label)
	}
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}
