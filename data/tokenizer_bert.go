package data

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/sugarme/tokenizer/model"
	"github.com/sugarme/tokenizer/model/wordpiece"
	"github.com/sugarme/tokenizer/normalizer"
	"golang.org/x/text/unicode/norm"
)

// bertNormalizer is Hugging Face's BertNormalizer
// (tokenizers/src/normalizers/bert.rs). It replaces the library's
// (normalizer.BertNormalizer), which strips accents without decomposing
// first, so precomposed letters such as "é" (U+00E9) keep their accent;
// which treats only ASCII space, \t, \n, \r as whitespace; which keeps
// private-use and surrogate characters; and whose CJK table has
// 0x2B820..0x2B91F that Hugging Face's lacks.
type bertNormalizer struct {
	cleanText          bool // drop control characters, map whitespace to ' '
	handleChineseChars bool // put spaces around CJK ideographs
	stripAccents       bool // NFD, then drop nonspacing marks (Mn)
	lowercase          bool
}

// normalize applies the steps in Hugging Face's order: clean, CJK, accents,
// lowercase.
func (b bertNormalizer) normalize(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	for _, r := range s {
		if b.cleanText {
			if r == 0 || r == unicode.ReplacementChar || isBertControl(r) {
				continue
			}
			if isSpace(r) {
				r = ' '
			}
		}
		if b.handleChineseChars && isChineseChar(r) {
			sb.WriteByte(' ')
			sb.WriteRune(r)
			sb.WriteByte(' ')
			continue
		}
		sb.WriteRune(r)
	}
	s = sb.String()
	if b.stripAccents {
		s = stripNonspacingMarks(norm.NFD.String(s))
	}
	if b.lowercase {
		s = lowercaseFull(s)
	}
	return s
}

// isBertControl is Hugging Face's is_control: the "other" categories except
// \t, \n and \r (which clean_text turns into spaces instead).
func isBertControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)
}

// isChineseChar is Hugging Face's is_chinese_char (the CJK Unified
// Ideographs blocks, with its 0x2B920 lower bound for extension E).
func isChineseChar(r rune) bool {
	switch {
	case r >= 0x4E00 && r <= 0x9FFF, r >= 0x3400 && r <= 0x4DBF,
		r >= 0x20000 && r <= 0x2A6DF, r >= 0x2A700 && r <= 0x2B73F,
		r >= 0x2B740 && r <= 0x2B81F, r >= 0x2B920 && r <= 0x2CEAF,
		r >= 0xF900 && r <= 0xFAFF, r >= 0x2F800 && r <= 0x2FA1F:
		return true
	}
	return false
}

// isBertPunctuation is ASCII punctuation or Unicode P*; the library's
// predicate is right.
func isBertPunctuation(r rune) bool { return normalizer.IsBertPunctuation(r) }

// stripNonspacingMarks drops Mn characters (the accents NFD splits off).
func stripNonspacingMarks(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, s)
}

// lowercaseFull lowercases as Rust's char::to_lowercase does: like
// unicode.ToLower, except that 'İ' (U+0130) becomes "i̇" (i + U+0307), its
// full (SpecialCasing) mapping.
func lowercaseFull(s string) string {
	if !strings.ContainsRune(s, 'İ') {
		return strings.ToLower(s)
	}
	return strings.ToLower(strings.ReplaceAll(s, "İ", "i\u0307"))
}

// wordPieceModel runs the library's WordPiece (greedy longest match first),
// which matches Hugging Face's.
type wordPieceModel struct{ wp wordpiece.WordPiece }

func newWordPieceModel(vocab map[string]int, unk, prefix string, maxChars int) (*wordPieceModel, error) {
	if _, ok := vocab[unk]; !ok {
		return nil, fmt.Errorf("unk_token %q is not in the vocabulary", unk)
	}
	v := model.Vocab(vocab)
	wp := wordpiece.NewWordPieceBuilder().Vocab(&v).UnkToken(unk).
		ContinuingSubwordPrefix(prefix).MaxInputCharsPerWord(maxChars).Build()
	return &wordPieceModel{wp}, nil
}

