package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sparsetune/sparsetune/internal/corpus"

	"github.com/sparsetune/sparsetune/internal/testmodel"
)

// bpeSample is a small English text with repeated words, some numbers,
// punctuation, runs of spaces and non-ASCII, to train on.
func bpeSample() []string {
	base := []string{
		"The weather in the north was cold, and the rain did not stop until the evening.",
		"She said that the team had played well, but the other team scored three goals.",
		"Add the flour and the sugar, then stir the mixture for 10 minutes.",
		"We took the train to the coast and stayed there for the whole week!",
		"  The café served crème brûlée; the children loved it.\n\nThe end.",
		"Is it true? They don't know, and we can't say: it's the 2nd time.",
	}
	var texts []string
	for i := range 40 {
		for j, s := range base {
			texts = append(texts, fmt.Sprintf("%s %d", s, (i*7+j)%13))
		}
	}
	return texts
}

// naiveBPE is the reference: spell word (byte-level) in characters, then
// apply each merge in order, left to right over the word. A merge whose
// concatenation is not a substring of word can never apply, so skipping it
// keeps the meaning and makes the 50,000 merges of GPT-2 affordable.
func naiveBPE(merges [][2]string, word string) []string {
	syms := strings.Split(word, "")
	for _, m := range merges {
		if !strings.Contains(word, m[0]+m[1]) {
			continue
		}
		for i := 0; i+1 < len(syms); i++ {
			if syms[i] == m[0] && syms[i+1] == m[1] {
				syms[i] = m[0] + m[1]
				syms = slices.Delete(syms, i+1, i+2)
			}
		}
	}
	return syms
}

// naiveEncode encodes text with naiveBPE after the GPT-2 pre-tokeniser,
// treating literal <|endoftext|> as the special token.
func naiveEncode(t *testing.T, vocab map[string]int, merges [][2]string, text string) []int {
	t.Helper()
	ids := []int{}
	for i, piece := range strings.Split(text, gpt2EndOfText) {
		if i > 0 {
			ids = append(ids, vocab[gpt2EndOfText])
		}
		// Only merges inside the piece can apply to its words.
		var inPiece [][2]string
		spelled := toByteLevel(piece)
		for _, m := range merges {
			if strings.Contains(spelled, m[0]+m[1]) {
				inPiece = append(inPiece, m)
			}
		}
		for j := 0; j < len(piece); {
			n := gpt2Match(piece, j)
			for _, tok := range naiveBPE(inPiece, toByteLevel(piece[j:j+n])) {
				id, ok := vocab[tok]
				if !ok {
					t.Fatalf("naive BPE made %q, which is not in the vocabulary", tok)
				}
				ids = append(ids, id)
			}
			j += n
		}
	}
	return ids
}

// trainAndLoad trains on texts, writes the files and loads them back.
func trainAndLoad(t *testing.T, texts []string, vocabSize int) (*BPEVocab, Tokenizer, string) {
	t.Helper()
	v, err := TrainBPE(texts, vocabSize)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := v.WriteGPT2Files(dir); err != nil {
		t.Fatal(err)
	}
	tok, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	return v, tok, dir
}

// bpeProbes are strings the training text never saw.
var bpeProbes = []string{
	"", "the", " the", "The theatre thereafter",
	"Hello, world!  Multiple   spaces\tand\ttabs\n\nand lines\r\n",
	"naïve façade — “quotes” and ‘single’ …",
	"日本語のテキスト, 中文, 한국어, Ελληνικά, русский",
	"emoji 🙂👍🏽 family 👨‍👩‍👧 flag 🇫🇷",
	"numbers 3.14159 and 1,000,000 and ١٢٣",
	"it's we're they've I'm you'll he'd don't 'S 'LL",
	"<|endoftext|>", "before<|endoftext|>after <|endoftext|><|endoftext|>",
	"\x00\x01\x7f control", "trailing space ", "   ",
}

