package data

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// Tokenizer turns text into token ids and back. Implementations are safe for
// concurrent use.
type Tokenizer interface {
	// Encode returns the ids of text with no special tokens added, as Hugging
	// Face's tokenizer.encode(text, add_special_tokens=False) does. Special
	// tokens written literally in text (e.g. "<|endoftext|>") map to their ids.
	Encode(text string) ([]int, error)
	// Decode turns ids back into text. Special tokens are kept; ids outside
	// the vocabulary are skipped.
	Decode(ids []int) string
	// VocabSize is one more than the largest id the tokenizer can produce,
	// i.e. the number of rows the embedding needs (V).
	VocabSize() int

	// Special ids, -1 when the tokenizer has none.
	BOS() int
	EOS() int
	PAD() int
	CLS() int
	SEP() int
	UNK() int

	// Name says which kind of tokenizer was loaded from which files, e.g.
	// "gpt2-bpe (vocab.json+merges.txt)".
	Name() string
}

// Files that LoadTokenizer looks for, in order of preference.
const (
	tokenizerJSONFile   = "tokenizer.json"
	tokenizerVocabJSON  = "vocab.json"
	tokenizerMerges     = "merges.txt"
	tokenizerVocabTXT   = "vocab.txt"
	tokenizerConfigFile = "tokenizer_config.json"
	specialTokensMap    = "special_tokens_map.json"
)

// LoadTokenizer loads the tokenizer of a Hugging Face model directory. It uses
// tokenizer.json when present, else vocab.json+merges.txt (GPT-2 byte-level
// BPE), else vocab.txt (BERT WordPiece, honouring tokenizer_config.json's
// do_lower_case, strip_accents and tokenize_chinese_chars). Special tokens
// come from tokenizer_config.json or special_tokens_map.json when present,
// else from the names the family uses ([CLS], <s>, <|endoftext|>, ...).
//
// Errors name the directory and the missing or malformed file. A file that
// makes github.com/sugarme/tokenizer panic gives an error, not a panic.
func LoadTokenizer(dir string) (Tokenizer, error) {
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("data: tokenizer directory %q does not exist", dir)
		}
		return nil, fmt.Errorf("data: tokenizer directory %q: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("data: tokenizer path %q is a file, want a Hugging Face model directory", dir)
	}
	has := func(name string) bool {
		st, err := os.Stat(filepath.Join(dir, name))
		return err == nil && !st.IsDir()
	}
	switch {
	case has(tokenizerJSONFile):
		return loadTokenizerJSON(dir)
	case has(tokenizerVocabJSON) && has(tokenizerMerges):
		return loadGPT2(dir)
	case has(tokenizerVocabJSON) && !has(tokenizerVocabTXT):
		return nil, fmt.Errorf("data: tokenizer directory %q has vocab.json but no merges.txt: GPT-2 BPE needs both files", dir)
	case has(tokenizerMerges) && !has(tokenizerVocabTXT):
		return nil, fmt.Errorf("data: tokenizer directory %q has merges.txt but no vocab.json: GPT-2 BPE needs both files", dir)
	case has(tokenizerVocabTXT):
		return loadBERT(dir)
	}
	return nil, fmt.Errorf("data: tokenizer directory %q has no tokenizer.json, vocab.json+merges.txt or vocab.txt: copy the tokenizer files of a Hugging Face model there", dir)
}

// EncodeForModel encodes text and adds the special tokens that the model
// family expects around a single sequence: [CLS] x [SEP] for BERT, <s> x for
// LLaMA 2 and Mistral, <|begin_of_text|> x for LLaMA 3, nothing for GPT-2 and
// Qwen. Tokenizers from LoadTokenizer use the template of their
// tokenizer.json post_processor when there is one. For any
// other Tokenizer the rule is: CLS and SEP when it has both, else BOS when it
// has one distinct from EOS (GPT-2 uses <|endoftext|> for both and adds
// nothing), else nothing.
func EncodeForModel(t Tokenizer, text string) ([]int, error) {
	ids, err := t.Encode(text)
	if err != nil {
		return nil, err
	}
	var prefix, suffix []int
	if tt, ok := t.(interface{ template() (prefix, suffix []int) }); ok {
		prefix, suffix = tt.template()
	} else {
		prefix, suffix = defaultTemplate(t)
	}
	out := make([]int, 0, len(prefix)+len(ids)+len(suffix))
	out = append(out, prefix...)
	out = append(out, ids...)
	return append(out, suffix...), nil
}

// defaultTemplate is EncodeForModel's rule for tokenizers without a template.
func defaultTemplate(t Tokenizer) (prefix, suffix []int) {
	switch {
	case t.CLS() >= 0 && t.SEP() >= 0:
		return []int{t.CLS()}, []int{t.SEP()}
	case t.BOS() >= 0 && t.BOS() != t.EOS():
		return []int{t.BOS()}, nil
	}
	return nil, nil
}

