package data

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sugarme/tokenizer/pretokenizer"
)

// Pre-tokenisers cut normalised text into words that the model encodes one at
// a time. Each has the signature func(pieces []string, atStart bool) []string
// so that they chain as tokenizer.json's Sequence does; atStart is true for
// the text before the first added token (Metaspace's prepend_scheme "first").

// The regexes of GPT-2, LLaMA-3 (tiktoken cl100k style) and Qwen2 use the
// look-ahead \s+(?!\S), which Go's regexp (RE2) cannot compile: the library's
// ByteLevel pre-tokeniser drops that alternative, and its Split panics on it.
// We scan these patterns by hand. \s, \p{L} and \p{N} are Unicode classes, as
// in the Oniguruma regexes Hugging Face runs. Qwen2's pattern (Qwen2, Qwen2.5,
// Qwen3) is LLaMA-3's with each digit a word of its own (\p{N} for \p{N}{1,3}).
const (
	gpt2Pattern   = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	qwen2Pattern  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// knownPatterns maps the look-ahead regexes we scan by hand to their scanner.
// A scanner returns the byte length of the match at s[i:] (always ≥ 1).
var knownPatterns = map[string]func(s string, i int) int{
	gpt2Pattern:   gpt2Match,
	llama3Pattern: llama3Match,
	qwen2Pattern:  qwen2Match,
}

func isSpace(r rune) bool  { return unicode.IsSpace(r) } // Unicode White_Space, like \s
func isLetter(r rune) bool { return unicode.IsLetter(r) }
func isNumber(r rune) bool { return unicode.IsNumber(r) }
func isOther(r rune) bool  { return !isSpace(r) && !isLetter(r) && !isNumber(r) }
func isCRLF(r rune) bool   { return r == '\r' || r == '\n' }

// runEnd returns the end of the run of runes from i that satisfy in.
func runEnd(s string, i int, in func(rune) bool) int {
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !in(r) {
			break
		}
		i += size
	}
	return i
}

// contraction returns the byte length of 's 't 're 've 'm 'll 'd at s[i:],
// where s[i] is an apostrophe, or 0. With foldCase the letters match case-insensitively
// by Unicode simple folding, as (?i:...) does (so "'ſ" counts as "'s").
func contraction(s string, i int, foldCase bool) int {
	for _, c := range [...]string{"s", "t", "re", "ve", "m", "ll", "d"} {
		j := i + 1
		for _, want := range c {
			if j >= len(s) {
				j = -1
				break
			}
			r, size := utf8.DecodeRuneInString(s[j:])
			if r != want && !(foldCase && strings.EqualFold(string(r), string(want))) {
				j = -1
				break
			}
			j += size
		}
		if j > 0 {
			return j - i
		}
	}
	return 0
}

// whitespaceMatch is \s+(?!\S)|\s+ at s[i:], s[i] being whitespace: the whole
// run, except that a run of two or more followed by a non-space leaves its
// last character to start the next word (" Hello").
func whitespaceMatch(s string, i int) int {
	end := runEnd(s, i, isSpace)
	if end < len(s) {
		_, last := utf8.DecodeLastRuneInString(s[i:end])
		if end-last > i {
			return end - last - i
		}
	}
	return end - i
}

