package corpus

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestVerbForms(t *testing.T) {
	for entry, want := range map[string]verbForms{
		"walk":                        {"walk", "walks", "walked", "walked", "walking"},
		"bake":                        {"bake", "bakes", "baked", "baked", "baking"},
		"try/tried":                   {"try", "tries", "tried", "tried", "trying"},
		"stop/stopped":                {"stop", "stops", "stopped", "stopped", "stopping"},
		"take/took/taken":             {"take", "takes", "took", "taken", "taking"},
		"sit/sat/sat/sitting":         {"sit", "sits", "sat", "sat", "sitting"},
		"watch":                       {"watch", "watches", "watched", "watched", "watching"},
		"go/went/gone":                {"go", "goes", "went", "gone", "going"},
		"see/saw/seen":                {"see", "sees", "saw", "seen", "seeing"},
		"worry/worried":               {"worry", "worries", "worried", "worried", "worrying"},
		"play":                        {"play", "plays", "played", "played", "playing"},
		"have/had":                    {"have", "has", "had", "had", "having"},
		"hum/hummed":                  {"hum", "hums", "hummed", "hummed", "humming"},
		"freeze/froze/frozen":         {"freeze", "freezes", "froze", "frozen", "freezing"},
		"cancel/canceled":             {"cancel", "cancels", "canceled", "canceled", "canceling"},
		"forecast/forecast":           {"forecast", "forecasts", "forecast", "forecast", "forecasting"},
		"agree":                       {"agree", "agrees", "agreed", "agreed", "agreeing"},
		"fry":                         {"fry", "fries", "fried", "fried", "frying"},
		"mix":                         {"mix", "mixes", "mixed", "mixed", "mixing"},
		"begin/began/begun/beginning": {"begin", "begins", "began", "begun", "beginning"},
	} {
		if got := verb(entry); got != want {
			t.Errorf("verb(%q) = %+v, want %+v", entry, got, want)
		}
	}
}

func TestNouns(t *testing.T) {
	for entry, want := range map[string][2]string{
		"cup": {"cup", "cups"}, "knife/knives": {"knife", "knives"}, "box": {"box", "boxes"},
		"family/families": {"family", "families"}, "day": {"day", "days"}, "city": {"city", "cities"},
		"dish": {"dish", "dishes"}, "concert hall": {"concert hall", "concert halls"},
	} {
		if sg, pl := singular(entry), plural(entry); sg != want[0] || pl != want[1] {
			t.Errorf("%q: %q, %q; want %q, %q", entry, sg, pl, want[0], want[1])
		}
	}
	for w, want := range map[string]bool{"apple": true, "hour": true, "umbrella": true,
		"unit": false, "usual": false, "cup": false, "European": false, `"oh`: true,
		"85": true, "8": true, "18": true, "11": true, "110": false, "180": false, "5": false} {
		if takesAn(w) != want {
			t.Errorf("takesAn(%q) = %v", w, !want)
		}
	}
}

// TestAgreement fills "subject verb" in every tense and checks the verb
// against the subject.
func TestAgreement(t *testing.T) {
	want := map[tense]map[string]string{
		present:         {"I": "walk", "you": "walk", "he": "walks", "she": "walks", "we": "walk", "they": "walk"},
		past:            {"I": "walked", "you": "walked", "he": "walked", "we": "walked"},
		future:          {"I": "will walk", "she": "will walk", "they": "will walk"},
		progressive:     {"I": "am walking", "you": "are walking", "he": "is walking", "we": "are walking"},
		pastProgressive: {"I": "was walking", "you": "were walking", "she": "was walking", "they": "were walking"},
		perfect:         {"I": "have walked", "you": "have walked", "he": "has walked", "they": "have walked"},
	}
	r := newRNG(1, 1)
	for tn, forms := range want {
		seen := map[string]bool{}
		for range 200 {
			e := &expander{r: r, agr: thirdSingular, tense: tn}
			var sb strings.Builder
			e.expand("{S:pro} {V:=walk}", &sb)
			subj, verb, _ := strings.Cut(sb.String(), " ")
			if w, ok := forms[subj]; ok {
				seen[subj] = true
				if verb != w {
					t.Errorf("tense %d: %q %q, want %q", tn, subj, verb, w)
				}
			}
		}
		if len(seen) != len(forms) {
			t.Errorf("tense %d: saw subjects %v, want all of %v", tn, seen, forms)
		}
	}
	// Stative verbs fall back from the progressive.
	e := &expander{r: r, agr: thirdSingular, tense: progressive}
	var sb strings.Builder
	e.expand("{S:name} {V:=know/knew/known}", &sb)
	if !strings.HasSuffix(sb.String(), " knows") {
		t.Errorf("progressive stative: %q, want \"... knows\"", sb.String())
	}
}

// TestFrames fills every frame of every pool many times: each must name
// known lists and slots (else it panics) and give a tidy sentence.
func TestFrames(t *testing.T) {
	r := newRNG(7, 7)
	pools := map[string][]string{"neutral": neutralFrames, "topicFrames/none": topicFrames}
	for _, tp := range topics {
		pools[tp.name] = tp.frames
		pools["topicFrames/"+tp.name] = topicFrames
	}
	for name, frames := range pools {
		var tp *topic
		for _, x := range topics {
			if strings.HasSuffix(name, x.name) {
				tp = x
			}
		}
		for _, f := range frames {
			for tn := range perfect + 1 {
				for range 8 {
					e := &expander{r: r, topic: tp, agr: thirdSingular, tense: tn, negate: true}
					var sb strings.Builder
					e.expand(strings.TrimPrefix(f, "*"), &sb)
					checkSentence(t, name, f, finish(r, sb.String()))
				}
			}
		}
	}
}

func checkSentence(t *testing.T, pool, frame, s string) {
	t.Helper()
	first, _ := utf8.DecodeRuneInString(s)
	switch {
	case strings.ContainsAny(s, "{}[]_|*"):
		t.Errorf("%s frame %q left template syntax: %q", pool, frame, s)
	case strings.Contains(s, "  ") || strings.Contains(s, " ,") || strings.Contains(s, " ."):
		t.Errorf("%s frame %q: bad spacing in %q", pool, frame, s)
	case !unicode.IsUpper(first) && !unicode.IsDigit(first) && first != '"' && first != '$':
		t.Errorf("%s frame %q: sentence starts in lower case: %q", pool, frame, s)
	case !strings.HasSuffix(strings.TrimSuffix(s, `"`), ".") && !strings.HasSuffix(s, "?"):
		t.Errorf("%s frame %q: no final punctuation: %q", pool, frame, s)
	case strings.Contains(s, " a a") || strings.Contains(s, " a e") || strings.Contains(s, " a o"):
		t.Errorf("%s frame %q: \"a\" before a vowel: %q", pool, frame, s)
	}
}
