package data

import (
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/sugarme/tokenizer/model/bpe"
)

// bpeModel applies BPE merges to one word. The vocabulary and the merge table
// (pair of ids → rank and merged id) are the ones github.com/sugarme/tokenizer
// builds from vocab.json+merges.txt or tokenizer.json; the merging itself is
// ours because the library's (model/bpe.Word.MergeAll) breaks ties between
// equal ranks by an unset timestamp instead of by position, so a word that
// holds the same pair several times ("!!!!!!") merges in the wrong order, and
// because the library has no byte fallback.
//
// The algorithm is Hugging Face's (tokenizers/src/models/bpe/word.rs): a
// priority queue of candidate merges ordered by rank, then by leftmost
// position; stale entries are skipped when popped.
type bpeModel struct {
	vocab  map[string]int
	merges bpe.Merges

	unk     int  // id of the unknown token, -1 when there is none
	fuseUnk bool // consecutive unknown characters give one unk id

	// byteFallback maps a character that is not in the vocabulary to the
	// ids of its UTF-8 bytes, the tokens <0x00>..<0xFF> (SentencePiece BPE:
	// LLaMA, Mistral). byteIDs holds those ids, -1 where the vocabulary
	// lacks one.
	byteFallback bool
	byteIDs      [256]int

	// ignoreMerges returns a word that is in the vocabulary as one token
	// without merging (tokenizer.json "ignore_merges", LLaMA-3).
	ignoreMerges bool

	cache bpeCache
}

// newBPEModel wraps a vocabulary and merge table. unk may be "" for none.
func newBPEModel(vocab map[string]int, merges bpe.Merges, unk string, fuseUnk, byteFallback, ignoreMerges bool) (*bpeModel, error) {
	m := &bpeModel{vocab: vocab, merges: merges, unk: -1, fuseUnk: fuseUnk,
		byteFallback: byteFallback, ignoreMerges: ignoreMerges}
	if unk != "" {
		id, ok := vocab[unk]
		if !ok {
			return nil, fmt.Errorf("unk_token %q is not in the vocabulary", unk)
		}
		m.unk = id
	}
	for b := range m.byteIDs {
		m.byteIDs[b] = -1
		if id, ok := vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		}
	}
	return m, nil
}

// bpeSymbol is one symbol of a word being merged: a doubly linked list over
// the initial symbol positions; n == 0 marks a symbol merged into its left
// neighbour.
type bpeSymbol struct {
	id         int
	prev, next int // neighbour positions, -1 at the ends
	n          int // bytes of the word covered
}

// bpeCandidate is a possible merge of the symbol at pos with its right
// neighbour.
type bpeCandidate struct{ pos, rank, id int }

// bpeQueue is a binary min-heap of candidates: lowest rank first, then
// leftmost. It is typed rather than container/heap, whose interface calls
// doubled the time to encode a long SentencePiece text (one word).
type bpeQueue []bpeCandidate

func bpeLess(a, b bpeCandidate) bool {
	return a.rank < b.rank || a.rank == b.rank && a.pos < b.pos
}

func (q *bpeQueue) push(c bpeCandidate) {
	h := append(*q, c)
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !bpeLess(h[i], h[parent]) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
	*q = h
}

func (q *bpeQueue) pop() bpeCandidate {
	h := *q
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		least, l, r := i, 2*i+1, 2*i+2
		if l < n && bpeLess(h[l], h[least]) {
			least = l
		}
		if r < n && bpeLess(h[r], h[least]) {
			least = r
		}
		if least == i {
			break
		}
		h[i], h[least] = h[least], h[i]
		i = least
	}
	*q = h
	return top
}

// encodeWord implements wordModel.
func (m *bpeModel) encodeWord(dst []int, word string) ([]int, error) {
	if m.ignoreMerges {
		if id, ok := m.vocab[word]; ok {
			return append(dst, id), nil
		}
	}
	if ids, ok := m.cache.get(word); ok {
		return append(dst, ids...), nil
	}
	syms := m.initialSymbols(word)
	m.merge(syms)
	start := len(dst)
	for _, s := range syms {
		if s.n > 0 {
			dst = append(dst, s.id)
		}
	}
	m.cache.put(word, dst[start:])
	return dst, nil
}

