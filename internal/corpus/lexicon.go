package corpus

import "strings"

// words splits a word list written one entry per field; "_" joins the words
// of an entry ("next_to" is "next to").
func words(s string) []string {
	f := strings.Fields(s)
	for i, w := range f {
		f[i] = strings.ReplaceAll(w, "_", " ")
	}
	return f
}

// lists builds a name → word list table from alternating names and lists.
func lists(kv ...string) map[string][]string {
	m := make(map[string][]string, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = words(kv[i+1])
	}
	return m
}

// shared holds the general vocabulary every topic and the neutral pool use.
// Its "agent", "noun", "verb", "iverb", "adj", "mass" and "venue" stand in
// for a topic's lists of those names, so topicFrames also fill the neutral
// pool. Verbs are "walk", "stop/stopped" or "take/took/taken"; nouns "cup"
// or "knife/knives".
var shared = lists(
	"first", `Anna Ben Clara David Emma Felix Grace Hugo Iris Jack Kate Leo Maya Noah Olivia Paul Rosa
			Sam Tara Will Julia Marco Nina Omar Priya Sara Tom Alex Elena Kim Lucas Mia Nora Oscar
			Pablo Ruth Simon Theo`,
	"surname", `Smith Jones Brown Garcia Miller Davis Wilson Moore Taylor Clark Lewis Walker Young King
			Wright Hill Green Adams Baker Carter Mitchell Turner Parker Cook Bell Murphy Cooper
			Hughes Price Wood Kelly Silva Tanaka Müller`,
	"town", `Ashford Brookvale Clayton Dunmore Eastwick Fairhaven Glenrock Harrowgate Ivydale
			Kingsbridge Lakemont Millbrook Northfield Oakridge Pinecrest Queensport Riverton
			Stonehill Thornbury Westmere Willowby Belmont Foxley Greyhaven Marlow`,
	"day", "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
	"month", "January February March April May June July August September October November December",
	"person", `friend neighbor teacher student doctor nurse driver farmer family/families
			child/children parent mother father sister brother aunt uncle cousin grandmother
			grandfather baby kid man/men woman/women boy girl guest visitor stranger daughter son`,
	"thing", `book phone bag letter box key door window table chair bed car bus bike road street house
		room garden park shop school library bridge river hill tree flower dog cat bird cup glass
		plate picture camera map ticket story question idea plan problem reason message email note
		gift photo coat hat jacket umbrella`,
	"place", `park street square market library station office school hall corner village
		neighborhood café church garden playground bridge`,
	"gverb", `see/saw/seen find/found like love need want bring/brought take/took/taken make/made
			give/gave/given keep/kept hold/held carry open close clean fix call visit help watch
			show/showed/shown buy/bought read/read write/wrote/written send/sent meet/met remember
			forget/forgot/forgotten/forgetting finish start enjoy use wash ask hear/heard
			prefer/preferred`,
	"giverb", `arrive smile laugh wait sleep/slept sit/sat/sat/sitting stand/stood talk walk agree stay
		return hurry listen leave/left work worry/worried`,
	"speech", "said replied whispered explained added shouted announced complained laughed",
	"think", "think/thought say/said believe hear/heard know/knew/known feel/felt mention notice",
	"want", "want need plan/planned hope decide try/tried promise",
	"like", "like love enjoy hate remember miss prefer/preferred admire",
	"give", "give/gave/given send/sent lend/lent show/showed/shown bring/brought hand offer pass",
	"gadj", `good bad big small old new young long short great little large nice fine famous local
			important different special beautiful lovely perfect terrible wonderful amazing careful
			friendly kind brave proud lucky bright dark clean empty full expensive free ready real
			favorite usual quiet loud busy simple easy hard popular`,
	"feel", "happy tired hungry excited nervous proud bored calm worried surprised pleased glad sorry relieved curious thirsty cheerful sleepy",
	"adv", "quickly slowly carefully quietly happily suddenly finally again together alone outside loudly patiently gently proudly eagerly easily",
	"freq", "always often never sometimes usually rarely",
	"conn", `However Later Then Afterwards Meanwhile Still Luckily Sadly Of_course In_the_end
			At_first Also Unfortunately Fortunately Even_so`,
	"gmass", "money time water news advice work fun homework information paper",
	"objpro", "me you him her us them",
	"prep", "in at near behind outside next_to across by around inside beside",
)

func init() {
	for alias, name := range map[string]string{"agent": "person", "noun": "thing", "verb": "gverb",
		"iverb": "giverb", "adj": "gadj", "mass": "gmass", "venue": "place"} {
		shared[alias] = shared[name]
	}
}

// prepPhrases are where something happens ({PP}).
var prepPhrases = words(`{W:prep}_the_{n:venue} {W:prep}_the_{n:venue} {W:prep}_the_{n:venue}
	{W:prep}_the_{A}_{n:venue} in_{PLACE} with_{POSS}_{n:person} {W:prep}_the_{n:place}`)

