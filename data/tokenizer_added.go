package data

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// addedTokens are Hugging Face's added vocabulary: tokens such as <s>,
// [CLS] or <|im_start|> that are found in the text and given their id
// before the model sees it. As in Hugging Face (tokenizer/added_vocabulary.rs),
// tokens with normalized: false are matched in the raw text, tokens with
// normalized: true in each piece of text between them after normalisation,
// spelled as the normaliser writes them. Matching is leftmost, longest
// first. The flags of tokenizer.json are honoured: single_word rejects a
// match that touches a word character, lstrip and rstrip make the token take
// the whitespace on its left or right.
type addedTokens struct {
	raw, normalized addedMatcher
}

// addedToken is one entry of the added vocabulary.
type addedToken struct {
	content string
	id      int

	singleWord, lstrip, rstrip bool
}

// addedMatcher finds one set of added tokens.
type addedMatcher struct {
	byFirst map[byte][]addedToken // candidates by first byte, longest first
}

// segment is a piece of text to tokenise (id -1) or an added token (id ≥ 0).
type segment struct {
	text string
	id   int
}

// newAddedTokens matches toks (content → id) in the raw text, with no flags:
// the special tokens of GPT-2 and BERT, which have no tokenizer.json.
func newAddedTokens(toks map[string]int) addedTokens {
	list := make([]addedToken, 0, len(toks))
	for c, id := range toks {
		list = append(list, addedToken{content: c, id: id})
	}
	return addedTokens{raw: newAddedMatcher(list)}
}

// newAddedTokensJSON builds the added vocabulary of tokenizer.json; normalize
// (nil for none) spells the tokens with normalized: true as they appear in
// normalised text.
func newAddedTokensJSON(toks []hfAddedToken, normalize func(string) string) addedTokens {
	var raw, norm []addedToken
	for _, t := range toks {
		a := addedToken{content: t.Content, id: t.ID, singleWord: t.SingleWord, lstrip: t.LStrip, rstrip: t.RStrip}
		if !t.Normalized {
			raw = append(raw, a)
			continue
		}
		if normalize != nil {
			a.content = normalize(a.content)
		}
		norm = append(norm, a)
	}
	return addedTokens{raw: newAddedMatcher(raw), normalized: newAddedMatcher(norm)}
}

func newAddedMatcher(toks []addedToken) addedMatcher {
	m := addedMatcher{byFirst: map[byte][]addedToken{}}
	for _, t := range toks {
		if t.content != "" {
			m.byFirst[t.content[0]] = append(m.byFirst[t.content[0]], t)
		}
	}
	for _, list := range m.byFirst {
		// Longest first, then by content, so matching is deterministic.
		slices.SortFunc(list, func(x, y addedToken) int {
			if len(x.content) != len(y.content) {
				return len(y.content) - len(x.content)
			}
			return strings.Compare(x.content, y.content)
		})
	}
	return m
}

// split cuts raw text into plain segments and the added tokens with
// normalized: false.
func (a addedTokens) split(text string) []segment { return a.raw.split(text) }

// splitNormalized cuts a normalised piece of text at the added tokens with
// normalized: true.
func (a addedTokens) splitNormalized(text string) []segment { return a.normalized.split(text) }

// split cuts text into plain segments and added tokens, as Hugging Face's
// AddedVocabulary::find_matches does: matches are leftmost-longest and do
// not overlap; a single_word match next to a word character is dropped (and
// the text it covered is not searched again); lstrip and rstrip move the
// token's edges over the whitespace beside it, which is thereby removed, but
// never into an earlier token.
func (m addedMatcher) split(text string) []segment {
	if len(m.byFirst) == 0 {
		return []segment{{text, -1}}
	}
	var segs []segment
	done := 0 // end of the last token taken
	for i := 0; i < len(text); {
		t, ok := m.match(text, i)
		if !ok {
			i++
			continue
		}
		start, end := i, i+len(t.content)
		i = end
		if t.singleWord && (endsWithWordChar(text[:start]) || startsWithWordChar(text[end:])) {
			continue
		}
		if t.lstrip {
			start = max(len(strings.TrimRightFunc(text[:start], unicode.IsSpace)), done)
		}
		if t.rstrip {
			end = len(text) - len(strings.TrimLeftFunc(text[end:], unicode.IsSpace))
			i = end
		}
		if done < start {
			segs = append(segs, segment{text[done:start], -1})
		}
		segs = append(segs, segment{t.content, t.id})
		done = end
	}
	if done < len(text) || len(segs) == 0 {
		segs = append(segs, segment{text[done:], -1})
	}
	return segs
}

// match returns the longest token that starts at text[i:].
func (m addedMatcher) match(text string, i int) (addedToken, bool) {
	for _, t := range m.byFirst[text[i]] {
		if strings.HasPrefix(text[i:], t.content) {
			return t, true
		}
	}
	return addedToken{}, false
}

// isWordChar is \w of Rust's regex crate, which Hugging Face uses for
// single_word: Unicode Alphabetic, marks, decimal digits, connector
// punctuation and the joiners U+200C and U+200D.
func isWordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_Alphabetic, r) ||
		unicode.IsMark(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Pc, r) || r == '\u200c' || r == '\u200d'
}

func endsWithWordChar(s string) bool {
	r, n := utf8.DecodeLastRuneInString(s)
	return n > 0 && isWordChar(r)
}

func startsWithWordChar(s string) bool {
	r, n := utf8.DecodeRuneInString(s)
	return n > 0 && isWordChar(r)
}
