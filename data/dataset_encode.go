package data

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sparsetune/sparsetune/internal/parallel"
)

// templateProbe is encoded once to find how many special tokens
// EncodeForModel puts before and after the text. Any text that tokenizes to
// ordinary tokens works; punctuation and a space make it non-trivial for
// every family.
const templateProbe = "Hello, world"

// fingerprintProbe is encoded into the cache key so that a change in how the
// tokenizer code encodes (a fixed merge order, a new normaliser) invalidates
// cached datasets even when the tokenizer files are the same. It covers what
// such fixes usually touch: runs of spaces and punctuation, accents, CJK,
// digits, newlines and literal special tokens.
const fingerprintProbe = "Hello, world!!!!  It's 2024 —  naïve Café 東京\n\n\tx <|endoftext|> [SEP] <s></s> 12345 don't   "

// encoder turns records into the sequences of one task.
type encoder struct {
	tok    Tokenizer
	task   Task
	seqLen int
	// sep is the id appended after each causal LM document: EOS, else BOS.
	sep int
	// prefix and suffix count the special tokens EncodeForModel adds before
	// and after the text (classification).
	prefix, suffix int
	labels         map[string]int
	labelNames     []string
	fixedLabels    bool // labels came from Spec.Labels
}

// newEncoder checks that tok can serve the task with spec.SeqLen.
func newEncoder(spec Spec, tok Tokenizer) (*encoder, error) {
	e := &encoder{tok: tok, task: spec.Task, seqLen: spec.SeqLen}
	if tok.VocabSize() > math.MaxInt32 {
		return nil, fmt.Errorf("data: tokenizer %s has %d ids; the dataset stores ids as int32", tok.Name(), tok.VocabSize())
	}
	switch spec.Task {
	case CausalLM:
		e.sep = tok.EOS()
		if e.sep < 0 {
			e.sep = tok.BOS()
		}
		if e.sep < 0 {
			return nil, fmt.Errorf("data: tokenizer %s has neither an EOS nor a BOS token: causal LM needs one to separate documents", tok.Name())
		}
	case Classification:
		if err := e.probeTemplate(); err != nil {
			return nil, err
		}
		if spec.SeqLen <= e.prefix+e.suffix {
			return nil, fmt.Errorf("data: seq_len %d leaves no room for text: the tokenizer adds %d special tokens", spec.SeqLen, e.prefix+e.suffix)
		}
	}
	return e, nil
}

// probeTemplate finds the special tokens of EncodeForModel by locating the
// plain encoding of a probe inside the model encoding.
func (e *encoder) probeTemplate() error {
	plain, err := e.tok.Encode(templateProbe)
	if err != nil {
		return fmt.Errorf("data: tokenizer %s: encoding %q: %w", e.tok.Name(), templateProbe, err)
	}
	full, err := EncodeForModel(e.tok, templateProbe)
	if err != nil {
		return fmt.Errorf("data: tokenizer %s: encoding %q: %w", e.tok.Name(), templateProbe, err)
	}
	for pre := 0; pre+len(plain) <= len(full); pre++ {
		if slices.Equal(full[pre:pre+len(plain)], plain) {
			e.prefix, e.suffix = pre, len(full)-len(plain)-pre
			return nil
		}
	}
	return fmt.Errorf("data: tokenizer %s: EncodeForModel(%q) = %v does not contain Encode's %v, so its special tokens cannot be told apart", e.tok.Name(), templateProbe, full, plain)
}

// setLabels installs the label map (classification). fixed says it came
// from Spec.Labels, which changes the message for an unknown training label.
func (e *encoder) setLabels(names []string, fixed bool) {
	e.labelNames, e.fixedLabels = names, fixed
	e.labels = make(map[string]int, len(names))
	for i, n := range names {
		e.labels[n] = i
	}
}

// fingerprint describes how the tokenizer behaves, for the cache key.
func (e *encoder) fingerprint() string {
	t := e.tok
	ids, err := t.Encode(fingerprintProbe)
	return fmt.Sprintf("%s|V=%d|bos=%d eos=%d pad=%d cls=%d sep=%d unk=%d|template=%d+%d|%v|%v",
		t.Name(), t.VocabSize(), t.BOS(), t.EOS(), t.PAD(), t.CLS(), t.SEP(), t.UNK(), e.prefix, e.suffix, ids, err)
}

// split tokenizes the records of one split read from path.
func (e *encoder) split(name, path string, recs []Record) (*Split, SplitReport, error) {
	if e.task == CausalLM {
		return e.lmSplit(name, path, recs)
	}
	return e.classSplit(name, path, recs)
}

