package data

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/internal/testmodel"
)

// The golden sets are llama.cpp's tokenizer test vectors: inputs in
// ggml-vocab-NAME.gguf.inp, and in .out one line per input with the ids that
// Hugging Face tokenizers gave for tokenizer.encode(text,
// add_special_tokens=False). They live in shared/tokenizers/golden beside the
// repository, not in it.

// goldenCase is one input of a golden set and the ids Hugging Face gave.
type goldenCase struct {
	text string
	want []int
}

// readGolden reads a golden set. Inputs are split on "\n__ggml_vocab_test__\n"
// exactly as llama.cpp's test-tokenizer-0 (read_tests) does: the separator
// owns the newline before and after it, so an input keeps any other leading
// or trailing newlines ("\n\n" is an input of two newlines), and the file
// ends with a separator, after which there is no further input.
func readGolden(t testing.TB, name string) []goldenCase {
	t.Helper()
	dir := testmodel.SharedDir(t, filepath.Join("tokenizers", "golden"))
	inp, err := os.ReadFile(filepath.Join(dir, "ggml-vocab-"+name+".gguf.inp"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(filepath.Join(dir, "ggml-vocab-"+name+".gguf.out"))
	if err != nil {
		t.Fatal(err)
	}
	const sep = "\n__ggml_vocab_test__\n"
	var texts []string
	for raw := string(inp); len(raw) > 0; {
		i := strings.Index(raw, sep)
		if i < 0 {
			texts = append(texts, raw)
			break
		}
		texts = append(texts, raw[:i])
		raw = raw[i+len(sep):]
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%s: %d inputs but %d output lines", name, len(texts), len(lines))
	}
	cases := make([]goldenCase, len(texts))
	for i, line := range lines {
		cases[i].text = texts[i]
		cases[i].want = []int{}
		for _, f := range strings.Fields(line) {
			id, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("%s.out line %d: %v", name, i+1, err)
			}
			cases[i].want = append(cases[i].want, id)
		}
	}
	return cases
}

// checkGolden encodes every case and reports the parity as "n/N".
func checkGolden(t *testing.T, name string, tok Tokenizer, cases []goldenCase) {
	t.Helper()
	pass := 0
	for i, c := range cases {
		got, err := tok.Encode(c.text)
		if err != nil {
			t.Errorf("%s case %d %q: %v", name, i, c.text, err)
			continue
		}
		if got == nil {
			got = []int{}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s case %d %q:\n got %v\nwant %v", name, i, c.text, got, c.want)
			continue
		}
		pass++
	}
	t.Logf("%s parity with Hugging Face: %d/%d cases (%s)", name, pass, len(cases), tok.Name())
}

func TestGoldenGPT2(t *testing.T) {
	cases := readGolden(t, "gpt-2")
	tok, err := LoadTokenizer(testmodel.SharedDir(t, filepath.Join("tokenizers", "gpt2")))
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "gpt-2", tok, cases)
}

func TestGoldenBertBGE(t *testing.T) {
	cases := readGolden(t, "bert-bge")
	tok, err := LoadTokenizer(filepath.Join("testdata", "tokenizer", "bert-base-uncased"))
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "bert-bge", tok, cases)
}

func TestGoldenLlamaSPM(t *testing.T) {
	cases := readGolden(t, "llama-spm")
	tok, err := LoadTokenizer(filepath.Join("testdata", "tokenizer", "llama2-spm"))
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "llama-spm", tok, cases)
}

func TestGoldenLlamaBPE(t *testing.T) {
	cases := readGolden(t, "llama-bpe")
	tok, err := LoadTokenizer(filepath.Join("testdata", "tokenizer", "llama3-bpe"))
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "llama-bpe", tok, cases)
}

// The tokenizer.json path must agree with the vocab.json+merges.txt and
// vocab.txt paths: the same vocabularies, written as the tokenizer.json that
// transformers' converters produce for GPT-2 and BERT, run through the
// golden sets again.

func TestGoldenGPT2TokenizerJSON(t *testing.T) {
	cases := readGolden(t, "gpt-2")
	src := testmodel.SharedDir(t, filepath.Join("tokenizers", "gpt2"))
	vocab, err := os.ReadFile(filepath.Join(src, "vocab.json"))
	if err != nil {
		t.Fatal(err)
	}
	lines, err := readMergesTXT(filepath.Join(src, "merges.txt"))
	if err != nil {
		t.Fatal(err)
	}
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	dir := writeTokenizerJSON(t, map[string]any{
		"added_tokens":   []map[string]any{{"id": 50256, "content": "<|endoftext|>", "special": true}},
		"normalizer":     nil,
		"pre_tokenizer":  byteLevel,
		"post_processor": byteLevel,
		"decoder":        byteLevel,
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "",
			"end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false,
			"vocab": json.RawMessage(vocab), "merges": lines},
	})
	tok, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "gpt-2", tok, cases)
}

func TestGoldenBertBGETokenizerJSON(t *testing.T) {
	cases := readGolden(t, "bert-bge")
	vocab, _, err := readVocabTXT(filepath.Join("testdata", "tokenizer", "bert-base-uncased", "vocab.txt"))
	if err != nil {
		t.Fatal(err)
	}
	dir := writeTokenizerJSON(t, map[string]any{
		"normalizer": map[string]any{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
			"strip_accents": nil, "lowercase": true},
		"pre_tokenizer": map[string]any{"type": "BertPreTokenizer"},
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single": []any{map[string]any{"SpecialToken": map[string]any{"id": "[CLS]"}},
				map[string]any{"Sequence": map[string]any{"id": "A"}},
				map[string]any{"SpecialToken": map[string]any{"id": "[SEP]"}}},
			"special_tokens": map[string]any{"[CLS]": map[string]any{"ids": []int{101}}, "[SEP]": map[string]any{"ids": []int{102}}}},
		"decoder": map[string]any{"type": "WordPiece", "prefix": "##", "cleanup": true},
		"model": map[string]any{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
			"max_input_chars_per_word": 100, "vocab": vocab},
	})
	tok, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "bert-bge", tok, cases)
	if got, _ := EncodeForModel(tok, "hello"); !slices.Equal(got, []int{101, 7592, 102}) {
		t.Errorf("EncodeForModel = %v", got)
	}
}
