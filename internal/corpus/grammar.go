package corpus

import "strings"

// A frame is a sentence template. Text is copied; [a|b|c] picks one
// option (an option may hold slots, and may be empty); {KIND:list} is a
// slot filled from the named word list (the topic's list of that name
// first, then the shared one):
//
//	{S} {S:L}        subject: a person, or a noun phrase from L (also "pro",
//	                 "name", "names"); the verbs after it agree with it
//	{V:L}            verb conjugated for the sentence's tense and subject
//	{v:L} {g:L} {d:L} verb as base, -ing or past form
//	{BE}             "be" conjugated
//	{N:L} {n:L} {p:L} noun phrase (determiner, adjective, noun), singular,
//	                 plural noun
//	{M:L} {m:L}      mass noun phrase, bare mass noun
//	{X:L}            "there is/are/was ..." and a noun phrase from L
//	{A} {A:L} {W:L}  adjective (topic "adj" by default), word as written
//	{NAME} {PLACE} {POSS} {PP} {TIME} {NUM:kind}
//	{Q}              a sentence of the current topic, for a quotation
//	{F}              a clause of the current topic ("that ...")
//	{T:tense}        sets the tense (past, present, future) for what follows
//
// A frame that starts with "*" is an imperative and never embedded by {Q}
// or {F}. Frames start in lower case: the sentence is capitalised after
// filling, so that a connective ("However, ...") can precede it.

// tense is the tense of a sentence's verbs.
type tense int

const (
	present         tense = iota // she cooks
	past                         // she cooked
	future                       // she will cook
	progressive                  // she is cooking
	pastProgressive              // she was cooking
	perfect                      // she has cooked
)

// agreement is what a verb agrees with: person 1, 2 or 3, and number.
type agreement struct {
	person int
	plural bool
}

var thirdSingular = agreement{3, false}

// expander fills frames. It is not safe for concurrent use.
type expander struct {
	r      *rng
	topic  *topic // nil for the neutral pool
	tense  tense
	agr    agreement
	negate bool // a verb of this sentence may be negated
}

// list returns the word list name, the topic's first; "=word" is a list of
// that one word.
func (e *expander) list(name string) []string {
	if w, ok := strings.CutPrefix(name, "="); ok {
		return []string{w}
	}
	if e.topic != nil {
		if l, ok := e.topic.lists[name]; ok {
			return l
		}
	}
	if l, ok := shared[name]; ok {
		return l
	}
	panic("corpus: frame names the unknown word list " + name)
}

func (e *expander) pick(name string) string { return e.r.pick(e.list(name)) }

// expand writes the filled template to out.
func (e *expander) expand(tmpl string, out *strings.Builder) {
	for i := 0; i < len(tmpl); {
		switch tmpl[i] {
		case '[':
			j := i + strings.IndexByte(tmpl[i:], ']')
			opts := strings.Split(tmpl[i+1:j], "|")
			e.expand(opts[e.r.intn(len(opts))], out)
			i = j + 1
		case '{':
			j := i + strings.IndexByte(tmpl[i:], '}')
			e.slot(tmpl[i+1:j], out)
			i = j + 1
		default:
			out.WriteByte(tmpl[i])
			i++
		}
	}
}

// slot fills one {KIND:arg}.
func (e *expander) slot(spec string, out *strings.Builder) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "S":
		e.subject(arg, out)
	case "V":
		out.WriteString(e.verbPhrase(verb(e.pick(arg))))
	case "v":
		out.WriteString(verb(e.pick(arg)).base)
	case "g":
		out.WriteString(verb(e.pick(arg)).ing)
	case "d":
		out.WriteString(verb(e.pick(arg)).past)
	case "BE":
		out.WriteString(e.be(false))
	case "N":
		np, _ := e.nounPhrase(arg, false)
		out.WriteString(np)
	case "n":
		out.WriteString(singular(e.pick(arg)))
	case "p":
		out.WriteString(plural(e.pick(arg)))
	case "M":
		out.WriteString(e.massPhrase(arg))
	case "m", "W":
		out.WriteString(e.pick(arg))
	case "X":
		np, pl := e.nounPhrase(arg, true)
		saved := e.agr
		e.agr = agreement{3, pl}
		out.WriteString("there " + e.be(false) + " " + np)
		e.agr = saved
	case "A":
		out.WriteString(e.adjective(arg))
	case "NAME":
		out.WriteString(e.name())
	case "PLACE":
		out.WriteString(e.pick("town"))
	case "POSS":
		out.WriteString(e.possessive())
	case "PP":
		e.expand(e.r.pick(prepPhrases), out)
	case "TIME":
		e.expand(e.r.pick(timePhrases[e.tense]), out)
	case "NUM":
		out.WriteString(number(e.r, arg))
	case "Q", "F":
		e.embedded(kind == "Q", out)
	case "T":
		e.tense = map[string]tense{"past": past, "present": present, "future": future}[arg]
	default:
		panic("corpus: unknown slot {" + spec + "}")
	}
}