// lmSplit encodes each document, appends the separator, concatenates them
// in file order and cuts blocks of exactly seqLen tokens; the last partial
// block is dropped, as run_clm's group_texts does.
func (e *encoder) lmSplit(name, path string, recs []Record) (*Split, SplitReport, error) {
	docs, err := e.encodeAll(path, recs, e.tok.Encode)
	if err != nil {
		return nil, SplitReport{}, err
	}
	T := e.seqLen
	s := &Split{Name: name}
	rep := SplitReport{Records: len(recs)}
	blocksIn := make([]int, len(recs)) // blocks started in each document so far
	cur, start := make([]int, 0, T), 0
	push := func(id, doc int) {
		if len(cur) == 0 {
			start = doc
		}
		cur = append(cur, id)
		if len(cur) == T {
			s.Seqs = append(s.Seqs, cur)
			s.IDs = append(s.IDs, recs[start].ID+"#"+strconv.Itoa(blocksIn[start]))
			blocksIn[start]++
			cur = make([]int, 0, T)
		}
	}
	for d, doc := range docs {
		for _, id := range doc {
			push(id, d)
		}
		push(e.sep, d)
		docs[d] = nil // let the document's ids go as soon as they are packed
	}
	rep.Seqs, rep.Tokens, rep.DroppedTokens = len(s.Seqs), len(s.Seqs)*T, len(cur)
	if len(s.Seqs) == 0 {
		return nil, rep, fmt.Errorf("%s: the %s split's %d document(s) give %d tokens, fewer than one block of seq_len %d: lower seq_len or add text",
			path, name, len(recs), len(cur), T)
	}
	return s, rep, nil
}

// classSplit maps labels and encodes each record with the model's special
// tokens, cutting sequences longer than seqLen to their first
// seqLen-suffix tokens plus the suffix (e.g. BERT's [SEP]).
func (e *encoder) classSplit(name, path string, recs []Record) (*Split, SplitReport, error) {
	s := &Split{Name: name, Labels: make([]int, len(recs)), IDs: make([]string, len(recs))}
	for i, r := range recs {
		id, ok := e.labels[r.Label]
		if !ok {
			where := "a training label"
			if e.fixedLabels {
				where = "among the model's labels"
			}
			return nil, SplitReport{}, fmt.Errorf("%s:%d: label %q is not %s; known labels: %s",
				path, r.Line, r.Label, where, strings.Join(e.labelNames, ", "))
		}
		s.Labels[i], s.IDs[i] = id, r.ID
	}
	seqs, err := e.encodeAll(path, recs, func(text string) ([]int, error) { return EncodeForModel(e.tok, text) })
	if err != nil {
		return nil, SplitReport{}, err
	}
	rep := SplitReport{Records: len(recs), Seqs: len(recs)}
	T := e.seqLen
	for i, ids := range seqs {
		if len(ids) > T {
			cut := make([]int, T) // a fresh slice, so the long original can be freed
			copy(cut, ids[:T-e.suffix])
			copy(cut[T-e.suffix:], ids[len(ids)-e.suffix:])
			seqs[i] = cut
			rep.Truncated++
		}
		rep.Tokens += len(seqs[i])
	}
	s.Seqs = seqs
	return s, rep, nil
}

// encodeAll runs encode on every record's text on parallel.Workers()
// goroutines and returns the ids in record order. The error is that of the
// first failing record in file order, whatever the scheduling: workers stop
// taking records after the first failure they know of, but every record
// before it is still encoded.
func (e *encoder) encodeAll(path string, recs []Record, encode func(string) ([]int, error)) ([][]int, error) {
	out := make([][]int, len(recs))
	errs := make([]error, len(recs))
	var next atomic.Int64
	var firstFail atomic.Int64
	firstFail.Store(int64(len(recs)))
	V := e.tok.VocabSize()
	var wg sync.WaitGroup
	for range min(parallel.Workers(), len(recs)) {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= firstFail.Load() {
					return
				}
				ids, err := encode(recs[i].Text)
				if err == nil {
					err = checkIDs(ids, V)
				}
				if err != nil {
					errs[i] = err
					storeMin(&firstFail, i)
					return
				}
				out[i] = ids
			}
		})
	}
	wg.Wait()
	if f := firstFail.Load(); f < int64(len(recs)) {
		return nil, fmt.Errorf("%s:%d: tokenizing: %s", path, recs[f].Line, oneLine(errs[f].Error()))
	}
	return out, nil
}

// checkIDs guards the embedding lookup (and the int32 cache) against a
// tokenizer that returns ids outside its vocabulary.
func checkIDs(ids []int, V int) error {
	for _, id := range ids {
		if id < 0 || id >= V {
			return fmt.Errorf("the tokenizer gave id %d, outside its vocabulary of %d", id, V)
		}
	}
	return nil
}

// storeMin lowers v to x when x is smaller.
func storeMin(v *atomic.Int64, x int64) {
	for {
		cur := v.Load()
		if x >= cur || v.CompareAndSwap(cur, x) {
			return
		}
	}
}