// timePhrases are when, by tense, so that "yesterday" goes with the past.
var timePhrases = func() map[tense][]string {
	pastT := words(`yesterday last_week last_night on_{W:day} on_{W:day}_morning in_{W:month}
		{NUM}_days_ago two_years_ago that_morning that_evening last_summer last_winter in_{NUM:year}
		at_{NUM:clock} after_lunch before_dinner earlier_today over_the_weekend`)
	presentT := words(`every_day on_weekends every_{W:day} in_the_morning in_the_evening at_night
		today this_week now most_days after_work before_breakfast every_summer in_{W:month}`)
	futureT := words(`tomorrow next_week on_{W:day} this_weekend next_year in_{W:month} soon
		later_today at_{NUM:clock} in_{NUM}_days after_lunch tonight`)
	perfectT := words(`this_week this_year since_{W:day} since_{W:month} already recently
		for_{NUM}_years for_a_long_time twice_this_month`)
	return map[tense][]string{present: presentT, progressive: presentT, past: pastT,
		pastProgressive: pastT, future: futureT, perfect: perfectT}
}()

// topicFrames are filled with any topic's lists (agent, noun, verb, ...),
// and with the shared ones in the neutral pool.
var topicFrames = []string{
	"{S:agent} {V:verb} {N:noun} {PP}.",
	"{S} {V:verb} {N:noun} [{TIME}|].",
	"{S:agent} {V:iverb} {PP} [{TIME}|].",
	"{X:noun} {PP}.",
	"{S:noun} {BE} [very|quite|really|too|] {A}.",
	"{S} {V:want} to {v:verb} {N:noun} [{TIME}|].",
	"{S} {V:think} that {F}.",
	`"{Q}," {W:speech} the {n:agent}.`,
	`{NAME} {W:speech}, "{Q}."`,
	"{S} {V:verb} {M:mass} {PP}.",
	"{S} {BE} {A:feel} about the {A} {n:noun}.",
	"{T:past}{S} {d:verb} {N:noun} and then {d:verb} {N:noun}.",
	"{T:present}{S} {W:freq} {V:verb} {N:noun} [{PP}|].",
	"{S:agent} {V:think} {S:noun} {BE} {A}.",
	"{S} {V:verb} {NUM} {p:noun} [{TIME}|].",
	"{S} [really|] {V:like} the {A} {n:noun} {PP}.",
	"{S} {V:verb} {N:noun}, but {S} {V:verb} {N:noun}.",
	"{S:agent} {V:iverb} because {S:pro} {BE} {A:feel}.",
	"{T:past}when {S} {d:iverb}, {S} {d:verb} {N:noun}.",
	"{S} {V:give} {POSS} {n:person} {N:noun}.",
}

// neutralFrames are everyday sentences that belong to no topic.
var neutralFrames = []string{
	"{S} {V:gverb} {N:thing} {PP}.",
	"{S} {V:giverb} {PP} {TIME}.",
	"{S} {BE} {A:feel} because {S:pro} {V:gverb} {N:thing}.",
	"{S:names} {V:giverb} [together|for a while|] {TIME}.",
	"{T:past}{S} {d:gverb} {N:thing} and then {d:giverb}.",
	"{X:thing} {PP}.",
	"{S} {V:gverb} {POSS} {n:thing} [{TIME}|].",
	"{S} {V:want} to {v:gverb} {N:thing} {TIME}.",
	"{T:past}it was {W:gadj} to see {N:person} {PP}.",
	"{S} {V:give} {POSS} {n:person} {N:thing}.",
	"{S} {V:think} that {F}.",
	`"{Q}," {W:speech} {NAME}.`,
	`"{Q}," {NAME} {W:speech}.`,
	"{S} {BE} [very|quite|really|so|a little|] {A:feel} {TIME}.",
	"{S} {V:giverb} [{W:adv}|].",
	"{T:present}{S} {W:freq} {V:gverb} {N:thing} {TIME}.",
	"{S} {V:gverb} {N:thing}, but {S} {V:gverb} {N:thing}.",
	"{T:past}{NAME} {d:giverb} home {TIME}.",
	"the {n:person} {PP} {V:giverb} {W:adv}.",
	"{S} {V:gverb} {N:thing} because {S:pro} {BE} {A:feel}.",
	"{T:past}did {S} {v:gverb} the {n:thing} {TIME}?",
	"{T:future}will {S} {v:gverb} {N:thing} {TIME}?",
	"{T:past}{S} {d:giverb} for {NUM:min} minutes, then {d:gverb} {N:thing}.",
	"{S} {V:gverb} {N:thing} for {POSS} {n:person}.",
}