func TestTrainBPERoundTrip(t *testing.T) {
	const vocabSize = 400
	v, tok, _ := trainAndLoad(t, bpeSample(), vocabSize)
	if got := tok.VocabSize(); got != vocabSize {
		t.Fatalf("VocabSize = %d, want %d", got, vocabSize)
	}
	if len(v.Vocab) != vocabSize || len(v.Merges) != vocabSize-257 {
		t.Fatalf("%d tokens and %d merges, want %d and %d", len(v.Vocab), len(v.Merges), vocabSize, vocabSize-257)
	}
	if tok.EOS() != vocabSize-1 || v.Vocab[gpt2EndOfText] != vocabSize-1 {
		t.Fatalf("EOS = %d, vocab[%s] = %d, want %d", tok.EOS(), gpt2EndOfText, v.Vocab[gpt2EndOfText], vocabSize-1)
	}
	if v.Vocab["!"] != 0 || v.Vocab["Ġ"] != 220 || v.Vocab["a"] != 64 {
		t.Errorf("byte ids differ from GPT-2's: ! %d, Ġ %d, a %d; want 0, 220, 64", v.Vocab["!"], v.Vocab["Ġ"], v.Vocab["a"])
	}
	for _, s := range append(bpeProbes, bpeSample()[:12]...) {
		ids, err := tok.Encode(s)
		if err != nil {
			t.Fatalf("Encode(%q): %v", s, err)
		}
		if got := tok.Decode(ids); got != s {
			t.Errorf("Decode(Encode(%q)) = %q", s, got)
		}
	}
	// Frequent words are single tokens.
	for _, w := range []string{" the", "The", " and", " team", " rain"} {
		ids, err := tok.Encode(w)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 {
			t.Errorf("Encode(%q) = %v, want one token", w, ids)
		}
	}
}

// TestTrainBPEMatchesNaive is the semantic check: the loaded tokenizer
// (lowest rank first, leftmost) encodes every training pre-token, and text
// it never saw, exactly as applying the learned merges in order does.
func TestTrainBPEMatchesNaive(t *testing.T) {
	texts := bpeSample()
	v, tok, _ := trainAndLoad(t, texts, 430)
	words := 0
	for w := range countPreTokens(texts) {
		words++
		checkEncode(t, tok, v.Vocab, v.Merges, w)
	}
	for _, s := range bpeProbes {
		checkEncode(t, tok, v.Vocab, v.Merges, s)
	}
	t.Logf("%d training pre-tokens and %d probes agree", words, len(bpeProbes))
}

// TestTrainBPEOnCorpus trains on the generated pretraining corpus, as the
// base-model recipe does, and checks every pre-token against the reference.
func TestTrainBPEOnCorpus(t *testing.T) {
	text := corpus.Pretraining(1, 200_000)
	v, tok, _ := trainAndLoad(t, []string{text}, 1024)
	for w := range countPreTokens([]string{text}) {
		checkEncode(t, tok, v.Vocab, v.Merges, w)
	}
	ids, err := tok.Encode(text)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Decode(ids) != text {
		t.Error("Decode(Encode(corpus)) differs from the corpus")
	}
	words := len(strings.Fields(text))
	t.Logf("%d bytes, %d words: %d tokens, %.2f tokens/word", len(text), words, len(ids), float64(len(ids))/float64(words))
}

func checkEncode(t *testing.T, tok Tokenizer, vocab map[string]int, merges [][2]string, s string) {
	t.Helper()
	got, err := tok.Encode(s)
	if err != nil {
		t.Fatalf("Encode(%q): %v", s, err)
	}
	if got == nil {
		got = []int{}
	}
	if want := naiveEncode(t, vocab, merges, s); !slices.Equal(got, want) {
		t.Errorf("Encode(%q) = %v, naive BPE gives %v", s, got, want)
	}
}

