package data

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// The hand-written scanners are checked against naive twins built on Go's
// regexp: the pattern without its \s+(?!\S) alternative, with \s spelled as
// Unicode White_Space (RE2's \s is ASCII only), and the look-ahead applied
// after the match. The regexp engine is independent of the scanners' code,
// so agreement on fuzzed input is evidence that both follow the pattern.
const tokWhiteSpace = `[\t-\r\x{85}\p{Z}]`

var (
	gpt2Twin = regexp.MustCompile(`^(?:'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{L}\p{N}` +
		tokWhiteSpace[1:len(tokWhiteSpace)-1] + `]+|` + tokWhiteSpace + `+)`)
	llama3Twin = regexp.MustCompile(`^(?:(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\p{L}\p{N}` +
		tokWhiteSpace[1:len(tokWhiteSpace)-1] + `]+[\r\n]*|` + tokWhiteSpace + `*[\r\n]+|` + tokWhiteSpace + `+)`)
	qwen2Twin = regexp.MustCompile(`^(?:(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\p{L}\p{N}` +
		tokWhiteSpace[1:len(tokWhiteSpace)-1] + `]+[\r\n]*|` + tokWhiteSpace + `*[\r\n]+|` + tokWhiteSpace + `+)`)
	allWhiteSpace = regexp.MustCompile(`^` + tokWhiteSpace + `+$`)
)

// twinSplit splits s with a twin regex, emulating \s+(?!\S): a match made
// only of whitespace, of two or more characters, not ending in a line break
// (for LLaMA-3, whose \s*[\r\n]+ comes first) and followed by more text gives
// back its last character.
func twinSplit(re *regexp.Regexp, s string, lineBreakFirst bool) []string {
	var out []string
	for i := 0; i < len(s); {
		loc := re.FindStringIndex(s[i:])
		if loc == nil || loc[1] == 0 {
			panic("twin regex matched nothing at " + s[i:])
		}
		m := s[i : i+loc[1]]
		brk := lineBreakFirst && strings.ContainsAny(m[len(m)-1:], "\r\n")
		if allWhiteSpace.MatchString(m) && !brk && i+len(m) < len(s) && utf8.RuneCountInString(m) > 1 {
			_, last := utf8.DecodeLastRuneInString(m)
			m = m[:len(m)-last]
		}
		out = append(out, m)
		i += len(m)
	}
	return out
}

func scan(match func(string, int) int, s string) []string {
	return scanSplit(match)([]string{s}, true)
}

var tokPretokSeeds = []string{
	"", " ", "  ", "   Hello", "Hello world", " Hello World!", "\n\n\n", "\t\n", "    Hello\n    Hello",
	"Hello, y'all! How are you 😁 ?我想在apple工作1314151天～", "3333333", "'s 'S 'Re 'ſ", "!!!!!!",
	" \u00a0\u3000x", "a\r\n\r\nb", "x  \n  y", "  ( ", "\n =", "' era", "don't WON'T", "\xff\xfe bad utf8",
}

func TestGPT2ScannerCases(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"   Hello", []string{"  ", " Hello"}},
		{"Hello, y'all!", []string{"Hello", ",", " y", "'", "all", "!"}},
		{"don't", []string{"don", "'t"}},
		{"a  \n b", []string{"a", "  \n", " b"}},
		{"x   ", []string{"x", "   "}},
		{"3333 !!!", []string{"3333", " !!!"}},
	} {
		if got := scan(gpt2Match, c.in); !slices.Equal(got, c.want) {
			t.Errorf("gpt2 %q: got %q, want %q", c.in, got, c.want)
		}
	}
}

func TestLlama3ScannerCases(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"   Hello", []string{"  ", " Hello"}},
		{"3333333", []string{"333", "333", "3"}},
		{"(normal)", []string{"(normal", ")"}},
		{"a \n\n  b", []string{"a", " \n\n", " ", " b"}},
		{"I'M HERE", []string{"I", "'M", " HERE"}},
		{"!!\n\nx", []string{"!!\n\n", "x"}},
	} {
		if got := scan(llama3Match, c.in); !slices.Equal(got, c.want) {
			t.Errorf("llama3 %q: got %q, want %q", c.in, got, c.want)
		}
	}
}

func TestQwen2ScannerCases(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"3333", []string{"3", "3", "3", "3"}},
		{"x12 ½²", []string{"x", "1", "2", " ", "½", "²"}},
		{"   Hello", []string{"  ", " Hello"}},
		{"I'M HERE", []string{"I", "'M", " HERE"}},
		{"!!\n\nx", []string{"!!\n\n", "x"}},
	} {
		if got := scan(qwen2Match, c.in); !slices.Equal(got, c.want) {
			t.Errorf("qwen2 %q: got %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzGPT2Scanner(f *testing.F) {
	for _, s := range tokPretokSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // the twin regexp and the scanner read invalid bytes differently
		}
		got := scan(gpt2Match, s)
		if strings.Join(got, "") != s {
			t.Fatalf("%q: pieces %q do not spell the input", s, got)
		}
		if want := twinSplit(gpt2Twin, s, false); !slices.Equal(got, want) {
			t.Fatalf("%q: scanner %q, regexp twin %q", s, got, want)
		}
	})
}