// subject writes a subject and makes it the one verbs agree with.
func (e *expander) subject(arg string, out *strings.Builder) {
	r := e.r
	if arg == "" {
		switch x := r.intn(20); {
		case x < 6:
			arg = "name"
		case x < 10:
			arg = "pro"
		case x < 12:
			arg = "names"
		case e.topic != nil && x < 18:
			arg = "agent"
		default:
			arg = "person"
		}
	}
	switch arg {
	case "name":
		out.WriteString(e.name())
		e.agr = thirdSingular
	case "names":
		out.WriteString(e.name() + " and " + e.name())
		e.agr = agreement{3, true}
	case "pro":
		p := r.intn(len(pronouns))
		out.WriteString(pronouns[p].word)
		e.agr = pronouns[p].agr
	default:
		np, pl := e.nounPhrase(arg, false)
		out.WriteString(np)
		e.agr = agreement{3, pl}
	}
}

var pronouns = []struct {
	word string
	agr  agreement
}{{"I", agreement{1, false}}, {"you", agreement{2, true}}, {"he", thirdSingular},
	{"she", thirdSingular}, {"we", agreement{1, true}}, {"they", agreement{3, true}}}

// name is a first name, sometimes with a surname or a title.
func (e *expander) name() string {
	switch x := e.r.intn(20); {
	case x < 3:
		return e.pick("first") + " " + e.pick("surname")
	case x < 4:
		return e.r.pick(titles) + " " + e.pick("surname")
	}
	return e.pick("first")
}

var titles = []string{"Mr.", "Mrs.", "Ms.", "Dr.", "Coach", "Professor"}

func (e *expander) possessive() string {
	if e.r.chance(0.15) {
		return e.pick("first") + "'s"
	}
	return e.r.pick(possessives)
}

var possessives = []string{"my", "your", "his", "her", "our", "their"}

// adjective picks from list name, or from the topic's adjectives (mostly)
// and the shared ones when name is "".
func (e *expander) adjective(name string) string {
	if name == "" {
		name = "adj"
		if e.r.chance(0.25) {
			name = "gadj"
		}
	}
	return e.pick(name)
}

// nounPhrase is a determiner, maybe an adjective, and a noun from list; it
// says whether the phrase is plural. existential phrases ("there is ...")
// avoid "the".
func (e *expander) nounPhrase(list string, existential bool) (string, bool) {
	r := e.r
	noun := e.pick(list)
	pl := r.chance(0.35)
	adj := ""
	if r.chance(0.35) {
		adj = e.adjective("") + " "
	}
	var det string
	switch {
	case pl && existential:
		det = r.pick(detPluralThere)
	case pl:
		det = r.pick(detPlural)
	case existential:
		det = "a"
	default:
		det = r.pick(detSingular)
	}
	if det == "#" {
		det = number(r, "small")
	}
	if pl {
		noun = plural(noun)
	} else {
		noun = singular(noun)
	}
	if det == "" {
		return adj + noun, pl
	}
	return det + " " + adj + noun, pl
}

// Determiners; "#" is a small number.
var (
	detPluralThere = []string{"some", "many", "several", "a few", "no", "#"}
	detPlural      = []string{"the", "the", "", "some", "these", "those", "many", "our", "their", "my", "#"}
	detSingular    = []string{"the", "the", "the", "a", "a", "this", "that", "my", "our", "your", "his", "her", "their", "one"}
	detMass        = []string{"", "", "the", "the", "some", "more", "a lot of", "a little", "fresh"}
)