// TestNaiveBPEMatchesGPT2 checks the reference itself on the real GPT-2
// merges: applying them in order gives what the loader gives. It also checks
// that TrainBPE numbers the byte tokens as GPT-2 does.
func TestNaiveBPEMatchesGPT2(t *testing.T) {
	dir := testmodel.SharedDir(t, filepath.Join("tokenizers", "gpt2"))
	v := readGPT2Files(t, dir)
	tok, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	probes := append(slices.Clone(bpeProbes), bpeSample()[:6]...)
	probes = append(probes, "!!!!!! ======== aaaaaaaa ................ hmmmmmm")
	for _, s := range probes {
		checkEncode(t, tok, v.Vocab, v.Merges, s)
	}
	small, err := TrainBPE([]string{"x"}, 257)
	if err != nil {
		t.Fatal(err)
	}
	for s, id := range small.Vocab {
		if s != gpt2EndOfText && v.Vocab[s] != id {
			t.Errorf("byte token %q has id %d, GPT-2 gives %d", s, id, v.Vocab[s])
		}
	}
}

// readGPT2Files parses vocab.json and merges.txt into a BPEVocab.
func readGPT2Files(t *testing.T, dir string) *BPEVocab {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, tokenizerVocabJSON))
	if err != nil {
		t.Fatal(err)
	}
	v := &BPEVocab{}
	if err := json.Unmarshal(raw, &v.Vocab); err != nil {
		t.Fatal(err)
	}
	raw, err = os.ReadFile(filepath.Join(dir, tokenizerMerges))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	for _, line := range lines[1:] {
		a, b, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("merges.txt line %q has no space", line)
		}
		v.Merges = append(v.Merges, [2]string{a, b})
	}
	return v
}

// TestWriteGPT2FilesReproducesGPT2 writes GPT-2's own vocabulary and merges
// and expects the very bytes of its vocab.json and merges.txt.
func TestWriteGPT2FilesReproducesGPT2(t *testing.T) {
	src := testmodel.SharedDir(t, filepath.Join("tokenizers", "gpt2"))
	v := readGPT2Files(t, src)
	dst := t.TempDir()
	if err := v.WriteGPT2Files(dst); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{tokenizerVocabJSON, tokenizerMerges} {
		want, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			t.Errorf("%s differs from GPT-2's at byte %d: got %q, want %q", name, i,
				got[i:min(i+40, len(got))], want[i:min(i+40, len(want))])
		}
	}
}

func TestTrainBPEDeterministic(t *testing.T) {
	texts := bpeSample()
	_, _, dir1 := trainAndLoad(t, texts, 430)
	reversed := slices.Clone(texts)
	slices.Reverse(reversed) // order of texts does not change the counts
	_, _, dir2 := trainAndLoad(t, reversed, 430)
	for _, name := range []string{tokenizerVocabJSON, tokenizerMerges} {
		a, err := os.ReadFile(filepath.Join(dir1, name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir2, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two trainings on the same text", name)
		}
	}
}

func TestTrainBPETieBreak(t *testing.T) {
	// Pre-tokens "xy", " xy" ×2, " ab": (x,y) is the most frequent pair.
	v, err := TrainBPE([]string{"xy xy xy ab"}, 258)
	if err != nil {
		t.Fatal(err)
	}
	if want := [][2]string{{"x", "y"}}; !slices.Equal(v.Merges, want) {
		t.Errorf("merges %q, want %q", v.Merges, want)
	}
	// All pairs once: (a,b) < (c,d) < (Ġ,cd), as "Ġ" (U+0120) sorts last.
	v, err = TrainBPE([]string{"ab cd"}, 260)
	if err != nil {
		t.Fatal(err)
	}
	if want := [][2]string{{"a", "b"}, {"c", "d"}, {"Ġ", "cd"}}; !slices.Equal(v.Merges, want) {
		t.Errorf("merges %q, want %q", v.Merges, want)
	}
	for tok, want := range map[string]int{"ab": 256, "cd": 257, "Ġcd": 258, gpt2EndOfText: 259} {
		if v.Vocab[tok] != want {
			t.Errorf("id of %q = %d, want %d", tok, v.Vocab[tok], want)
		}
	}
}

func TestTrainBPEErrors(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 256} {
		if _, err := TrainBPE([]string{"hello"}, n); err == nil || !strings.Contains(err.Error(), "257") {
			t.Errorf("TrainBPE(vocabSize=%d) error = %v, want one naming 257", n, err)
		}
	}
	if _, err := TrainBPE(nil, 300); err == nil {
		t.Error("TrainBPE(nil texts) gave no error")
	}
	if _, err := TrainBPE([]string{"", gpt2EndOfText}, 300); err == nil {
		t.Error("TrainBPE of empty text gave no error")
	}
	_, err := TrainBPE([]string{"abab"}, 300)
	if err == nil || !strings.Contains(err.Error(), "smaller vocabSize") {
		t.Errorf("TrainBPE beyond the possible merges: error = %v, want one asking for a smaller vocabSize", err)
	}
	bad := []*BPEVocab{
		nil,
		{Vocab: map[string]int{"a": 0, "b": 2}},
		{Vocab: map[string]int{"a": 0, "b": 1}, Merges: [][2]string{{"a", "b"}}},
		{Vocab: map[string]int{"a": 0, "a b": 1, "aa b": 2}, Merges: [][2]string{{"a", "a b"}}},
	}
	for i, v := range bad {
		if err := v.WriteGPT2Files(t.TempDir()); err == nil {
			t.Errorf("bad vocabulary %d written without error", i)
		}
	}
}