func FuzzLlama3Scanner(f *testing.F) {
	for _, s := range tokPretokSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		got := scan(llama3Match, s)
		if strings.Join(got, "") != s {
			t.Fatalf("%q: pieces %q do not spell the input", s, got)
		}
		if want := twinSplit(llama3Twin, s, true); !slices.Equal(got, want) {
			t.Fatalf("%q: scanner %q, regexp twin %q", s, got, want)
		}
	})
}

func FuzzQwen2Scanner(f *testing.F) {
	for _, s := range tokPretokSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		got := scan(qwen2Match, s)
		if strings.Join(got, "") != s {
			t.Fatalf("%q: pieces %q do not spell the input", s, got)
		}
		if want := twinSplit(qwen2Twin, s, true); !slices.Equal(got, want) {
			t.Fatalf("%q: scanner %q, regexp twin %q", s, got, want)
		}
	})
}

func TestScannersCoverInvalidUTF8(t *testing.T) {
	s := "a\xffb \xfe\xfd  c"
	for _, m := range []func(string, int) int{gpt2Match, llama3Match, qwen2Match} {
		if got := strings.Join(scan(m, s), ""); got != s {
			t.Errorf("pieces spell %q, want %q", got, s)
		}
	}
}

func TestByteLevelAlphabet(t *testing.T) {
	// GPT-2's bytes_to_unicode: printable bytes stand for themselves, the
	// others map to U+0100 upwards in byte order (space → 'Ġ', '\n' → 'Ċ').
	for b, want := range map[byte]string{'!': "!", ' ': "Ġ", '\n': "Ċ", 0: "Ā", 0xAD: "Ń", 0xFF: "ÿ"} {
		if got := byteLevelAlphabet[b]; got != want {
			t.Errorf("byte %#x: got %q, want %q", b, got, want)
		}
	}
	seen := map[string]bool{}
	for b, c := range byteLevelAlphabet {
		if seen[c] || byteLevelDecoding[[]rune(c)[0]] != byte(b) {
			t.Fatalf("byte %#x: alphabet is not a bijection", b)
		}
		seen[c] = true
	}
}

func TestMetaspace(t *testing.T) {
	for _, c := range []struct {
		scheme  string
		split   bool
		atStart bool
		in      string
		want    []string
	}{
		{"always", true, true, "Hello world", []string{"▁Hello", "▁world"}},
		{"always", false, true, "Hello  world", []string{"▁Hello▁▁world"}},
		{"first", false, false, "Hello", []string{"Hello"}},
		{"first", false, true, "Hello", []string{"▁Hello"}},
		{"never", true, true, "a b", []string{"a", "▁b"}},
		{"always", true, true, " a", []string{"▁a"}},
	} {
		got := metaspacePreTokenizer("▁", c.scheme, c.split)([]string{c.in}, c.atStart)
		if !slices.Equal(got, c.want) {
			t.Errorf("%+v: got %q", c, got)
		}
	}
}

func TestSplitBehaviors(t *testing.T) {
	m := [][]int{{1, 2}, {2, 3}, {5, 6}} // "-" at 1, 2 and 5 in "a--bc-d"
	for behavior, want := range map[string][]string{
		"Isolated":           {"a", "-", "-", "bc", "-", "d"},
		"Removed":            {"a", "bc", "d"},
		"MergedWithPrevious": {"a-", "-", "bc-", "d"},
		"MergedWithNext":     {"a", "-", "-bc", "-d"},
		"Contiguous":         {"a", "--", "bc", "-", "d"},
	} {
		if got := splitByMatches(nil, "a--bc-d", m, behavior); !slices.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", behavior, got, want)
		}
	}
}

func TestBertPreTokenize(t *testing.T) {
	got := bertPreTokenize([]string{"hello, world!! 3.5\u3000x"}, true)
	want := []string{"hello", ",", "world", "!", "!", "3", ".", "5", "x"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDigits(t *testing.T) {
	if got := digitsPreTokenizer(true)([]string{"ab123c4"}, true); !slices.Equal(got, []string{"ab", "1", "2", "3", "c", "4"}) {
		t.Errorf("individual: %q", got)
	}
	if got := digitsPreTokenizer(false)([]string{"ab123c4"}, true); !slices.Equal(got, []string{"ab", "123", "c", "4"}) {
		t.Errorf("runs: %q", got)
	}
}
