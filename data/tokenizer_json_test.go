package data

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/tokenizer/pretrained"
)

// writeTokenizerJSON writes a tokenizer.json built from sections into a new
// directory and returns the directory.
func writeTokenizerJSON(t *testing.T, sections map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	b, err := json.Marshal(sections)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tinyModel is a BPE section over "▁", "a", "b" with merges a+b and ▁+ab.
func tinyModel() map[string]any {
	return map[string]any{
		"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": false,
		"vocab":  map[string]int{"<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3, "a": 4, "b": 5, "ab": 6, "▁ab": 7},
		"merges": []string{"a b", "▁ ab"},
	}
}

func lookAheadSplit() map[string]any {
	return map[string]any{"type": "Split", "pattern": map[string]string{"Regex": `\w+(?=!)`},
		"behavior": "Isolated", "invert": false}
}

func TestTokenizerJSONLookAheadIsAnError(t *testing.T) {
	dir := writeTokenizerJSON(t, map[string]any{"model": tinyModel(), "pre_tokenizer": lookAheadSplit()})
	tok, err := LoadTokenizer(dir)
	if err == nil {
		t.Fatalf("loaded %s, want an error", tok.Name())
	}
	for _, want := range []string{dir, "tokenizer.json", "pre_tokenizer", `\w+(?=!)`, "look-around"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestLibraryLookAheadDefect records the defect worked around: the
// library's loader panics on a look-ahead regex rather than returning an
// error.
func TestLibraryLookAheadDefect(t *testing.T) {
	b, _ := json.Marshal(map[string]any{"model": tinyModel(), "pre_tokenizer": lookAheadSplit()})
	panicked := func() (p bool) {
		defer func() { p = recover() != nil }()
		_, _ = pretrained.FromReader(strings.NewReader(string(b)))
		return false
	}()
	if !panicked {
		t.Fatal("library no longer panics on look-ahead regexes")
	}
}

func TestTokenizerJSONLibraryPanicIsAnError(t *testing.T) {
	// An id that is not a number makes the library's loader panic on a type
	// assertion; LoadTokenizer reports it instead.
	m := tinyModel()
	m["vocab"] = map[string]any{"a": "four"}
	_, err := LoadTokenizer(writeTokenizerJSON(t, map[string]any{"model": m}))
	if err == nil || !strings.Contains(err.Error(), "tokenizer.json") {
		t.Fatalf("err = %v, want an error naming tokenizer.json", err)
	}
}

func TestTokenizerJSONErrors(t *testing.T) {
	for name, c := range map[string]struct {
		sections map[string]any
		want     string
	}{
		"no model":           {map[string]any{"normalizer": nil}, `no "model" section`},
		"unigram":            {map[string]any{"model": map[string]any{"type": "Unigram", "vocab": [][]any{{"a", -1.0}}}}, "not supported"},
		"unknown normalizer": {map[string]any{"model": tinyModel(), "normalizer": map[string]any{"type": "Precompiled"}}, `normalizer: type "Precompiled" is not supported`},
		"unknown decoder":    {map[string]any{"model": tinyModel(), "decoder": map[string]any{"type": "CTC"}}, `decoder: type "CTC" is not supported`},
		"bad unk":            {map[string]any{"model": map[string]any{"type": "BPE", "unk_token": "<nope>", "vocab": map[string]int{"a": 0}, "merges": []string{}}}, `unk_token "<nope>"`},
		"bad replace regex":  {map[string]any{"model": tinyModel(), "normalizer": map[string]any{"type": "Replace", "pattern": map[string]string{"Regex": `(?<=a)b`}, "content": ""}}, "look-around"},
	} {
		_, err := LoadTokenizer(writeTokenizerJSON(t, c.sections))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", name, err, c.want)
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(`{"model": `), 0o644)
	if _, err := LoadTokenizer(dir); err == nil || !strings.Contains(err.Error(), "malformed JSON") {
		t.Errorf("truncated file: err = %v", err)
	}
}

func TestTokenizerJSONSentencePiece(t *testing.T) {
	dir := writeTokenizerJSON(t, map[string]any{
		"added_tokens": []map[string]any{{"id": 1, "content": "<s>", "special": true}, {"id": 2, "content": "</s>", "special": true}},
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Prepend", "prepend": "▁"},
			map[string]any{"type": "Replace", "pattern": map[string]string{"String": " "}, "content": "▁"}}},
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single": []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}},
				map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
				map[string]any{"SpecialToken": map[string]any{"id": "</s>", "type_id": 0}}},
			"special_tokens": map[string]any{"<s>": map[string]any{"ids": []int{1}}, "</s>": map[string]any{"ids": []int{2}}}},
		"decoder": map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "Replace", "pattern": map[string]string{"String": "▁"}, "content": " "},
			map[string]any{"type": "ByteFallback"}, map[string]any{"type": "Fuse"},
			map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0}}},
		"model": tinyModel(),
	})
	tok, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tok.Encode("ab ab</s>ab c")
	if err != nil {
		t.Fatal(err)
	}
	// "▁ab▁ab" then </s>, then "▁ab▁c" with c unknown.
	if want := []int{7, 7, 2, 7, 3, 0}; !slices.Equal(got, want) {
		t.Errorf("Encode: got %v, want %v", got, want)
	}
	if got, _ := EncodeForModel(tok, "ab"); !slices.Equal(got, []int{1, 7, 2}) {
		t.Errorf("EncodeForModel: got %v, want [1 7 2] from the template", got)
	}
	if got := tok.Decode([]int{7, 7, 4}); got != "ab aba" {
		t.Errorf("Decode = %q", got)
	}
	if tok.BOS() != 1 || tok.EOS() != 2 || tok.UNK() != 0 {
		t.Errorf("specials bos %d eos %d unk %d", tok.BOS(), tok.EOS(), tok.UNK())
	}
}

func TestByteFallbackDecode(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{[]string{"a", "<0xC3>", "<0xA9>", "b"}, []string{"a", "é", "b"}},
		// Not UTF-8: one U+FFFD per byte. <0xZZ> is no byte token (the
		// library's decoder panics on it).
		{[]string{"a", "<0xC3>", "<0xA9>", "<0xFF>", "b", "<0xZZ>"}, []string{"a", "\uFFFD", "\uFFFD", "\uFFFD", "b", "<0xZZ>"}},
	} {
		if got := byteFallbackDecode(c.in); !slices.Equal(got, c.want) {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}

func TestLlama3Template(t *testing.T) {
	tok, err := LoadTokenizer(filepath.Join("testdata", "tokenizer", "llama3-bpe"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := EncodeForModel(tok, "Hello")
	if !slices.Equal(got, []int{128000, 9906}) {
		t.Errorf("EncodeForModel = %v, want <|begin_of_text|> Hello", got)
	}
	if tok.BOS() != 128000 || tok.EOS() != 128001 || tok.VocabSize() != 128256 {
		t.Errorf("bos %d eos %d vocab %d", tok.BOS(), tok.EOS(), tok.VocabSize())
	}
	ids, _ := tok.Encode("Hello<|eot_id|> world")
	if !slices.Equal(ids, []int{9906, 128009, 1917}) {
		t.Errorf("special token in text: %v", ids)
	}
	if s := tok.Decode(ids); s != "Hello<|eot_id|> world" {
		t.Errorf("Decode = %q", s)
	}
}