// FuzzTrainBPE trains on arbitrary text and checks that the loaded tokenizer
// round-trips it and agrees with the naive reference.
func FuzzTrainBPE(f *testing.F) {
	for _, s := range append(slices.Clone(bpeProbes), bpeSample()[:6]...) {
		f.Add(s + " " + s + s)
	}
	f.Add("aaaaaaaaaaaa bbbbbb aaaa ab ab ab")
	f.Fuzz(func(t *testing.T, text string) {
		if !utf8.ValidString(text) || len(text) > 2000 {
			t.Skip()
		}
		// As many merges as the text allows, at most 40.
		tr := newBPETrainer(countPreTokens([]string{text}))
		for len(tr.merges) < 40 && tr.mergeBest() {
		}
		if len(tr.words) == 0 {
			t.Skip()
		}
		v, tok, _ := trainAndLoad(t, []string{text}, 257+len(tr.merges))
		checkEncode(t, tok, v.Vocab, v.Merges, text)
		ids, err := tok.Encode(text)
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.Decode(ids); got != text {
			t.Errorf("Decode(Encode(%q)) = %q", text, got)
		}
		// The trainer's own segmentation is the naive one.
		for _, syms := range tr.words {
			var got []string
			for _, id := range syms {
				got = append(got, tr.tokens[id])
			}
			word := strings.Join(got, "")
			if want := naiveBPE(v.Merges, word); !slices.Equal(got, want) {
				t.Errorf("trainer segments %q as %q, naive BPE as %q", word, got, want)
			}
		}
	})
}

// BenchmarkTrainBPE trains on the generated pretraining corpus.
func BenchmarkTrainBPE(b *testing.B) {
	for _, chars := range []int{200_000, 2_000_000} {
		text := corpus.Pretraining(1, chars)
		b.Run(fmt.Sprintf("chars=%d/vocab=1024", chars), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			var v *BPEVocab
			for b.Loop() {
				var err error
				if v, err = TrainBPE([]string{text}, 1024); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			dir := b.TempDir()
			if err := v.WriteGPT2Files(dir); err != nil {
				b.Fatal(err)
			}
			tok, err := LoadTokenizer(dir)
			if err != nil {
				b.Fatal(err)
			}
			ids, err := tok.Encode(text)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(len(ids))/float64(len(strings.Fields(text))), "tokens/word")
		})
	}
}

func ExampleTrainBPE() {
	v, err := TrainBPE([]string{"low lower lowest low low"}, 260)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(v.Merges, len(v.Vocab), v.Vocab["<|endoftext|>"])
	dir, err := os.MkdirTemp("", "bpe")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := v.WriteGPT2Files(dir); err != nil {
		fmt.Println(err)
		return
	}
	tok, err := LoadTokenizer(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	ids, _ := tok.Encode("low lowest")
	fmt.Println(ids, tok.Decode(ids))
	// Output:
	// [[l o] [lo w] [Ġ low]] 260 259
	// [257 258 68 82 83] low lowest
}
