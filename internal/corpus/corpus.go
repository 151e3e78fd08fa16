package corpus

import (
	"fmt"
	"strings"
)

// Doc is one generated document.
type Doc struct {
	Text  string // one paragraph of minWords to maxWords words
	Topic string // one of Topics()
}

// Topics lists the topic labels, in the order of their class ids.
func Topics() []string {
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.name
	}
	return names
}

// PCG streams: Generate and Pretraining draw from different streams, so a
// model pretrained on Pretraining(s, n) has not seen the documents of
// Generate(s, m) that a fine-tuning task evaluates on.
const (
	streamDocs     = 0x646f6373 // "docs"
	streamPretrain = 0x70726574 // "pret"
)

// Document length in words (strings.Fields): a few sentences to a short
// paragraph, short enough that a classifier sees the whole of it in 256
// GPT-2 tokens.
const (
	minWords = 40
	maxWords = 120
)

// Mixing profiles: how many of a document's sentences stray from its topic
// (to the neutral pool or to one other topic per document, so that strays
// agree with each other). Most documents stray a little, some more, and a
// few blend two topics nearly evenly, their first sentence from either: a
// short document can then be ambiguous, as real ones are, and no classifier
// reaches 100%. Strays are about 15% of the sentences after the first.
var mixes = []struct {
	share   float64 // of documents
	stray   float64 // share of sentences drawn from elsewhere
	neutral float64 // share of strays from the neutral pool
	first   bool    // the first sentence is always on topic
}{
	{0.70, 0.08, 0.5, true},  // focused
	{0.20, 0.25, 0.5, true},  // wandering
	{0.10, 0.45, 0.2, false}, // blended
}

// Generate returns n documents with topics drawn uniformly, deterministic in
// seed: the same seed gives the same documents, and Generate(seed, m) is a
// prefix of Generate(seed, n) for m ≤ n. It panics if n < 0.
func Generate(seed uint64, n int) []Doc {
	if n < 0 {
		panic(fmt.Sprintf("corpus: Generate: n = %d is negative", n))
	}
	r := newRNG(seed, streamDocs)
	docs := make([]Doc, n)
	for i := range docs {
		docs[i] = document(r)
	}
	return docs
}

// Pretraining returns running text for language-model pretraining:
// documents of all topics, separated by blank lines, until the text has at
// least nChars bytes (it overshoots by less than one document). It is
// deterministic in seed and shares no stream with Generate.
func Pretraining(seed uint64, nChars int) string {
	r := newRNG(seed, streamPretrain)
	var sb strings.Builder
	sb.Grow(nChars + 1024)
	for sb.Len() < nChars {
		if sb.Len() > 0 {
			sb.WriteString("\n\n")
		}
		sb.WriteString(document(r).Text)
	}
	return sb.String()
}

// document draws a topic, then sentences until a drawn length is reached.
func document(r *rng) Doc {
	i := r.intn(len(topics))
	j := r.intn(len(topics) - 1) // the other topic strays come from
	if j >= i {
		j++
	}
	t, other := topics[i], topics[j]
	mix := mixes[len(mixes)-1]
	u := r.float()
	for _, m := range mixes {
		if u < m.share {
			mix = m
			break
		}
		u -= m.share
	}
	base := []tense{past, past, past, past, past, present, present, present, future, future}[r.intn(10)]
	target := minWords + r.intn(maxWords-minWords+1)
	var sents []string
	words := 0
	used := map[string]bool{} // frames used, not to repeat one
	for words < target {
		from, specific := t, r.chance(0.55)
		if len(sents) == 0 && mix.first {
			specific = r.chance(0.7)
		} else if r.chance(mix.stray) {
			from = other
			if r.chance(mix.neutral) {
				from = nil
			}
		}
		s := sentence(r, from, specific, base, len(sents) > 0, used)
		n := len(strings.Fields(s))
		if words+n > maxWords && words >= minWords {
			break
		}
		sents = append(sents, s)
		words += n
	}
	return Doc{Text: strings.Join(sents, " "), Topic: t.name}
}

// sentence fills one frame of topic t (nil: the neutral pool), mostly in
// the document's tense, avoiding (a few tries) the frames in used.
func sentence(r *rng, t *topic, specific bool, base tense, connect bool, used map[string]bool) string {
	e := &expander{r: r, topic: t, agr: thirdSingular, tense: base}
	if r.chance(0.3) {
		e.tense = tense(r.intn(int(perfect) + 1))
	}
	pool := e.framePool(specific)
	f := r.pick(pool)
	for try := 0; try < 3 && used[f]; try++ {
		f = r.pick(pool)
	}
	used[f] = true
	f = strings.TrimPrefix(f, "*")
	e.negate = !strings.Contains(f, "{W:freq}") // not "always doesn't"
	if connect && !strings.HasPrefix(f, `"`) && strings.HasSuffix(f, ".") && r.chance(0.12) {
		f = "{W:conn}, " + f
	}
	var sb strings.Builder
	e.expand(f, &sb)
	return finish(r, sb.String())
}