// EncodeBatch encodes texts on up to GOMAXPROCS goroutines and returns the ids
// in input order. It replaces the library's Tokenizer.EncodeBatch, which
// calls os.Exit when one text fails; here the first error is returned and
// names the text's index.
func EncodeBatch(t Tokenizer, texts []string) ([][]int, error) {
	out := make([][]int, len(texts))
	errs := make([]error, len(texts))
	workers := min(runtime.GOMAXPROCS(0), len(texts))
	var next atomic.Int64 // index of the next text to encode
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := int(next.Add(1) - 1); j < len(texts); j = int(next.Add(1) - 1) {
				out[j], errs[j] = t.Encode(texts[j])
			}
		}()
	}
	wg.Wait()
	for j, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("data: encoding text %d: %w", j, err)
		}
	}
	return out, nil
}

// wordModel turns one pre-tokenised word into ids, appending to dst.
type wordModel interface {
	encodeWord(dst []int, word string) ([]int, error)
}

// pipeline is the Tokenizer that LoadTokenizer returns. Encode runs
//
//	split out added tokens → normalise each piece → split out normalised
//	added tokens → pre-tokenise → model
//
// as Hugging Face tokenizers does. It is immutable after loading (the BPE
// cache locks itself), so it is safe for concurrent use.
type pipeline struct {
	name           string
	idToToken      []string // id → token, "" for unused ids; len is VocabSize
	special        specialIDs
	prefix, suffix []int // EncodeForModel template
	hasTemplate    bool
	added          addedTokens
	normalize      func(string) string                          // nil: identity
	preTokenize    func(pieces []string, atStart bool) []string // nil: one word
	model          wordModel
	decode         func(tokens []string) string
}

// specialIDs holds the special token ids, -1 where there is none.
type specialIDs struct{ bos, eos, pad, cls, sep, unk int }

func noSpecials() specialIDs { return specialIDs{-1, -1, -1, -1, -1, -1} }

func (p *pipeline) Name() string   { return p.name }
func (p *pipeline) VocabSize() int { return len(p.idToToken) }
func (p *pipeline) BOS() int       { return p.special.bos }
func (p *pipeline) EOS() int       { return p.special.eos }
func (p *pipeline) PAD() int       { return p.special.pad }
func (p *pipeline) CLS() int       { return p.special.cls }
func (p *pipeline) SEP() int       { return p.special.sep }
func (p *pipeline) UNK() int       { return p.special.unk }

func (p *pipeline) template() (prefix, suffix []int) {
	if p.hasTemplate {
		return p.prefix, p.suffix
	}
	return defaultTemplate(p)
}

// Encode implements Tokenizer.
func (p *pipeline) Encode(text string) ([]int, error) {
	ids := make([]int, 0, len(text)/3+1)
	var err error
	for i, seg := range p.added.split(text) {
		if seg.id >= 0 {
			ids = append(ids, seg.id)
			continue
		}
		s := seg.text
		if p.normalize != nil {
			s = p.normalize(s)
		}
		if s == "" {
			continue
		}
		// Added tokens with normalized: true are found in the normalised text.
		for j, sub := range p.added.splitNormalized(s) {
			if sub.id >= 0 {
				ids = append(ids, sub.id)
				continue
			}
			if ids, err = p.encodePiece(ids, sub.text, i == 0 && j == 0); err != nil {
				return nil, err
			}
		}
	}
	return ids, nil
}

// encodePiece pre-tokenises one normalised piece of text and encodes its
// words; atStart says that the piece begins the text.
func (p *pipeline) encodePiece(ids []int, s string, atStart bool) ([]int, error) {
	if s == "" {
		return ids, nil
	}
	words := []string{s}
	if p.preTokenize != nil {
		words = p.preTokenize(words, atStart)
	}
	var err error
	for _, w := range words {
		if w == "" {
			continue
		}
		if ids, err = p.model.encodeWord(ids, w); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// Decode implements Tokenizer.
func (p *pipeline) Decode(ids []int) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if id >= 0 && id < len(p.idToToken) && p.idToToken[id] != "" {
			toks = append(toks, p.idToToken[id])
		}
	}
	if p.decode == nil {
		return strings.Join(toks, "")
	}
	return p.decode(toks)
}

// recoverLibrary turns a panic inside github.com/sugarme/tokenizer into an
// error naming the file being loaded. Use as: defer recoverLibrary(path, &err).
func recoverLibrary(path string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("data: tokenizer %q: github.com/sugarme/tokenizer could not load it: %v", path, r)
	}
}