// initialSymbols splits word into characters and looks each up, falling back
// to byte tokens, then to the unknown token; a character with neither is
// dropped, as Hugging Face does.
func (m *bpeModel) initialSymbols(word string) []bpeSymbol {
	syms := make([]bpeSymbol, 0, len(word))
	add := func(id, n int) {
		syms = append(syms, bpeSymbol{id: id, prev: len(syms) - 1, next: len(syms) + 1, n: n})
	}
	lastUnk := false
	for i := 0; i < len(word); {
		_, size := utf8.DecodeRuneInString(word[i:])
		c := word[i : i+size]
		i += size
		if id, ok := m.vocab[c]; ok {
			add(id, size)
			lastUnk = false
			continue
		}
		if m.byteFallback && m.hasBytes(c) {
			for j := 0; j < len(c); j++ {
				add(m.byteIDs[c[j]], 1)
			}
			lastUnk = false
			continue
		}
		if m.unk < 0 {
			continue
		}
		if m.fuseUnk && lastUnk {
			syms[len(syms)-1].n += size
			continue
		}
		add(m.unk, size)
		lastUnk = true
	}
	if len(syms) > 0 {
		syms[len(syms)-1].next = -1
	}
	return syms
}

func (m *bpeModel) hasBytes(c string) bool {
	for j := 0; j < len(c); j++ {
		if m.byteIDs[c[j]] < 0 {
			return false
		}
	}
	return true
}

// merge applies merges to syms in place until none applies.
func (m *bpeModel) merge(syms []bpeSymbol) {
	if len(syms) < 2 {
		return
	}
	q := make(bpeQueue, 0, len(syms))
	for i := 0; i+1 < len(syms); i++ {
		if pv, ok := m.merges[bpe.Pair{C1: syms[i].id, C2: syms[i+1].id}]; ok {
			q.push(bpeCandidate{pos: i, rank: pv.Rank, id: pv.NewId})
		}
	}
	for len(q) > 0 {
		top := q.pop()
		s := &syms[top.pos]
		if s.n == 0 || s.next < 0 {
			continue
		}
		right := syms[s.next]
		// Skip entries made stale by an earlier merge.
		pv, ok := m.merges[bpe.Pair{C1: s.id, C2: right.id}]
		if !ok || pv.NewId != top.id {
			continue
		}
		rightPos := s.next
		s.id, s.n, s.next = top.id, s.n+right.n, right.next
		syms[rightPos].n = 0
		if right.next >= 0 {
			syms[right.next].prev = top.pos
		}
		if s.prev >= 0 {
			if pv, ok := m.merges[bpe.Pair{C1: syms[s.prev].id, C2: s.id}]; ok {
				q.push(bpeCandidate{pos: s.prev, rank: pv.Rank, id: pv.NewId})
			}
		}
		if s.next >= 0 {
			if pv, ok := m.merges[bpe.Pair{C1: s.id, C2: syms[s.next].id}]; ok {
				q.push(bpeCandidate{pos: top.pos, rank: pv.Rank, id: pv.NewId})
			}
		}
	}
}

// bpeCache remembers the ids of short words: natural text repeats words, and
// merging is the costly step. It is emptied when full rather than evicting
// one entry at a time, which keeps it simple and bounded.
type bpeCache struct {
	mu sync.RWMutex
	m  map[string][]int
}

const (
	bpeCacheMaxWord    = 64      // bytes; longer words are not cached
	bpeCacheMaxEntries = 1 << 16 // ~ a few MB of ids
)

func (c *bpeCache) get(word string) ([]int, bool) {
	if len(word) > bpeCacheMaxWord {
		return nil, false
	}
	c.mu.RLock()
	ids, ok := c.m[word]
	c.mu.RUnlock()
	return ids, ok
}

func (c *bpeCache) put(word string, ids []int) {
	if len(word) > bpeCacheMaxWord {
		return
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= bpeCacheMaxEntries {
		c.m = make(map[string][]int)
	}
	c.m[word] = append([]int(nil), ids...)
	c.mu.Unlock()
}