// encodeWord implements wordModel.
func (m *wordPieceModel) encodeWord(dst []int, word string) ([]int, error) {
	toks, err := m.wp.Tokenize(word)
	if err != nil {
		return nil, fmt.Errorf("data: wordpiece: %w", err)
	}
	for _, t := range toks {
		dst = append(dst, t.Id)
	}
	return dst, nil
}

// wordPieceDecode is Hugging Face's WordPiece decoder: join with spaces,
// glue "##" continuations, and with cleanup undo the spaces BERT's
// pre-tokeniser put around punctuation and contractions.
func wordPieceDecode(prefix string, cleanup bool) func([]string) string {
	return func(toks []string) string {
		var sb strings.Builder
		for i, t := range toks {
			if i > 0 {
				if strings.HasPrefix(t, prefix) {
					t = t[len(prefix):]
				} else {
					sb.WriteByte(' ')
				}
			}
			sb.WriteString(t)
		}
		if !cleanup {
			return sb.String()
		}
		return wordPieceCleanup(sb.String())
	}
}

// wordPieceCleanup is Hugging Face's decoders::wordpiece::cleanup: these
// replacements, one after the other.
func wordPieceCleanup(s string) string {
	for _, r := range [...][2]string{
		{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
		{" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
	} {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}

// loadBERT loads a BERT WordPiece tokenizer from dir/vocab.txt (one token a
// line, the line number is the id) and tokenizer_config.json when present.
func loadBERT(dir string) (Tokenizer, error) {
	path := filepath.Join(dir, tokenizerVocabTXT)
	vocab, idToToken, err := readVocabTXT(path)
	if err != nil {
		return nil, err
	}
	cfg, err := readTokenizerConfig(dir)
	if err != nil {
		return nil, err
	}
	where := fmt.Sprintf("%q", path)
	lookup := func(t string) (int, bool) { id, ok := vocab[t]; return id, ok }
	special, err := resolveSpecials(cfg, bertSpecials, lookup, where)
	if err != nil {
		return nil, err
	}
	if special.unk < 0 {
		return nil, fmt.Errorf("data: tokenizer %s has no [UNK] token (set unk_token in tokenizer_config.json)", where)
	}
	// transformers' BertTokenizer defaults: lowercase, and strip accents
	// when lowercasing unless strip_accents says otherwise.
	lower := cfg.DoLowerCase == nil || *cfg.DoLowerCase
	strip := lower
	if cfg.StripAccents != nil {
		strip = *cfg.StripAccents
	}
	chinese := cfg.TokenizeChineseChars == nil || *cfg.TokenizeChineseChars
	bn := bertNormalizer{cleanText: true, handleChineseChars: chinese, stripAccents: strip, lowercase: lower}
	wp, err := newWordPieceModel(vocab, idToToken[special.unk], "##", 100)
	if err != nil {
		return nil, fmt.Errorf("data: tokenizer %s: %w", where, err)
	}
	added := map[string]int{}
	for _, id := range []int{special.pad, special.cls, special.sep, special.unk} {
		if id >= 0 {
			added[idToToken[id]] = id
		}
	}
	if id, ok := vocab["[MASK]"]; ok {
		added["[MASK]"] = id
	}
	return &pipeline{
		name:        "bert-wordpiece (vocab.txt)",
		idToToken:   idToToken,
		special:     special,
		added:       newAddedTokens(added),
		normalize:   bn.normalize,
		preTokenize: bertPreTokenize,
		model:       wp,
		decode:      wordPieceDecode("##", true),
	}, nil
}

// readVocabTXT reads a WordPiece vocabulary: token i on line i, trailing
// whitespace trimmed as Hugging Face does.
func readVocabTXT(path string) (map[string]int, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("data: tokenizer vocabulary: %w", err)
	}
	defer f.Close()
	vocab := map[string]int{}
	var idToToken []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		t := strings.TrimRightFunc(sc.Text(), unicode.IsSpace)
		vocab[t] = len(idToToken)
		idToToken = append(idToToken, t)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("data: tokenizer vocabulary %q: %w", path, err)
	}
	if len(idToToken) == 0 {
		return nil, nil, fmt.Errorf("data: tokenizer vocabulary %q is empty", path)
	}
	return vocab, idToToken, nil
}
