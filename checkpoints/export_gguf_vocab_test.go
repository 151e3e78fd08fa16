package checkpoints

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/internal/gguf"
	"github.com/sparsetune/sparsetune/nn"
)

// tokenizerDir is a real tokenizer of package data's test fixtures.
func tokenizerDir(name string) string {
	return filepath.Join("..", "data", "testdata", "tokenizer", name)
}

func kvOf(t *testing.T, kv []gguf.KV, key string) any {
	t.Helper()
	f := gguf.File{KV: kv}
	v, ok := f.Get(key)
	if !ok {
		t.Fatalf("no metadata %s", key)
	}
	return v
}

// TestGGUFVocabRealTokenizers: the tokens sit at the ids sparsetune's
// tokenizer gives them, with llama.cpp's model, pre-tokenizer, token types
// and special ids.
func TestGGUFVocabRealTokenizers(t *testing.T) {
	for _, c := range []struct {
		dir, model, pre string
		addBOS          bool
		text            string
	}{
		{"qwen3", "gpt2", "qwen2", false, "Hello world"},
		{"qwen2.5", "gpt2", "qwen2", false, "Hello world"},
		{"llama3.1", "gpt2", "llama-bpe", true, "Hello world"},
		{"mistral", "llama", "default", true, "Hello world"},
	} {
		tok, err := data.LoadTokenizer(tokenizerDir(c.dir))
		if err != nil {
			t.Fatal(err)
		}
		cfg := &nn.Config{Vocab: tok.VocabSize()}
		kv, err := GGUFVocab(cfg, tokenizerDir(c.dir))
		if err != nil {
			t.Fatalf("%s: %v", c.dir, err)
		}
		if kvOf(t, kv, "tokenizer.ggml.model") != c.model || kvOf(t, kv, "tokenizer.ggml.pre") != c.pre || kvOf(t, kv, "tokenizer.ggml.add_bos_token") != c.addBOS {
			t.Errorf("%s: model %v pre %v add_bos %v; want %s %s %v", c.dir, kvOf(t, kv, "tokenizer.ggml.model"), kvOf(t, kv, "tokenizer.ggml.pre"), kvOf(t, kv, "tokenizer.ggml.add_bos_token"), c.model, c.pre, c.addBOS)
		}
		tokens := kvOf(t, kv, "tokenizer.ggml.tokens").([]string)
		types := kvOf(t, kv, "tokenizer.ggml.token_type").([]int32)
		if len(tokens) != cfg.Vocab || len(types) != cfg.Vocab {
			t.Fatalf("%s: %d tokens and %d types for a vocabulary of %d", c.dir, len(tokens), len(types), cfg.Vocab)
		}
		ids, err := tok.Encode(c.text)
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.Decode(ids); got != c.text {
			t.Fatalf("%s: decode %q", c.dir, got)
		}
		for _, id := range ids {
			if types[id] != tokNormal {
				t.Errorf("%s: token %d %q has type %d, want normal", c.dir, id, tokens[id], types[id])
			}
		}
		if eos := tok.EOS(); eos >= 0 {
			if kvOf(t, kv, "tokenizer.ggml.eos_token_id") != uint32(eos) || types[eos] != tokControl {
				t.Errorf("%s: eos %v type %d, want %d control", c.dir, kvOf(t, kv, "tokenizer.ggml.eos_token_id"), types[eos], eos)
			}
		}
		if c.model == "llama" {
			scores := kvOf(t, kv, "tokenizer.ggml.scores").([]float32)
			if len(scores) != cfg.Vocab || types[3+'A'] != tokByte || tokens[3+'A'] != "<0x41>" {
				t.Errorf("%s: %d scores; id %d is %q type %d, want the byte <0x41>", c.dir, len(scores), 3+'A', tokens[3+'A'], types[3+'A'])
			}
		} else if len(kvOf(t, kv, "tokenizer.ggml.merges").([]string)) == 0 {
			t.Errorf("%s: no merges", c.dir)
		}
	}
}

