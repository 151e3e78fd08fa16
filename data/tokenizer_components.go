package data

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// This file turns tokenizer.json's normaliser, pre-tokeniser and decoder
// sections into functions. Types we do not support are errors at load time,
// never silently different ids.

// buildNormalizer returns nil for no normaliser.
func buildNormalizer(n *hfNode) (func(string) string, error) {
	if n == nil {
		return nil, nil
	}
	switch n.Type {
	case "Sequence":
		var steps []func(string) string
		for _, c := range n.Normalizers {
			f, err := buildNormalizer(c)
			if err != nil {
				return nil, err
			}
			if f != nil {
				steps = append(steps, f)
			}
		}
		return func(s string) string {
			for _, f := range steps {
				s = f(s)
			}
			return s
		}, nil
	case "Prepend":
		p := n.Prepend
		return func(s string) string {
			if s == "" { // Hugging Face prepends to non-empty text only
				return s
			}
			return p + s
		}, nil
	case "Replace":
		return replaceFunc(n)
	case "BertNormalizer":
		b := bertNormalizer{cleanText: boolOr(n.CleanText, true), handleChineseChars: boolOr(n.HandleChineseChars, true),
			lowercase: boolOr(n.Lowercase, true)}
		b.stripAccents = boolOr(n.StripAccents, b.lowercase)
		return b.normalize, nil
	case "Lowercase":
		return lowercaseFull, nil
	case "StripAccents":
		return stripNonspacingMarks, nil
	case "NFC":
		return norm.NFC.String, nil
	case "NFD":
		return norm.NFD.String, nil
	case "NFKC":
		return norm.NFKC.String, nil
	case "NFKD":
		return norm.NFKD.String, nil
	case "Strip":
		left, right := n.StripLeft, n.StripRight
		return func(s string) string {
			if left {
				s = strings.TrimLeftFunc(s, unicode.IsSpace)
			}
			if right {
				s = strings.TrimRightFunc(s, unicode.IsSpace)
			}
			return s
		}, nil
	}
	return nil, fmt.Errorf("type %q is not supported", n.Type)
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// replaceFunc is the Replace normaliser (and decoder): a literal or a regex
// replaced everywhere.
func replaceFunc(n *hfNode) (func(string) string, error) {
	if n.Pattern == nil {
		return nil, fmt.Errorf("Replace without a pattern")
	}
	content := n.Content
	switch {
	case n.Pattern.String != nil:
		old := *n.Pattern.String
		return func(s string) string { return strings.ReplaceAll(s, old, content) }, nil
	case n.Pattern.Regex != nil:
		re, err := compileRegex(*n.Pattern.Regex)
		if err != nil {
			return nil, err
		}
		return func(s string) string { return re.ReplaceAllLiteralString(s, content) }, nil
	}
	return nil, fmt.Errorf("Replace pattern has neither String nor Regex")
}

// compileRegex compiles a tokenizer.json regex with Go's regexp (RE2). RE2
// has no look-around or backreferences; such a regex is an error here,
// where the library's regexp.MustCompile panics.
func compileRegex(expr string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("regex %q cannot be compiled by Go's regexp (look-around and backreferences are not supported): %v", expr, err)
	}
	return re, nil
}

// buildPreTokenizer returns nil for no pre-tokeniser. byteLevel is set when
// the chain contains a ByteLevel step.
func buildPreTokenizer(n *hfNode, byteLevel *bool) (func([]string, bool) []string, error) {
	if n == nil {
		return nil, nil
	}
	switch n.Type {
	case "Sequence":
		var steps []func([]string, bool) []string
		for _, c := range n.PreTokenizers {
			f, err := buildPreTokenizer(c, byteLevel)
			if err != nil {
				return nil, err
			}
			if f != nil {
				steps = append(steps, f)
			}
		}
		return func(pieces []string, atStart bool) []string {
			for _, f := range steps {
				pieces = f(pieces, atStart)
			}
			return pieces
		}, nil
	case "ByteLevel":
		*byteLevel = true
		return byteLevelPreTokenizer(boolOr(n.AddPrefixSpace, true), boolOr(n.UseRegex, true)), nil
	case "Split":
		return splitPreTokenizer(n)
	case "Metaspace":
		rep := n.Replacement
		if rep == "" {
			rep = "▁"
		}
		scheme := n.PrependScheme
		if scheme == "" { // files written before prepend_scheme existed
			scheme = "never"
			if boolOr(n.AddPrefixSpace, true) {
				scheme = "always"
			}
		}
		if scheme != "always" && scheme != "first" && scheme != "never" {
			return nil, fmt.Errorf("Metaspace prepend_scheme %q is not one of always, first, never", scheme)
		}
		return metaspacePreTokenizer(rep, scheme, boolOr(n.Split, true)), nil
	case "BertPreTokenizer":
		return bertPreTokenize, nil
	case "WhitespaceSplit":
		return whitespaceSplitPreTokenize, nil
	case "Whitespace":
		return whitespacePreTokenize, nil
	case "Digits":
		return digitsPreTokenizer(n.Individual), nil
	}
	return nil, fmt.Errorf("type %q is not supported", n.Type)
}

