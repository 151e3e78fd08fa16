package checkpoints

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/internal/gguf"
	"github.com/sparsetune/sparsetune/nn"
)

// llama.cpp's token types (llama_token_type).
const (
	tokNormal      int32 = 1
	tokUnknown     int32 = 2
	tokControl     int32 = 3
	tokUserDefined int32 = 4
	tokUnused      int32 = 5
	tokByte        int32 = 6
)

// ggufTokenizer is the part of a Hugging Face tokenizer.json GGUF needs.
type ggufTokenizer struct {
	AddedTokens []struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer   json.RawMessage `json:"normalizer"`
	PreTokenizer json.RawMessage `json:"pre_tokenizer"`
	Model        struct {
		Type         string          `json:"type"`
		Vocab        map[string]int  `json:"vocab"`
		Merges       json.RawMessage `json:"merges"`
		ByteFallback bool            `json:"byte_fallback"`
		UnkToken     *string         `json:"unk_token"`
	} `json:"model"`
}

// GGUFVocab returns llama.cpp's tokenizer metadata for model c, so that
// llama.cpp turns text into the ids sparsetune's tokenizer (package data)
// gives:
//
//   - tokenizer.json with a byte-level BPE model (Llama 3, Qwen2/3), or
//     GPT-2's vocab.json and merges.txt: tokenizer.ggml.model "gpt2" with
//     tokens, token_type and merges, and tokenizer.ggml.pre from the
//     pre-tokenizer's split pattern ("llama-bpe", "qwen2" or "gpt-2");
//   - tokenizer.json with a BPE model with byte fallback (LLaMA 2,
//     Mistral: SentencePiece converted): tokenizer.ggml.model "llama" with
//     tokens, scores (spmScores) and token_type, the <0xNN> pieces typed as
//     bytes.
//
// Added tokens are control tokens when special, user-defined otherwise.
// Ids missing from the tokenizer up to the model's vocab_size become
// unused "[PADn]" tokens, as convert_hf_to_gguf.py writes them. The BOS,
// EOS, UNK and PAD ids and add_bos_token/add_eos_token are the ones
// data.LoadTokenizer and data.EncodeForModel use.
//
// With dir "" (a model without a tokenizer, such as bench infer
// --synthetic's) it writes a placeholder "gpt2" vocabulary: the 256
// byte-level tokens, then "<|tN|>", and "<|endoftext|>" as the last id,
// which is BOS and EOS. Such a file is for running token ids, not text.
func GGUFVocab(c *nn.Config, dir string) ([]gguf.KV, error) {
	if dir == "" {
		return placeholderVocab(c.Vocab)
	}
	tok, err := data.LoadTokenizer(dir)
	if err != nil {
		return nil, err
	}
	var kv []gguf.KV
	path := filepath.Join(dir, "tokenizer.json")
	if _, err := os.Stat(path); err == nil {
		kv, err = tokenizerJSONVocab(path, c.Vocab)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	} else if kv, err = gpt2FilesVocab(dir, c.Vocab); err != nil {
		return nil, err
	}
	ids, err := data.EncodeForModel(tok, "a")
	if err != nil {
		return nil, err
	}
	addBOS := tok.BOS() >= 0 && len(ids) > 0 && ids[0] == tok.BOS()
	addEOS := tok.EOS() >= 0 && len(ids) > 1 && ids[len(ids)-1] == tok.EOS()
	kv = append(kv, gguf.KV{Key: "tokenizer.ggml.add_bos_token", Value: addBOS}, gguf.KV{Key: "tokenizer.ggml.add_eos_token", Value: addEOS})
	for _, sp := range []struct {
		name string
		id   int
	}{{"bos", tok.BOS()}, {"eos", tok.EOS()}, {"unknown", tok.UNK()}, {"padding", tok.PAD()}} {
		if sp.id >= 0 && sp.id < c.Vocab {
			kv = append(kv, gguf.KV{Key: "tokenizer.ggml." + sp.name + "_token_id", Value: uint32(sp.id)})
		}
	}
	return kv, nil
}