func TestGGUFVocabGPT2Files(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "tokenizers", "gpt2")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared GPT-2 tokenizer missing (%v)", err)
	}
	kv, err := GGUFVocab(&nn.Config{Vocab: 50257}, dir)
	if err != nil {
		t.Fatal(err)
	}
	tokens := kvOf(t, kv, "tokenizer.ggml.tokens").([]string)
	if kvOf(t, kv, "tokenizer.ggml.pre") != "gpt-2" || tokens[50256] != "<|endoftext|>" || tokens[464] != "The" {
		t.Errorf("pre %v, tokens 50256 %q and 464 %q", kvOf(t, kv, "tokenizer.ggml.pre"), tokens[50256], tokens[464])
	}
}

func TestGGUFVocabPlaceholder(t *testing.T) {
	kv, err := GGUFVocab(&nn.Config{Vocab: 300}, "")
	if err != nil {
		t.Fatal(err)
	}
	tokens := kvOf(t, kv, "tokenizer.ggml.tokens").([]string)
	if len(tokens) != 300 || tokens['\n'] != "Ċ" || tokens['a'] != "a" || tokens[' '] != "Ġ" || tokens[299] != "<|endoftext|>" || kvOf(t, kv, "tokenizer.ggml.eos_token_id") != uint32(299) {
		t.Errorf("placeholder tokens %q %q %q %q", tokens['\n'], tokens['a'], tokens[' '], tokens[299])
	}
	if _, err := GGUFVocab(&nn.Config{Vocab: 100}, ""); err == nil {
		t.Error("a vocabulary of 100 got a placeholder")
	}
}

// TestGGUFVocabRejects: a tokenizer with ids beyond the model's vocabulary,
// or of a kind llama.cpp cannot run, is an error.
func TestGGUFVocabRejects(t *testing.T) {
	if _, err := GGUFVocab(&nn.Config{Vocab: 1000}, tokenizerDir("qwen3")); err == nil {
		t.Error("qwen3's tokenizer fit a vocabulary of 1000")
	}
	if _, err := GGUFVocab(&nn.Config{Vocab: 40000}, tokenizerDir("bert-base-uncased")); err == nil {
		t.Error("BERT's WordPiece vocabulary was accepted")
	}
}

func TestGGUFRejectsUnsupported(t *testing.T) {
	bert := tinySparseModel(t, "bert")
	s := pruneForTest(t, bert, tinyManifest("bert", true))
	if _, _, err := BuildGGUF(s, GGUFOptions{Type: gguf.F32}); !errors.Is(err, ErrGGUFUnsupported) {
		t.Errorf("bert: %v, want ErrGGUFUnsupported", err)
	}
	s = ggufSparse(t, "llama")
	if _, _, err := BuildGGUF(s, GGUFOptions{Type: gguf.TensorType(2)}); !errors.Is(err, ErrGGUFUnsupported) {
		t.Errorf("type 2 (Q4_0): %v, want ErrGGUFUnsupported", err)
	}
	delete(s.Tensors, "model.norm.weight")
	if _, _, err := BuildGGUF(s, GGUFOptions{Type: gguf.F32}); err == nil {
		t.Error("a checkpoint missing model.norm.weight exported")
	}
}

// TestGGUFTypes: matrices take the asked type (Q8_0 only where rows are a
// multiple of 32 long, else F16); vectors stay F32.
func TestGGUFTypes(t *testing.T) {
	s := ggufSparse(t, "qwen3")
	for _, typ := range []gguf.TensorType{gguf.F32, gguf.F16, gguf.Q8_0} {
		f, _, err := BuildGGUF(s, GGUFOptions{Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		for _, tn := range f.Tensors {
			want := typ
			switch {
			case len(tn.Dims) == 1:
				want = gguf.F32
			case typ == gguf.Q8_0 && tn.Dims[0]%32 != 0:
				want = gguf.F16
			}
			if tn.Type != want {
				t.Errorf("%s: %s %v is %s, want %s", typ, tn.Name, tn.Dims, tn.Type, want)
			}
		}
		if v, _ := f.Get("general.file_type"); v != GGUFFileType[typ] {
			t.Errorf("%s: file_type %v", typ, v)
		}
	}
}
