package data

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sugarme/tokenizer/model/bpe"
)

// loadGPT2 loads GPT-2's byte-level BPE from dir/vocab.json and
// dir/merges.txt. The library builds the merge table (bpe.CreateMerges);
// we read the files ourselves because its reader (BPE.ReadFiles) compiles a
// regexp for every line of merges.txt, which makes loading GPT-2 take most
// of a second, and does not say which file is malformed. Encoding splits
// with GPT-2's regex (gpt2Match), spells bytes in the byte-level alphabet and
// merges with bpeModel.
func loadGPT2(dir string) (tok Tokenizer, err error) {
	vocabPath := filepath.Join(dir, tokenizerVocabJSON)
	mergesPath := filepath.Join(dir, tokenizerMerges)
	raw, err := os.ReadFile(vocabPath)
	if err != nil {
		return nil, fmt.Errorf("data: tokenizer vocabulary: %w", err)
	}
	var vocab map[string]int
	if err := json.Unmarshal(raw, &vocab); err != nil {
		return nil, fmt.Errorf("data: tokenizer vocabulary %q is malformed (want {\"token\": id, ...}): %w", vocabPath, err)
	}
	if len(vocab) == 0 {
		return nil, fmt.Errorf("data: tokenizer vocabulary %q is empty", vocabPath)
	}
	lines, err := readMergesTXT(mergesPath)
	if err != nil {
		return nil, err
	}
	merges, err := libraryMerges(mergesPath, vocab, lines)
	if err != nil {
		return nil, err
	}
	idToToken, err := invertVocab(vocab, nil)
	if err != nil {
		return nil, fmt.Errorf("data: tokenizer vocabulary %q: %w", vocabPath, err)
	}
	cfg, err := readTokenizerConfig(dir)
	if err != nil {
		return nil, err
	}
	lookup := func(t string) (int, bool) { id, ok := vocab[t]; return id, ok }
	special, err := resolveSpecials(cfg, gpt2Specials, lookup, fmt.Sprintf("%q", vocabPath))
	if err != nil {
		return nil, err
	}
	model, err := newBPEModel(vocab, merges, "", false, false, false)
	if err != nil {
		return nil, fmt.Errorf("data: tokenizer %q: %w", vocabPath, err)
	}
	added := map[string]int{}
	for _, id := range []int{special.bos, special.eos, special.pad, special.unk} {
		if id >= 0 {
			added[idToToken[id]] = id
		}
	}
	return &pipeline{
		name:        "gpt2-bpe (vocab.json+merges.txt)",
		idToToken:   idToToken,
		special:     special,
		added:       newAddedTokens(added),
		preTokenize: byteLevelPreTokenizer(false, true),
		model:       model,
		decode:      byteLevelDecode,
	}, nil
}

// readMergesTXT reads merges.txt: one "left right" pair a line, most
// important first, after an optional "#version" line.
func readMergesTXT(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: tokenizer merges: %w", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "#version") {
			continue
		}
		if strings.Count(line, " ") != 1 {
			return nil, fmt.Errorf("data: tokenizer merges %q line %d: %q is not \"left right\"", path, n, line)
		}
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("data: tokenizer merges %q: %w", path, err)
	}
	return lines, nil
}

// libraryMerges has the library build the merge table (pair of ids → rank,
// merged id), recovering from a panic. Merges of tokens missing from the
// vocabulary are skipped; a merge whose result is missing is an error.
func libraryMerges(path string, vocab map[string]int, lines []string) (merges bpe.Merges, err error) {
	defer recoverLibrary(path, &err)
	m, err := bpe.CreateMerges(vocab, lines)
	if err != nil {
		return nil, fmt.Errorf("data: tokenizer merges %q: %w", path, err)
	}
	return *m, nil
}

// invertVocab builds the id → token table from vocab and extra (added
// tokens), sized to the largest id + 1. Two tokens with one id is an error.
func invertVocab(vocab, extra map[string]int) ([]string, error) {
	n := 0
	for _, m := range []map[string]int{vocab, extra} {
		for t, id := range m {
			if id < 0 {
				return nil, fmt.Errorf("token %q has negative id %d", t, id)
			}
			n = max(n, id+1)
		}
	}
	idToToken := make([]string, n)
	for _, m := range []map[string]int{vocab, extra} {
		for t, id := range m {
			if prev := idToToken[id]; prev != "" && prev != t {
				return nil, fmt.Errorf("tokens %q and %q share id %d", prev, t, id)
			}
			idToToken[id] = t
		}
	}
	return idToToken, nil
}

// byteLevelDecode maps byte-level characters back to bytes, as Hugging
// Face's ByteLevel decoder does: a token with a character outside the
// alphabet (an added token may have one) keeps its own UTF-8 bytes; invalid
// UTF-8 becomes U+FFFD.
func byteLevelDecode(toks []string) string {
	var b []byte
	for _, t := range toks {
		start := len(b)
		for _, r := range t {
			c, ok := byteLevelDecoding[r]
			if !ok {
				b = append(b[:start], t...)
				break
			}
			b = append(b, c)
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
