package data

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/sugarme/tokenizer/normalizer"
)

func bertTestTokenizer(t testing.TB) Tokenizer {
	t.Helper()
	tok, err := LoadTokenizer(filepath.Join("testdata", "tokenizer", "bert-base-uncased"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestBertNormalizerStripsAccents(t *testing.T) {
	n := bertNormalizer{cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true}
	for in, want := range map[string]string{
		"Café Élan naïve":   "cafe elan naive", // precomposed letters
		"Cafe\u0301":        "cafe",            // already decomposed
		"Cửa Việt":          "cua viet",        // stacked marks
		"Ångström ÆØ":       "angstrom æø",     // Æ and Ø have no decomposition
		"a\u200db\x00c\tde": "abc de",          // ZWJ (Cf) and NUL dropped, tab → space
		"中文x":               " 中  文 x",         // CJK padded with spaces
		"\u00a0x\u3000y":    " x y",            // Unicode whitespace → ' '
		"İstanbul":          "istanbul",        // İ = I + U+0307, the mark is stripped
		"\U0002B820":        "\U0002B820",      // outside Hugging Face's CJK ranges
		"\U0002B920":        " \U0002B920 ",    // inside them
		"\ue000\U000F0000z": "z",               // private use (Co) dropped
		"ﬁ ß":               "ﬁ ß",             // no compatibility folding (that is NFKC)
		"ΣΑΣ":               "σασ",             // per-character lowercase, no final sigma
		"\ufffd?":           "?",               // replacement character dropped
		"x\u0308\u0301":     "x",               // any nonspacing mark
		"\u0915\u093f":      "\u0915\u093f",    // a spacing mark (Mc) is kept
	} {
		if got := n.normalize(in); got != want {
			t.Errorf("normalize(%q) = %q, want %q", in, got, want)
		}
	}
	// Lowercasing without stripping accents: İ becomes i + U+0307, Rust's
	// full lowercase mapping (Go's unicode.ToLower gives plain i).
	keep := bertNormalizer{cleanText: true, stripAccents: false, lowercase: true}
	if got := keep.normalize("Café İ"); got != "café i\u0307" {
		t.Errorf("lowercase without stripping: %q", got)
	}
}

// TestLibraryBertAccentDefect records the defect worked around: the
// library's BertNormalizer leaves precomposed accents in place.
func TestLibraryBertAccentDefect(t *testing.T) {
	out, err := normalizer.NewBertNormalizer(true, true, true, true).Normalize(normalizer.NewNormalizedFrom("Café"))
	if err != nil {
		t.Fatal(err)
	}
	if out.GetNormalized() == "cafe" {
		t.Fatal("library BertNormalizer now strips precomposed accents: the workaround may go")
	}
}

func TestBertAccentsThroughVocabulary(t *testing.T) {
	tok := bertTestTokenizer(t)
	plain, err := tok.Encode("cafe resume naive")
	if err != nil {
		t.Fatal(err)
	}
	accented, err := tok.Encode("Café Résumé NAÏVE")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plain, accented) {
		t.Errorf("accented %v, plain %v", accented, plain)
	}
}

func TestBertSpecialsAndTemplate(t *testing.T) {
	tok := bertTestTokenizer(t)
	if tok.CLS() != 101 || tok.SEP() != 102 || tok.PAD() != 0 || tok.UNK() != 100 || tok.BOS() != -1 || tok.EOS() != -1 {
		t.Errorf("specials cls %d sep %d pad %d unk %d bos %d eos %d", tok.CLS(), tok.SEP(), tok.PAD(), tok.UNK(), tok.BOS(), tok.EOS())
	}
	if tok.VocabSize() != 30522 || tok.Name() != "bert-wordpiece (vocab.txt)" {
		t.Errorf("vocab %d, name %q", tok.VocabSize(), tok.Name())
	}
	got, err := EncodeForModel(tok, "Hello world")
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{101, 7592, 2088, 102}; !slices.Equal(got, want) {
		t.Errorf("EncodeForModel: got %v, want %v", got, want)
	}
	// Special tokens written in the text are matched before lowercasing.
	got, _ = tok.Encode("[CLS] hi [SEP][MASK]")
	if want := []int{101, 7632, 102, 103}; !slices.Equal(got, want) {
		t.Errorf("literal specials: got %v, want %v", got, want)
	}
}

func TestBertDecode(t *testing.T) {
	tok := bertTestTokenizer(t)
	ids, _ := tok.Encode("Hello, world! I'm unaffable.")
	if got, want := tok.Decode(ids), "hello, world! i'm unaffable."; got != want {
		t.Errorf("Decode = %q, want %q", got, want)
	}
}

func TestBertLongWordIsUnknown(t *testing.T) {
	tok := bertTestTokenizer(t)
	long := make([]byte, 101)
	for i := range long {
		long[i] = 'a'
	}
	got, _ := tok.Encode(string(long))
	if !slices.Equal(got, []int{100}) {
		t.Errorf("a 101-character word: got %v, want [UNK]", got)
	}
}
