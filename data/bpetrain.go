package data

import (
	"bytes"
	"container/heap"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/sparsetune/sparsetune/internal/atomicfile"
)

// BPEVocab is a trained byte-level BPE: token strings use GPT-2's
// byte-to-unicode mapping (byteLevelAlphabet), so "Ġthe" is " the".
//
// Vocab maps each token to its id: the 256 byte tokens first, ordered by
// character as in GPT-2's vocab.json ("!" is 0), then one token per merge in
// merge order, then "<|endoftext|>" as the last id. Merges lists the learned
// merges, highest priority first; merging Merges[i] creates id 256+i.
type BPEVocab struct {
	Vocab  map[string]int
	Merges [][2]string
}

// gpt2EndOfText is GPT-2's only special token; LoadTokenizer makes it BOS,
// EOS and UNK.
const gpt2EndOfText = "<|endoftext|>"

// TrainBPE learns byte-level BPE merges from texts until the vocabulary has
// vocabSize entries: 256 byte tokens, vocabSize-257 merges and
// "<|endoftext|>" as the last id (vocabSize-1).
//
// Texts are cut as LoadTokenizer's GPT-2 pipeline cuts them: around literal
// "<|endoftext|>" (which is never merged into), then into pre-tokens by
// GPT-2's regex (gpt2Match). Pre-token frequencies are counted once; each
// round merges the most frequent adjacent pair, ties going to the
// lexicographically smallest pair (left token, then right token, compared as
// byte-level strings), and only the words that hold the pair are updated.
//
// Every merge makes a new token. In BPE applied merge by merge, a symbol's
// contents evolve exactly as its string would alone (the neighbours can
// never take part of it), so a string is always built by the same last
// merge and no pair can rebuild an existing token; mergeBest checks this all
// the same, since vocab.json can hold a string only once. It follows that
// every merge's parts are older than the merge, so no merge creates a pair
// of lower rank: applying the merges one after another to a word (the
// trainer's segmentation) gives what LoadTokenizer's lowest-rank-first
// merging gives, for any text.
//
// It returns an error when vocabSize < 257, when texts hold no text, or when
// they run out of pairs before the vocabulary is full.
func TrainBPE(texts []string, vocabSize int) (*BPEVocab, error) {
	if vocabSize < 257 {
		return nil, fmt.Errorf("data: TrainBPE: vocabSize %d is below 257, the 256 byte tokens plus %s", vocabSize, gpt2EndOfText)
	}
	if vocabSize-1 > 1<<31-1 {
		return nil, fmt.Errorf("data: TrainBPE: vocabSize %d is too large", vocabSize)
	}
	t := newBPETrainer(countPreTokens(texts))
	if len(t.words) == 0 {
		return nil, fmt.Errorf("data: TrainBPE: the %d texts hold no text to train on", len(texts))
	}
	for len(t.tokens) < vocabSize-1 {
		if !t.mergeBest() {
			return nil, fmt.Errorf("data: TrainBPE: the texts allow only %d merges, so the vocabulary stops at %d of the %d tokens asked for: give more text or a smaller vocabSize",
				len(t.merges), len(t.tokens)+1, vocabSize)
		}
	}
	v := &BPEVocab{Vocab: make(map[string]int, vocabSize), Merges: make([][2]string, len(t.merges))}
	for id, tok := range t.tokens {
		v.Vocab[tok] = id
	}
	v.Vocab[gpt2EndOfText] = len(t.tokens)
	for i, m := range t.merges {
		v.Merges[i] = [2]string{t.tokens[m[0]], t.tokens[m[1]]}
	}
	return v, nil
}

// countPreTokens returns how often each GPT-2 pre-token occurs in texts,
// skipping literal "<|endoftext|>" as the loaded tokenizer does.
func countPreTokens(texts []string) map[string]int64 {
	counts := map[string]int64{}
	for _, text := range texts {
		for piece := range strings.SplitSeq(text, gpt2EndOfText) {
			for i := 0; i < len(piece); {
				n := gpt2Match(piece, i)
				counts[piece[i:i+n]]++
				i += n
			}
		}
	}
	return counts
}

// bpeTrainer holds the training state. A pair of token ids (left, right) is
// keyed as left<<32 | right.
type bpeTrainer struct {
	tokens  []string         // id → byte-level token string
	known   map[string]bool  // tokens as a set
	merges  [][2]int32       // learned merges in order
	words   [][]int32        // unique pre-tokens as current symbol ids
	counts  []int64          // occurrences of each word in the texts
	pairs   map[uint64]int64 // pair → occurrences over all words
	where   map[uint64][]int32
	queue   pairQueue
	visited []int // per word: the merge number that last visited it
}

func pairKey(a, b int32) uint64 { return uint64(a)<<32 | uint64(uint32(b)) }

