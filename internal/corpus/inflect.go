package corpus

import (
	"math/bits"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// rng draws from a PCG source with its own bounded-integer rule, so the text
// depends only on PCG's output (fixed by its definition), not on how
// math/rand/v2's helpers map it to ranges in a given Go release.
type rng struct{ src *rand.PCG }

func newRNG(seed, stream uint64) *rng { return &rng{rand.NewPCG(seed, stream)} }

// intn returns a number in [0, n) by Lemire's multiply-shift (bias < n/2⁶⁴).
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.src.Uint64(), uint64(n))
	return int(hi)
}

// float returns a number in [0, 1).
func (r *rng) float() float64 { return float64(r.src.Uint64()>>11) / (1 << 53) }

// chance is true with probability p.
func (r *rng) chance(p float64) bool { return r.float() < p }

func (r *rng) pick(list []string) string { return list[r.intn(len(list))] }

// verbForms are the forms of an English verb.
type verbForms struct{ base, s, past, pp, ing string }

// verb inflects a word-list entry: "walk", "stop/stopped" (past and
// participle alike), "take/took/taken" or, where the -ing form doubles a
// consonant that the past does not show, "sit/sat/sat/sitting". Otherwise
// -ing doubles the last consonant when the past does ("stopping").
func verb(entry string) verbForms {
	parts := strings.Split(entry, "/")
	b := parts[0]
	v := verbForms{base: b, s: thirdPerson(b), past: regularPast(b)}
	switch len(parts) {
	case 2:
		v.past = parts[1]
	case 3, 4:
		v.past, v.pp = parts[1], parts[2]
	}
	if v.pp == "" {
		v.pp = v.past
	}
	last := b[len(b)-1:]
	switch {
	case len(parts) == 4:
		v.ing = parts[3]
	case v.past == b+last+"ed":
		v.ing = b + last + "ing"
	case strings.HasSuffix(b, "ie"):
		v.ing = b[:len(b)-2] + "ying"
	case strings.HasSuffix(b, "e") && !strings.HasSuffix(b, "ee") && len(b) > 2:
		v.ing = b[:len(b)-1] + "ing"
	default:
		v.ing = b + "ing"
	}
	return v
}

func thirdPerson(b string) string {
	switch {
	case b == "have":
		return "has"
	case consonantY(b):
		return b[:len(b)-1] + "ies"
	case sibilant(b) || strings.HasSuffix(b, "o"):
		return b + "es"
	}
	return b + "s"
}

func regularPast(b string) string {
	switch {
	case strings.HasSuffix(b, "e"):
		return b + "d"
	case consonantY(b):
		return b[:len(b)-1] + "ied"
	}
	return b + "ed"
}

// singular and plural inflect a noun entry: "cup" or "knife/knives".
func singular(entry string) string {
	sg, _, _ := strings.Cut(entry, "/")
	return sg
}

func plural(entry string) string {
	if _, pl, ok := strings.Cut(entry, "/"); ok {
		return pl
	}
	switch {
	case consonantY(entry):
		return entry[:len(entry)-1] + "ies"
	case sibilant(entry):
		return entry + "es"
	}
	return entry + "s"
}

func sibilant(w string) bool {
	for _, s := range []string{"s", "x", "z", "ch", "sh"} {
		if strings.HasSuffix(w, s) {
			return true
		}
	}
	return false
}

func consonantY(w string) bool {
	return len(w) > 1 && w[len(w)-1] == 'y' && !strings.ContainsRune("aeiou", rune(w[len(w)-2]))
}