// splitPreTokenizer is Hugging Face's Split. The GPT-2 and LLaMA-3 regexes,
// whose look-ahead Go's regexp lacks, run on hand-written scanners; any
// other regex must compile with Go's regexp.
func splitPreTokenizer(n *hfNode) (func([]string, bool) []string, error) {
	if n.Invert {
		return nil, fmt.Errorf("Split with invert is not supported")
	}
	if n.Pattern == nil {
		return nil, fmt.Errorf("Split without a pattern")
	}
	var find func(string) [][]int
	switch {
	case n.Pattern.Regex != nil:
		if scan, ok := knownPatterns[*n.Pattern.Regex]; ok {
			if n.Behavior != "Isolated" {
				return nil, fmt.Errorf("Split of %q with behavior %q is not supported (want Isolated)", *n.Pattern.Regex, n.Behavior)
			}
			return scanSplit(scan), nil
		}
		re, err := compileRegex(*n.Pattern.Regex)
		if err != nil {
			return nil, err
		}
		find = func(s string) [][]int { return re.FindAllStringIndex(s, -1) }
	case n.Pattern.String != nil:
		re := regexp.MustCompile(regexp.QuoteMeta(*n.Pattern.String)) // a quoted literal always compiles
		find = func(s string) [][]int { return re.FindAllStringIndex(s, -1) }
	default:
		return nil, fmt.Errorf("Split pattern has neither String nor Regex")
	}
	switch n.Behavior {
	case "Isolated", "Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous":
	default:
		return nil, fmt.Errorf("Split behavior %q is not supported", n.Behavior)
	}
	behavior := n.Behavior
	return func(pieces []string, _ bool) []string {
		var out []string
		for _, p := range pieces {
			out = splitByMatches(out, p, find(p), behavior)
		}
		return out
	}, nil
}

// splitByMatches cuts s at the matches (byte ranges) as Hugging Face's
// SplitDelimiterBehavior says, dropping empty pieces.
func splitByMatches(out []string, s string, matches [][]int, behavior string) []string {
	type span struct {
		a, b  int
		match bool
	}
	var spans []span
	last := 0
	for _, m := range matches {
		if m[0] == m[1] {
			continue
		}
		if last < m[0] {
			spans = append(spans, span{last, m[0], false})
		}
		spans = append(spans, span{m[0], m[1], true})
		last = m[1]
	}
	if last < len(s) {
		spans = append(spans, span{last, len(s), false})
	}
	// As Hugging Face's SplitDelimiterBehavior: a match merges into its
	// neighbour only when that neighbour is not itself a match.
	var merged []span
	prevMatch := false
	switch behavior {
	case "MergedWithNext":
		for i := len(spans) - 1; i >= 0; i-- {
			sp := spans[i]
			if sp.match && !prevMatch && len(merged) > 0 {
				merged[len(merged)-1].a = sp.a
			} else {
				merged = append(merged, sp)
			}
			prevMatch = sp.match
		}
		slices.Reverse(merged)
	default:
		for _, sp := range spans {
			k := len(merged) - 1
			switch {
			case behavior == "Removed" && sp.match:
			case behavior == "MergedWithPrevious" && sp.match && !prevMatch && k >= 0,
				behavior == "Contiguous" && sp.match == prevMatch && k >= 0:
				merged[k].b = sp.b
			default:
				merged = append(merged, sp)
			}
			prevMatch = sp.match
		}
	}
	for _, sp := range merged {
		out = append(out, s[sp.a:sp.b])
	}
	return out
}