// newBPETrainer spells each pre-token in byte tokens and counts the pairs.
func newBPETrainer(counts map[string]int64) *bpeTrainer {
	t := &bpeTrainer{known: map[string]bool{}, pairs: map[uint64]int64{}, where: map[uint64][]int32{}}
	// Byte tokens ordered by character, as GPT-2's vocab.json orders them.
	var byteID [256]int32
	order := make([]int, 256)
	for b := range order {
		order[b] = b
	}
	slices.SortFunc(order, func(x, y int) int { return strings.Compare(byteLevelAlphabet[x], byteLevelAlphabet[y]) })
	for id, b := range order {
		byteID[b] = int32(id)
		t.tokens = append(t.tokens, byteLevelAlphabet[b])
		t.known[byteLevelAlphabet[b]] = true
	}
	// Sorted so that word indices, and with them every slice below, do not
	// depend on map order.
	raw := make([]string, 0, len(counts))
	for w := range counts {
		raw = append(raw, w)
	}
	slices.Sort(raw)
	t.words = make([][]int32, len(raw))
	t.counts = make([]int64, len(raw))
	t.visited = make([]int, len(raw))
	for i, w := range raw {
		syms := make([]int32, len(w))
		for j := 0; j < len(w); j++ {
			syms[j] = byteID[w[j]]
		}
		t.words[i], t.counts[i], t.visited[i] = syms, counts[w], -1
		for j := 0; j+1 < len(syms); j++ {
			t.add(pairKey(syms[j], syms[j+1]), int32(i), counts[w])
		}
	}
	t.queue = pairQueue{entries: make([]pairEntry, 0, len(t.pairs)), tokens: &t.tokens}
	for k, c := range t.pairs {
		t.queue.entries = append(t.queue.entries, pairEntry{key: k, count: c})
	}
	heap.Init(&t.queue)
	return t
}

// add adds n occurrences of pair k in word w.
func (t *bpeTrainer) add(k uint64, w int32, n int64) {
	t.pairs[k] += n
	if ws := t.where[k]; len(ws) == 0 || ws[len(ws)-1] != w {
		t.where[k] = append(ws, w)
	}
}

// sub removes n occurrences of pair k, forgetting pairs that are gone.
func (t *bpeTrainer) sub(k uint64, n int64) {
	if t.pairs[k] -= n; t.pairs[k] <= 0 {
		delete(t.pairs, k)
		delete(t.where, k)
	}
}

// mergeBest merges the most frequent pair; false when no pair is left.
func (t *bpeTrainer) mergeBest() bool {
	for t.queue.Len() > 0 {
		e := heap.Pop(&t.queue).(pairEntry)
		c := t.pairs[e.key]
		if c != e.count { // stale: counts only fall, so re-queue the true count
			if c > 0 {
				e.count = c
				heap.Push(&t.queue, e)
			}
			continue
		}
		a, b := int32(e.key>>32), int32(uint32(e.key))
		tok := t.tokens[a] + t.tokens[b]
		if t.known[tok] {
			continue // cannot happen (see TrainBPE); never write a token twice
		}
		t.apply(a, b, tok)
		return true
	}
	return false
}

// apply merges (a, b) into a new token in every word that holds the pair,
// updating the pair counts around each merge, then queues the new pairs.
func (t *bpeTrainer) apply(a, b int32, tok string) {
	z := int32(len(t.tokens))
	t.tokens = append(t.tokens, tok)
	t.known[tok] = true
	t.merges = append(t.merges, [2]int32{a, b})
	round := len(t.merges)
	key := pairKey(a, b)
	fresh := map[uint64]bool{} // pairs with z
	for _, w := range t.where[key] {
		if t.visited[w] == round {
			continue
		}
		t.visited[w] = round
		syms, n := t.words[w], t.counts[w]
		k := 0 // syms[:k] is the merged word so far, written in place
		for i := 0; i < len(syms); i++ {
			if i+1 < len(syms) && syms[i] == a && syms[i+1] == b {
				// Left neighbour: it may be a z from the previous merge,
				// whose pair (z, a) the right-neighbour step added.
				if k > 0 {
					t.sub(pairKey(syms[k-1], a), n)
					t.add(pairKey(syms[k-1], z), w, n)
					fresh[pairKey(syms[k-1], z)] = true
				}
				if i+2 < len(syms) {
					t.sub(pairKey(b, syms[i+2]), n)
					t.add(pairKey(z, syms[i+2]), w, n)
					fresh[pairKey(z, syms[i+2])] = true
				}
				t.sub(key, n)
				syms[k] = z
				i++
			} else {
				syms[k] = syms[i]
			}
			k++
		}
		t.words[w] = syms[:k]
	}
	delete(t.where, key)
	for k := range fresh {
		if c := t.pairs[k]; c > 0 {
			heap.Push(&t.queue, pairEntry{key: k, count: c})
		}
	}
}

// pairEntry is a queued pair with its count when queued.
type pairEntry struct {
	key   uint64
	count int64
}

