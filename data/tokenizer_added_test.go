package data

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestAddedTokensSplit(t *testing.T) {
	a := newAddedTokens(map[string]int{"<s>": 1, "<s>x": 2, "</s>": 3})
	got := a.split("a<s>xb<s></s>")
	want := []segment{{"a", -1}, {"<s>x", 2}, {"b", -1}, {"<s>", 1}, {"</s>", 3}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := (addedTokens{}).split(""); !slices.Equal(got, []segment{{"", -1}}) {
		t.Errorf("empty: %v", got)
	}
}

// The flags follow Hugging Face's AddedVocabulary::find_matches; golden
// tests against Hugging Face cover lstrip, rstrip and normalized
// (TestGoldenHFAddedFlags). These cases pin what the JavaScript port used
// for those golden sets cannot check.
func TestAddedTokenFlags(t *testing.T) {
	m := newAddedMatcher([]addedToken{
		{content: "<w>", id: 1, singleWord: true},
		{content: "<l>", id: 2, lstrip: true},
		{content: "<r>", id: 3, rstrip: true},
		{content: "<b>", id: 4, lstrip: true, rstrip: true},
	})
	for _, c := range []struct {
		in   string
		want []segment
	}{
		// single_word: no word character (\w, Unicode) on either side.
		{"a <w> b", []segment{{"a ", -1}, {"<w>", 1}, {" b", -1}}},
		{"<w>", []segment{{"<w>", 1}}},
		{"a<w> b", []segment{{"a<w> b", -1}}},
		{"a <w>é", []segment{{"a <w>é", -1}}},
		{"a <w>_", []segment{{"a <w>_", -1}}},
		{"a <w>-", []segment{{"a ", -1}, {"<w>", 1}, {"-", -1}}},
		// A dropped single_word match is not searched again.
		{"x<w><l>", []segment{{"x<w>", -1}, {"<l>", 2}}},
		// lstrip and rstrip take Unicode whitespace, never an earlier token.
		{"a \u3000<l>b", []segment{{"a", -1}, {"<l>", 2}, {"b", -1}}},
		{"a<r> \n b", []segment{{"a", -1}, {"<r>", 3}, {"b", -1}}},
		{"<r>  <l>", []segment{{"<r>", 3}, {"<l>", 2}}},
		{"  <b>  ", []segment{{"<b>", 4}}},
	} {
		if got := m.split(c.in); !slices.Equal(got, c.want) {
			t.Errorf("%q: got %+v, want %+v", c.in, got, c.want)
		}
	}
}

// TestAddedTokenNormalizedLeftover pins Rust's handling of a normalized
// token: on Mistral, whose normaliser writes "<mask>" as "▁<mask>", the
// second "<mask>" of "<mask><mask>" has no "▁" before it, so it is not the
// token and the model spells it. (The JavaScript port takes it as the token,
// which is why the golden variant leaves this input out.)
func TestAddedTokenNormalizedLeftover(t *testing.T) {
	tok, err := LoadTokenizer(filepath.Join("testdata", "tokenizer", "mistral"))
	if err != nil {
		t.Fatal(err)
	}
	p := tok.(*pipeline)
	p.added = newAddedTokensJSON([]hfAddedToken{{ID: 32000, Content: "<mask>", Normalized: true}}, p.normalize)
	got, err := p.Encode("<mask><mask>")
	if err != nil {
		t.Fatal(err)
	}
	// "<", "mask", ">" in Mistral's vocabulary.
	if want := []int{32000, 28789, 5274, 28767}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