// tokenizerJSONVocab reads the tokens of a tokenizer.json for a model of
// vocab rows.
func tokenizerJSONVocab(path string, vocab int) ([]gguf.KV, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t ggufTokenizer
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("malformed JSON: %v", err)
	}
	if t.Model.Type != "BPE" {
		return nil, fmt.Errorf("model type %q: %w (want BPE)", t.Model.Type, ErrGGUFUnsupported)
	}
	tokens, types, err := idTable(t.Model.Vocab, vocab)
	if err != nil {
		return nil, err
	}
	for _, a := range t.AddedTokens {
		if a.ID < 0 || a.ID >= vocab {
			return nil, fmt.Errorf("added token %q has id %d, outside the model's vocab_size %d", a.Content, a.ID, vocab)
		}
		tokens[a.ID], types[a.ID] = a.Content, tokUserDefined
		if a.Special {
			types[a.ID] = tokControl
		}
	}
	merges, err := mergeList(t.Model.Merges)
	if err != nil {
		return nil, err
	}
	if t.Model.ByteFallback { // SentencePiece converted to BPE
		scores := spmScores(tokens, merges)
		for i, s := range tokens {
			switch {
			case types[i] != tokNormal:
			case len(s) == 6 && strings.HasPrefix(s, "<0x") && strings.HasSuffix(s, ">"):
				types[i] = tokByte
			case t.Model.UnkToken != nil && s == *t.Model.UnkToken:
				types[i] = tokUnknown
			}
		}
		prefix := strings.Contains(string(t.Normalizer), `"Prepend"`)
		return []gguf.KV{
			{Key: "tokenizer.ggml.model", Value: "llama"},
			{Key: "tokenizer.ggml.pre", Value: "default"},
			{Key: "tokenizer.ggml.tokens", Value: tokens},
			{Key: "tokenizer.ggml.scores", Value: scores},
			{Key: "tokenizer.ggml.token_type", Value: types},
			{Key: "tokenizer.ggml.add_space_prefix", Value: prefix},
		}, nil
	}
	pre := string(t.PreTokenizer)
	if !strings.Contains(pre, `"ByteLevel"`) {
		return nil, fmt.Errorf("a BPE model that is neither byte-level nor has byte fallback: %w", ErrGGUFUnsupported)
	}
	var preName string
	switch {
	case strings.Contains(pre, `\\p{N}{1,3}`):
		preName = "llama-bpe"
	case strings.Contains(pre, `|\\p{N}|`):
		preName = "qwen2"
	case !strings.Contains(pre, `"Split"`):
		preName = "gpt-2"
	default:
		return nil, fmt.Errorf("pre-tokenizer split pattern: %w (want Llama 3's, Qwen2's or GPT-2's)", ErrGGUFUnsupported)
	}
	return bpeVocab(preName, tokens, types, merges), nil
}

func bpeVocab(pre string, tokens []string, types []int32, merges []string) []gguf.KV {
	return []gguf.KV{
		{Key: "tokenizer.ggml.model", Value: "gpt2"},
		{Key: "tokenizer.ggml.pre", Value: pre},
		{Key: "tokenizer.ggml.tokens", Value: tokens},
		{Key: "tokenizer.ggml.token_type", Value: types},
		{Key: "tokenizer.ggml.merges", Value: merges},
	}
}

// spmScores are the SentencePiece scores llama.cpp's "llama" tokenizer
// merges by (highest first): a token made by merge rank r scores −r, so
// llama.cpp merges in the order of the tokenizer.json merges, which
// Hugging Face's conversion listed by falling SentencePiece score (and in
// which, e.g., Mistral's "▁▁" comes late, although its id is 259). Tokens
// no merge makes (characters, bytes, special tokens) score −(number of
// merges), below every merge.
func spmScores(tokens []string, merges []string) []float32 {
	rank := make(map[string]int, len(merges))
	for r, m := range merges {
		tok := strings.Replace(m, " ", "", 1)
		if _, ok := rank[tok]; !ok {
			rank[tok] = r
		}
	}
	scores := make([]float32, len(tokens))
	for i, s := range tokens {
		r, ok := rank[s]
		if !ok {
			r = len(merges)
		}
		scores[i] = -float32(r)
	}
	return scores
}