// massPhrase is an optional determiner and adjective and a mass noun.
func (e *expander) massPhrase(list string) string {
	det := e.r.pick(detMass)
	if det == "fresh" && e.topic != nil && e.topic.name != "cooking" {
		det = ""
	}
	if det != "" {
		det += " "
	}
	if e.r.chance(0.3) {
		det += e.adjective("") + " "
	}
	return det + e.pick(list)
}

// be conjugates "be" for the tense and subject.
func (e *expander) be(neg bool) string {
	first, pl := e.agr.person == 1 && !e.agr.plural, e.agr.plural || e.agr.person == 2
	not := ""
	if neg {
		not = " not"
	}
	switch e.tense {
	case past, pastProgressive:
		if pl {
			return "were" + not
		}
		return "was" + not
	case future:
		return "will" + not + " be"
	case perfect:
		if pl || first {
			return "have" + not + " been"
		}
		return "has" + not + " been"
	}
	switch {
	case first:
		return "am" + not
	case pl:
		return "are" + not
	}
	return "is" + not
}

// verbPhrase conjugates v for the tense and subject, negated now and then.
func (e *expander) verbPhrase(v verbForms) string {
	neg := e.negate && e.r.chance(0.06)
	if neg {
		e.negate = false // one negation a sentence is plenty
	}
	t := e.tense
	if stative[v.base] && (t == progressive || t == pastProgressive) {
		t = map[tense]tense{progressive: present, pastProgressive: past}[t] // not "is knowing"
	}
	return e.conjugate(v, t, neg)
}

// stative verbs take no progressive form.
var stative = map[string]bool{"know": true, "believe": true, "like": true, "love": true, "hate": true,
	"prefer": true, "want": true, "need": true, "admire": true, "hear": true, "see": true}

// conjugate writes v in tense t for the subject, negated with neg.
func (e *expander) conjugate(v verbForms, t tense, neg bool) string {
	third := e.agr.person == 3 && !e.agr.plural
	aux := func(full, short string) string { // "does not" or "doesn't"
		if e.r.chance(0.5) {
			return short
		}
		return full
	}
	switch t {
	case past:
		if neg {
			return aux("did not", "didn't") + " " + v.base
		}
		return v.past
	case future:
		if neg {
			return aux("will not", "won't") + " " + v.base
		}
		return "will " + v.base
	case progressive, pastProgressive:
		saved := e.tense
		e.tense = t
		be := e.be(neg)
		e.tense = saved
		return be + " " + v.ing
	case perfect:
		switch {
		case neg && third:
			return aux("has not", "hasn't") + " " + v.pp
		case neg:
			return aux("have not", "haven't") + " " + v.pp
		case third:
			return "has " + v.pp
		}
		return "have " + v.pp
	}
	switch {
	case neg && third:
		return aux("does not", "doesn't") + " " + v.base
	case neg:
		return aux("do not", "don't") + " " + v.base
	case third:
		return v.s
	}
	return v.base
}

// embedded writes a sentence of the current pool without its final full
// stop: a quotation ({Q}, own tense) or a clause ({F}, same tense).
func (e *expander) embedded(quote bool, out *strings.Builder) {
	frames := e.framePool(e.r.chance(0.5))
	var f string
	for f == "" || !embeddable(f) {
		f = e.r.pick(frames)
	}
	saved, savedTense := e.agr, e.tense
	e.agr = thirdSingular
	if quote {
		e.tense = quoteTenses[e.r.intn(len(quoteTenses))]
	}
	var sb strings.Builder
	e.expand(f, &sb)
	out.WriteString(strings.TrimSuffix(sb.String(), "."))
	e.agr, e.tense = saved, savedTense
}

var quoteTenses = []tense{present, present, future, past, progressive, perfect}

// embeddable reports whether a frame can stand inside another: a statement
// with no quotation, clause or tense of its own.
func embeddable(f string) bool {
	return !strings.HasPrefix(f, "*") && strings.HasSuffix(f, ".") &&
		!strings.ContainsAny(f, "\"") && !strings.Contains(f, "{Q") &&
		!strings.Contains(f, "{F") && !strings.Contains(f, "{T:")
}

// framePool is the current topic's own frames (specific) or the frames
// shared by all topics; for the neutral pool, the neutral frames.
func (e *expander) framePool(specific bool) []string {
	switch {
	case e.topic == nil && specific:
		return neutralFrames
	case e.topic == nil || !specific:
		return topicFrames
	}
	return e.topic.frames
}