// gpt2Match scans gpt2Pattern at s[i:].
func gpt2Match(s string, i int) int {
	if s[i] == '\'' {
		if n := contraction(s, i, false); n > 0 {
			return n
		}
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	j := i
	if r == ' ' && i+1 < len(s) {
		// " ?X+": the optional space belongs to a following non-space run.
		if r2, _ := utf8.DecodeRuneInString(s[i+1:]); !isSpace(r2) {
			r, j = r2, i+1
		}
	}
	switch {
	case isLetter(r):
		return runEnd(s, j, isLetter) - i
	case isNumber(r):
		return runEnd(s, j, isNumber) - i
	case !isSpace(r):
		return runEnd(s, j, isOther) - i
	}
	return whitespaceMatch(s, i)
}

// llama3Match scans llama3Pattern at s[i:].
func llama3Match(s string, i int) int { return cl100kMatch(s, i, 3) }

// qwen2Match scans qwen2Pattern at s[i:].
func qwen2Match(s string, i int) int { return cl100kMatch(s, i, 1) }

// cl100kMatch scans the LLaMA-3 pattern at s[i:] with \p{N}{1,maxDigits}.
func cl100kMatch(s string, i int, maxDigits int) int {
	if s[i] == '\'' {
		if n := contraction(s, i, true); n > 0 {
			return n
		}
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if isLetter(r) {
		return runEnd(s, i, isLetter) - i
	}
	if !isCRLF(r) && !isNumber(r) && i+size < len(s) {
		if r2, _ := utf8.DecodeRuneInString(s[i+size:]); isLetter(r2) {
			return runEnd(s, i+size, isLetter) - i
		}
	}
	// \p{N}{1,maxDigits}
	if isNumber(r) {
		j := i
		for k := 0; k < maxDigits && j < len(s); k++ {
			r, size := utf8.DecodeRuneInString(s[j:])
			if !isNumber(r) {
				break
			}
			j += size
		}
		return j - i
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
	j, rr := i, r
	if r == ' ' && i+1 < len(s) {
		if r2, _ := utf8.DecodeRuneInString(s[i+1:]); isOther(r2) {
			j, rr = i+1, r2
		}
	}
	if isOther(rr) {
		return runEnd(s, runEnd(s, j, isOther), isCRLF) - i
	}
	// \s*[\r\n]+ : up to the last line break of the whitespace run.
	end := runEnd(s, i, isSpace)
	if k := strings.LastIndexAny(s[i:end], "\r\n"); k >= 0 {
		return k + 1
	}
	return whitespaceMatch(s, i)
}

// scanSplit cuts every piece into the matches of a hand-written scanner; the
// patterns cover every character, so matches are all there is (Hugging
// Face's Split with behavior "Isolated").
func scanSplit(match func(string, int) int) func([]string, bool) []string {
	return func(pieces []string, _ bool) []string {
		var out []string
		for _, p := range pieces {
			for i := 0; i < len(p); {
				n := match(p, i)
				out = append(out, p[i:i+n])
				i += n
			}
		}
		return out
	}
}

// byteLevelAlphabet maps each byte to the printable character GPT-2's
// byte-level BPE uses for it (bytes_to_unicode in GPT-2's encoder.py). The
// table is the library's, which is correct.
var byteLevelAlphabet = func() (t [256]string) {
	for b, c := range pretokenizer.BytesChar {
		t[b] = c
	}
	return t
}()

// byteLevelDecoding is the inverse of byteLevelAlphabet.
var byteLevelDecoding = func() map[rune]byte {
	m := make(map[rune]byte, 256)
	for b, c := range byteLevelAlphabet {
		r, _ := utf8.DecodeRuneInString(c)
		m[r] = byte(b)
	}
	return m
}()

// toByteLevel spells the bytes of s in the byte-level alphabet.
func toByteLevel(s string) string {
	var sb strings.Builder
	sb.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		sb.WriteString(byteLevelAlphabet[s[i]])
	}
	return sb.String()
}

// byteLevelPreTokenizer is Hugging Face's ByteLevel pre-tokeniser: optionally
// a leading space, optionally the GPT-2 split, then the byte-level alphabet.
func byteLevelPreTokenizer(addPrefixSpace, useRegex bool) func([]string, bool) []string {
	split := scanSplit(gpt2Match)
	return func(pieces []string, atStart bool) []string {
		if addPrefixSpace {
			for i, p := range pieces {
				if !strings.HasPrefix(p, " ") {
					pieces[i] = " " + p
				}
			}
		}
		if useRegex {
			pieces = split(pieces, atStart)
		}
		for i, p := range pieces {
			pieces[i] = toByteLevel(p)
		}
		return pieces
	}
}

// metaspacePreTokenizer is Hugging Face's Metaspace: spaces become
// replacement (▁), which is also prepended according to scheme ("always",
// "first": only at the start of the text, "never"); with split, each word
// keeps its leading ▁.
func metaspacePreTokenizer(replacement, scheme string, split bool) func([]string, bool) []string {
	return func(pieces []string, atStart bool) []string {
		var out []string
		for i, p := range pieces {
			p = strings.ReplaceAll(p, " ", replacement)
			if (scheme == "always" || scheme == "first" && atStart && i == 0) && !strings.HasPrefix(p, replacement) {
				p = replacement + p
			}
			if !split {
				out = append(out, p)
				continue
			}
			for len(p) > 0 {
				k := strings.Index(p[1:], replacement)
				if k < 0 {
					out = append(out, p)
					break
				}
				out = append(out, p[:k+1])
				p = p[k+1:]
			}
		}
		return out
	}
}

// bertPreTokenize is Hugging Face's BertPreTokenizer: split on whitespace
// (dropped) and make each punctuation character a word of its own.
func bertPreTokenize(pieces []string, _ bool) []string {
	var out []string
	for _, p := range pieces {
		start := -1
		for i, r := range p {
			switch {
			case isSpace(r):
				if start >= 0 {
					out = append(out, p[start:i])
					start = -1
				}
			case isBertPunctuation(r):
				if start >= 0 {
					out = append(out, p[start:i])
					start = -1
				}
				out = append(out, p[i:i+utf8.RuneLen(r)])
			default:
				if start < 0 {
					start = i
				}
			}
		}
		if start >= 0 {
			out = append(out, p[start:])
		}
	}
	return out
}

// whitespaceSplitPreTokenize is Hugging Face's WhitespaceSplit.
func whitespaceSplitPreTokenize(pieces []string, _ bool) []string {
	var out []string
	for _, p := range pieces {
		out = append(out, strings.FieldsFunc(p, isSpace)...)
	}
	return out
}

// digitsPreTokenizer is Hugging Face's Digits: digits are isolated, one per
// word when individual, else in runs.
func digitsPreTokenizer(individual bool) func([]string, bool) []string {
	return func(pieces []string, _ bool) []string {
		var out []string
		for _, p := range pieces {
			start := 0
			for i, r := range p {
				if !unicode.IsDigit(r) {
					continue
				}
				end := i + utf8.RuneLen(r)
				if !individual {
					end = runEnd(p, i, unicode.IsDigit)
				}
				if i < start { // inside a run already emitted
					continue
				}
				if start < i {
					out = append(out, p[start:i])
				}
				out = append(out, p[i:end])
				start = end
			}
			if start < len(p) {
				out = append(out, p[start:])
			}
		}
		return out
	}
}