// idTable lays a token → id map out by id over vocab ids, filling the ids
// it lacks with unused "[PADn]" tokens.
func idTable(m map[string]int, vocab int) ([]string, []int32, error) {
	tokens, types := make([]string, vocab), make([]int32, vocab)
	for i := range tokens {
		tokens[i], types[i] = fmt.Sprintf("[PAD%d]", i), tokUnused
	}
	for s, id := range m {
		if id < 0 || id >= vocab {
			return nil, nil, fmt.Errorf("token %q has id %d, outside the model's vocab_size %d", s, id, vocab)
		}
		tokens[id], types[id] = s, tokNormal
	}
	return tokens, types, nil
}

// mergeList reads BPE merges written as "a b" or as ["a", "b"] pairs.
func mergeList(raw json.RawMessage) ([]string, error) {
	var flat []string
	if err := json.Unmarshal(raw, &flat); err == nil {
		return flat, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("model.merges: want strings or pairs of strings: %v", err)
	}
	out := make([]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("model.merges[%d] has %d parts, want 2", i, len(p))
		}
		out[i] = p[0] + " " + p[1]
	}
	return out, nil
}

// gpt2FilesVocab reads GPT-2's vocab.json and merges.txt.
func gpt2FilesVocab(dir string, vocab int) ([]gguf.KV, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "vocab.json"))
	if err != nil {
		return nil, fmt.Errorf("GGUF export needs tokenizer.json or vocab.json and merges.txt: %w", err)
	}
	var m map[string]int
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: malformed JSON: %v", filepath.Join(dir, "vocab.json"), err)
	}
	tokens, types, err := idTable(m, vocab)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "vocab.json"), err)
	}
	mr, err := os.ReadFile(filepath.Join(dir, "merges.txt"))
	if err != nil {
		return nil, err
	}
	var merges []string
	for _, line := range strings.Split(string(mr), "\n") {
		if line != "" && !strings.HasPrefix(line, "#version") {
			merges = append(merges, line)
		}
	}
	if i := slices.Index(tokens, "<|endoftext|>"); i >= 0 {
		types[i] = tokControl
	}
	return bpeVocab("gpt-2", tokens, types, merges), nil
}

// placeholderVocab is the byte-level vocabulary of a model without a
// tokenizer (GGUFVocab).
func placeholderVocab(vocab int) ([]gguf.KV, error) {
	if vocab < 257 {
		return nil, errors.New("the model has no tokenizer and its vocab_size is below 257, too small for a placeholder byte vocabulary: give a tokenizer directory")
	}
	tokens, types := make([]string, vocab), make([]int32, vocab)
	for i := range tokens {
		tokens[i], types[i] = fmt.Sprintf("<|t%d|>", i), tokNormal
	}
	for b, r := range byteLevelRunes() {
		tokens[b] = string(r)
	}
	eos := vocab - 1
	tokens[eos], types[eos] = "<|endoftext|>", tokControl
	kv := bpeVocab("default", tokens, types, []string{})
	return append(kv,
		gguf.KV{Key: "tokenizer.ggml.bos_token_id", Value: uint32(eos)},
		gguf.KV{Key: "tokenizer.ggml.eos_token_id", Value: uint32(eos)},
		gguf.KV{Key: "tokenizer.ggml.add_bos_token", Value: false},
	), nil
}

// byteLevelRunes is GPT-2's bytes_to_unicode: the printable character
// that stands for each byte in a byte-level BPE vocabulary.
func byteLevelRunes() [256]rune {
	var out [256]rune
	n := 0
	for b := 0; b < 256; b++ {
		if b >= '!' && b <= '~' || b >= 0xa1 && b <= 0xac || b >= 0xae {
			out[b] = rune(b)
		} else {
			out[b] = rune(256 + n)
			n++
		}
	}
	return out
}