// pairQueue is a max-heap: highest count first, then the lexicographically
// smallest (left, right) token strings.
type pairQueue struct {
	entries []pairEntry
	tokens  *[]string // the trainer's id → token table
}

func (q *pairQueue) Len() int { return len(q.entries) }
func (q *pairQueue) Less(i, j int) bool {
	x, y := q.entries[i], q.entries[j]
	if x.count != y.count {
		return x.count > y.count
	}
	tok := *q.tokens
	if c := strings.Compare(tok[x.key>>32], tok[y.key>>32]); c != 0 {
		return c < 0
	}
	return tok[uint32(x.key)] < tok[uint32(y.key)]
}
func (q *pairQueue) Swap(i, j int) { q.entries[i], q.entries[j] = q.entries[j], q.entries[i] }
func (q *pairQueue) Push(x any)    { q.entries = append(q.entries, x.(pairEntry)) }
func (q *pairQueue) Pop() any {
	x := q.entries[len(q.entries)-1]
	q.entries = q.entries[:len(q.entries)-1]
	return x
}

// WriteGPT2Files writes dir/vocab.json and dir/merges.txt, creating dir if
// needed, in the format of GPT-2's own files so that LoadTokenizer(dir) loads
// them: vocab.json is one JSON object ordered by id, with non-ASCII
// characters escaped as Python's json.dumps does; merges.txt is the line
// "#version: 0.2" and then one "left right" line per merge. Each file is
// replaced atomically (merges.txt first); a crash between the two can leave
// a new merges.txt beside an old vocab.json.
//
// It returns an error if ids are not 0..len(Vocab)-1 each used once, or if a
// merge names a token that is not in Vocab or cannot be written on a
// merges.txt line.
func (v *BPEVocab) WriteGPT2Files(dir string) error {
	vocabJSON, err := v.vocabJSON()
	if err != nil {
		return fmt.Errorf("data: writing %s to %q: %w", tokenizerVocabJSON, dir, err)
	}
	merges, err := v.mergesTXT()
	if err != nil {
		return fmt.Errorf("data: writing %s to %q: %w", tokenizerMerges, dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("data: creating tokenizer directory: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, tokenizerMerges), merges, 0o644); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, tokenizerVocabJSON), vocabJSON, 0o644)
}

// vocabJSON encodes Vocab as GPT-2's vocab.json: {"!": 0, "\"": 1, ...}.
func (v *BPEVocab) vocabJSON() ([]byte, error) {
	if v == nil || len(v.Vocab) == 0 {
		return nil, fmt.Errorf("the vocabulary is empty")
	}
	byID := make([]string, len(v.Vocab))
	set := make([]bool, len(v.Vocab))
	for tok, id := range v.Vocab {
		if id < 0 || id >= len(byID) {
			return nil, fmt.Errorf("token %q has id %d, outside 0..%d", tok, id, len(byID)-1)
		}
		if set[id] {
			return nil, fmt.Errorf("tokens %q and %q share id %d", byID[id], tok, id)
		}
		if !utf8.ValidString(tok) {
			return nil, fmt.Errorf("token %q is not valid UTF-8", tok)
		}
		byID[id], set[id] = tok, true
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for id, tok := range byID {
		if id > 0 {
			b.WriteString(", ")
		}
		writePythonJSONString(&b, tok)
		fmt.Fprintf(&b, ": %d", id)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// mergesTXT encodes Merges as GPT-2's merges.txt.
func (v *BPEVocab) mergesTXT() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("#version: 0.2\n")
	for i, m := range v.Merges {
		for _, tok := range m {
			if _, ok := v.Vocab[tok]; !ok {
				return nil, fmt.Errorf("merge %d (%q %q): token %q is not in the vocabulary", i, m[0], m[1], tok)
			}
			if tok == "" || strings.ContainsAny(tok, " \r\n") {
				return nil, fmt.Errorf("merge %d (%q %q): token %q is empty or holds a space or line break", i, m[0], m[1], tok)
			}
		}
		if _, ok := v.Vocab[m[0]+m[1]]; !ok {
			return nil, fmt.Errorf("merge %d (%q %q): the merged token %q is not in the vocabulary", i, m[0], m[1], m[0]+m[1])
		}
		b.WriteString(m[0])
		b.WriteByte(' ')
		b.WriteString(m[1])
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// writePythonJSONString writes s as Python's json.dumps (ensure_ascii=True)
// does, which is how GPT-2's vocab.json is written: ASCII kept, except " and
// \ and control characters; everything else as \uXXXX, with surrogate pairs
// above U+FFFF.
func writePythonJSONString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	u := func(r rune) {
		b.WriteString(`\u`)
		for shift := 12; shift >= 0; shift -= 4 {
			b.WriteByte(hex[r>>shift&0xf])
		}
	}
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || r > 0x7e && r < 0x10000:
			u(r)
		case r >= 0x10000:
			r -= 0x10000
			u(0xd800 + r>>10)
			u(0xdc00 + r&0x3ff)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}