// number writes a number of the given kind, in the style text uses for it.
func number(r *rng, kind string) string {
	between := func(lo, hi, step int) int { return lo + step*r.intn((hi-lo)/step+1) }
	switch kind {
	case "temp": // degrees Celsius a temperate place sees
		return strconv.Itoa(between(-12, 38, 1))
	case "big":
		n := between(120, 9500, 10)
		if n >= 1000 && r.chance(0.5) {
			return strconv.Itoa(n/1000) + "," + strconv.Itoa(n%1000 + 1000)[1:]
		}
		return strconv.Itoa(n)
	case "speed": // km/h of a gale to a hurricane
		return strconv.Itoa(between(50, 190, 5))
	case "year":
		return strconv.Itoa(between(1952, 2024, 1))
	case "clock":
		s := strconv.Itoa(between(1, 12, 1)) + ":" + []string{"00", "15", "30", "45"}[r.intn(4)]
		return s + []string{"", " am", " pm"}[r.intn(3)]
	case "score":
		return strconv.Itoa(between(1, 6, 1)) + "-" + strconv.Itoa(between(0, 4, 1))
	case "pct":
		return strconv.Itoa(between(10, 90, 5))
	case "price":
		return "$" + strconv.Itoa(between(5, 240, 5))
	case "min":
		return strconv.Itoa(between(5, 90, 5))
	case "oven":
		return strconv.Itoa(between(150, 240, 10))
	case "dist":
		return r.pick([]string{"100", "200", "400", "800", "1,500", "5,000", "10,000"})
	}
	n := between(2, 12, 1) // "small": counts of things
	if r.chance(0.7) {
		return numberWords[n]
	}
	return strconv.Itoa(n)
}

var numberWords = strings.Fields("zero one two three four five six seven eight nine ten eleven twelve")

// finish tidies a filled sentence: spacing around punctuation, "a" before
// a vowel, some contractions, capitals at the start and after an opening
// quotation mark.
func finish(r *rng, s string) string {
	s = strings.Join(strings.Fields(s), " ")
	for _, p := range []string{",", ".", "!", "?", ";", ":"} {
		s = strings.ReplaceAll(s, " "+p, p)
	}
	words := strings.Split(s, " ")
	for i := 0; i+1 < len(words); i++ {
		if (words[i] == "a" || words[i] == "A") && takesAn(words[i+1]) {
			words[i] += "n"
		}
		if c, ok := contractions[words[i]][words[i+1]]; ok && r.chance(0.35) {
			words[i] += c
			words = append(words[:i+1], words[i+2:]...)
		}
	}
	b := []byte(strings.Join(words, " "))
	for i := 0; i < len(b); i++ {
		if i == 0 || b[i-1] == '"' && (i == 1 || b[i-2] == ' ') {
			if r, size := utf8.DecodeRune(b[i:]); unicode.IsLower(r) && size == 1 {
				b[i] = byte(unicode.ToUpper(r))
			}
		}
	}
	return string(b)
}

// takesAn reports whether a word starts with a vowel sound, by spelling
// with the exceptions our word lists hold.
func takesAn(w string) bool {
	w = strings.ToLower(strings.Trim(w, `"'`))
	if w == "" {
		return false
	}
	for _, p := range []string{"uni", "usu", "use", "euro", "one"} {
		if strings.HasPrefix(w, p) {
			return false
		}
	}
	if w[0] >= '0' && w[0] <= '9' { // "an 8", "an 85", "an 11", "an 18", not "a 110"
		digits := len(w) - len(strings.TrimLeft(w, "0123456789"))
		return w[0] == '8' || digits == 2 && (strings.HasPrefix(w, "11") || strings.HasPrefix(w, "18"))
	}
	return strings.HasPrefix(w, "hour") || strings.HasPrefix(w, "honest") || strings.ContainsRune("aeiou", rune(w[0]))
}

// contractions maps a pronoun and an auxiliary to the contracted ending.
var contractions = func() map[string]map[string]string {
	m := map[string]map[string]string{}
	for _, c := range words(`I_am_'m I_will_'ll I_have_'ve you_are_'re you_will_'ll you_have_'ve
		he_is_'s she_is_'s it_is_'s he_will_'ll she_will_'ll we_are_'re we_will_'ll we_have_'ve
		they_are_'re they_will_'ll they_have_'ve He_is_'s She_is_'s It_is_'s We_are_'re They_are_'re
		You_are_'re We_have_'ve They_have_'ve`) {
		f := strings.Fields(c)
		if m[f[0]] == nil {
			m[f[0]] = map[string]string{}
		}
		m[f[0]][f[1]] = f[2]
	}
	return m
}()