// whitespacePreTokenize is Hugging Face's Whitespace, \w+|[^\w\s]+ with
// Unicode \w (letters, marks, digits, connector punctuation).
func whitespacePreTokenize(pieces []string, _ bool) []string {
	isWord := func(r rune) bool {
		return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r) || unicode.Is(unicode.Pc, r)
	}
	isRest := func(r rune) bool { return !isWord(r) && !isSpace(r) }
	var out []string
	for _, p := range pieces {
		for i := 0; i < len(p); {
			r, size := utf8.DecodeRuneInString(p[i:])
			switch {
			case isWord(r):
				j := runEnd(p, i, isWord)
				out, i = append(out, p[i:j]), j
			case isRest(r):
				j := runEnd(p, i, isRest)
				out, i = append(out, p[i:j]), j
			default:
				i += size
			}
		}
	}
	return out
}

// buildDecoder returns a function from tokens to text; nil means
// concatenation.
func buildDecoder(n *hfNode) (func([]string) string, error) {
	if n == nil {
		return nil, nil
	}
	chain, err := decodeChain(n)
	if err != nil {
		return nil, err
	}
	return func(toks []string) string { return strings.Join(chain(toks), "") }, nil
}

// decodeChain is Hugging Face's Decoder::decode_chain: tokens in, tokens out.
func decodeChain(n *hfNode) (func([]string) []string, error) {
	perToken := func(f func(i int, t string) string) func([]string) []string {
		return func(toks []string) []string {
			out := make([]string, len(toks))
			for i, t := range toks {
				out[i] = f(i, t)
			}
			return out
		}
	}
	switch n.Type {
	case "Sequence":
		var steps []func([]string) []string
		for _, c := range n.Decoders {
			f, err := decodeChain(c)
			if err != nil {
				return nil, err
			}
			steps = append(steps, f)
		}
		return func(toks []string) []string {
			for _, f := range steps {
				toks = f(toks)
			}
			return toks
		}, nil
	case "ByteLevel":
		return func(toks []string) []string { return []string{byteLevelDecode(toks)} }, nil
	case "Replace":
		f, err := replaceFunc(n)
		if err != nil {
			return nil, err
		}
		return perToken(func(_ int, t string) string { return f(t) }), nil
	case "ByteFallback":
		return byteFallbackDecode, nil
	case "Fuse":
		return func(toks []string) []string { return []string{strings.Join(toks, "")} }, nil
	case "Strip":
		c, start, stop := n.Content, n.Start, n.Stop
		return perToken(func(_ int, t string) string {
			for k := 0; k < start && strings.HasPrefix(t, c) && c != ""; k++ {
				t = t[len(c):]
			}
			for k := 0; k < stop && strings.HasSuffix(t, c) && c != ""; k++ {
				t = t[:len(t)-len(c)]
			}
			return t
		}), nil
	case "WordPiece":
		prefix := n.Prefix
		if prefix == "" {
			prefix = "##"
		}
		dec := wordPieceDecode(prefix, boolOr(n.Cleanup, true))
		return func(toks []string) []string { return []string{dec(toks)} }, nil
	case "Metaspace":
		rep := n.Replacement
		if rep == "" {
			rep = "▁"
		}
		strip := n.PrependScheme != "never" && (n.PrependScheme != "" || boolOr(n.AddPrefixSpace, true))
		return perToken(func(i int, t string) string {
			t = strings.ReplaceAll(t, rep, " ")
			if i == 0 && strip {
				t = strings.TrimPrefix(t, " ")
			}
			return t
		}), nil
	}
	return nil, fmt.Errorf("type %q is not supported", n.Type)
}

// byteFallbackDecode turns runs of <0xNN> tokens into the text their bytes
// spell, or one U+FFFD per byte when the run is not valid UTF-8, as Hugging
// Face does. The library's version panics on a token such as <0xZZ>; here
// such a token is kept as text.
func byteFallbackDecode(toks []string) []string {
	var out []string
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, t := range toks {
		if len(t) == 6 && strings.HasPrefix(t, "<0x") && t[5] == '>' {
			if b, err := hex.DecodeString(t[3:5]); err == nil {
				pending = append(pending, b[0])
				continue
			}
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}
