package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sugarme/tokenizer/model/bpe"
	"github.com/sugarme/tokenizer/model/wordpiece"
	"github.com/sugarme/tokenizer/pretrained"
)

// hfFile is the part of a Hugging Face tokenizer.json that we read ourselves.
// The model section (vocabulary, merges) goes to the library's loader
// (pretrained.FromReader), which builds it right; the normaliser,
// pre-tokeniser, post-processor and decoder are interpreted here, because
// the library's versions of several of them give different ids or panic (see
// doc.go), and the library never sees them, so a regex it cannot compile
// cannot make it panic.
type hfFile struct {
	AddedTokens   []hfAddedToken  `json:"added_tokens"`
	Normalizer    *hfNode         `json:"normalizer"`
	PreTokenizer  *hfNode         `json:"pre_tokenizer"`
	PostProcessor *hfNode         `json:"post_processor"`
	Decoder       *hfNode         `json:"decoder"`
	Model         json.RawMessage `json:"model"`
}

// hfAddedToken is an entry of added_tokens. A missing normalized reads as
// false: the token is matched in the raw text.
type hfAddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
}

// hfModel holds the model options the library ignores or misreads.
type hfModel struct {
	Type                    string  `json:"type"`
	UnkToken                *string `json:"unk_token"`
	ContinuingSubwordPrefix *string `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string `json:"end_of_word_suffix"`
	FuseUnk                 bool    `json:"fuse_unk"`
	ByteFallback            bool    `json:"byte_fallback"`
	IgnoreMerges            bool    `json:"ignore_merges"`
	MaxInputCharsPerWord    *int    `json:"max_input_chars_per_word"`
}

// hfNode is any normaliser, pre-tokeniser, post-processor or decoder of
// tokenizer.json: the union of the fields of the types we support, told
// apart by Type.
type hfNode struct {
	Type string `json:"type"`

	Normalizers   []*hfNode `json:"normalizers"`   // Sequence
	PreTokenizers []*hfNode `json:"pretokenizers"` // Sequence
	Decoders      []*hfNode `json:"decoders"`      // Sequence
	Processors    []*hfNode `json:"processors"`    // Sequence

	Prepend    string     `json:"prepend"` // Prepend
	Pattern    *hfPattern `json:"pattern"` // Replace, Split
	Content    string     `json:"content"` // Replace, Strip decoder
	Start      int        `json:"start"`   // Strip decoder
	Stop       int        `json:"stop"`    // Strip decoder
	StripLeft  bool       `json:"strip_left"`
	StripRight bool       `json:"strip_right"`

	AddPrefixSpace *bool  `json:"add_prefix_space"` // ByteLevel, Metaspace (old)
	UseRegex       *bool  `json:"use_regex"`        // ByteLevel
	Behavior       string `json:"behavior"`         // Split
	Invert         bool   `json:"invert"`           // Split
	Replacement    string `json:"replacement"`      // Metaspace
	PrependScheme  string `json:"prepend_scheme"`   // Metaspace
	Split          *bool  `json:"split"`            // Metaspace
	Individual     bool   `json:"individual_digits"`

	CleanText          *bool `json:"clean_text"` // BertNormalizer
	HandleChineseChars *bool `json:"handle_chinese_chars"`
	StripAccents       *bool `json:"strip_accents"`
	Lowercase          *bool `json:"lowercase"`

	Prefix  string `json:"prefix"`  // WordPiece decoder
	Cleanup *bool  `json:"cleanup"` // WordPiece decoder

	Single        []hfTemplatePiece          `json:"single"`         // TemplateProcessing
	SpecialTokens map[string]hfTemplateToken `json:"special_tokens"` // TemplateProcessing
	Sep           []json.RawMessage          `json:"sep"`            // Bert/RobertaProcessing: ["[SEP]", 102]
	Cls           []json.RawMessage          `json:"cls"`
}

type hfPattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

type hfTemplatePiece struct {
	SpecialToken *struct {
		ID string `json:"id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID string `json:"id"`
	} `json:"Sequence"`
}

type hfTemplateToken struct {
	IDs []int `json:"ids"`
}

// loadTokenizerJSON loads dir/tokenizer.json.
func loadTokenizerJSON(dir string) (Tokenizer, error) {
	path := filepath.Join(dir, tokenizerJSONFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("data: tokenizer: %w", err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("data: tokenizer %q: %s", path, fmt.Sprintf(format, a...))
	}
	var f hfFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, bad("malformed JSON: %v", err)
	}
	if len(f.Model) == 0 || string(f.Model) == "null" {
		return nil, bad("no \"model\" section")
	}
	var mcfg hfModel
	if err := json.Unmarshal(f.Model, &mcfg); err != nil {
		return nil, bad("malformed \"model\": %v", err)
	}
	vocab, merges, err := libraryModel(path, f.Model)
	if err != nil {
		return nil, err
	}
	added := map[string]int{}
	for _, t := range f.AddedTokens {
		added[t.Content] = t.ID
	}
	idToToken, err := invertVocab(vocab, added)
	if err != nil {
		return nil, bad("%v", err)
	}
	p := &pipeline{idToToken: idToToken}
	if p.normalize, err = buildNormalizer(f.Normalizer); err != nil {
		return nil, bad("normalizer: %v", err)
	}
	p.added = newAddedTokensJSON(f.AddedTokens, p.normalize)
	byteLevel := false
	if p.preTokenize, err = buildPreTokenizer(f.PreTokenizer, &byteLevel); err != nil {
		return nil, bad("pre_tokenizer: %v", err)
	}
	if p.decode, err = buildDecoder(f.Decoder); err != nil {
		return nil, bad("decoder: %v", err)
	}
	if p.prefix, p.suffix, p.hasTemplate, err = buildTemplate(f.PostProcessor); err != nil {
		return nil, bad("post_processor: %v", err)
	}
	if p.model, p.name, err = buildModel(mcfg, vocab, merges, byteLevel); err != nil {
		return nil, bad("model: %v", err)
	}
	cfg, err := readTokenizerConfig(dir)
	if err != nil {
		return nil, err
	}
	names := anySpecials
	if mcfg.UnkToken != nil {
		names.unk = append([]string{*mcfg.UnkToken}, names.unk...)
	}
	lookup := func(t string) (int, bool) {
		if id, ok := added[t]; ok {
			return id, true
		}
		id, ok := vocab[t]
		return id, ok
	}
	if p.special, err = resolveSpecials(cfg, names, lookup, fmt.Sprintf("%q", path)); err != nil {
		return nil, err
	}
	return p, nil
}

// libraryModel has github.com/sugarme/tokenizer build the model section and
// returns its vocabulary and (for BPE) merge table. The library panics on
// malformed input (e.g. an id that is not a number), so it runs under
// recover. It reads merges written as "a b" or ["a", "b"], but joins and
// re-splits them on a space, so a vocabulary whose tokens contain spaces
// fails to load (with an error) — none of the families we load has one.
func libraryModel(path string, model json.RawMessage) (vocab map[string]int, merges bpe.Merges, err error) {
	defer recoverLibrary(path, &err)
	var buf bytes.Buffer
	buf.WriteString(`{"model":`)
	buf.Write(model)
	buf.WriteString(`}`)
	tk, err := pretrained.FromReader(&buf)
	if err != nil {
		return nil, nil, fmt.Errorf("data: tokenizer %q: github.com/sugarme/tokenizer: %w", path, err)
	}
	switch m := tk.GetModel().(type) {
	case *bpe.BPE:
		return *m.Vocab, *m.Merges, nil
	case *wordpiece.WordPiece:
		return m.GetVocab(), nil, nil
	}
	return nil, nil, fmt.Errorf("data: tokenizer %q: model type %T is not supported (want BPE or WordPiece)", path, tk.GetModel())
}

// buildModel makes our BPE or WordPiece model from the library's vocabulary
// and merges plus the options it ignores.
func buildModel(cfg hfModel, vocab map[string]int, merges bpe.Merges, byteLevel bool) (wordModel, string, error) {
	unk := ""
	if cfg.UnkToken != nil {
		unk = *cfg.UnkToken
	}
	switch cfg.Type {
	case "BPE", "":
		if cfg.ContinuingSubwordPrefix != nil && *cfg.ContinuingSubwordPrefix != "" ||
			cfg.EndOfWordSuffix != nil && *cfg.EndOfWordSuffix != "" {
			return nil, "", fmt.Errorf("BPE with continuing_subword_prefix or end_of_word_suffix is not supported")
		}
		m, err := newBPEModel(vocab, merges, unk, cfg.FuseUnk, cfg.ByteFallback, cfg.IgnoreMerges)
		if err != nil {
			return nil, "", err
		}
		name := "bpe (tokenizer.json)"
		switch {
		case byteLevel:
			name = "byte-level-bpe (tokenizer.json)"
		case cfg.ByteFallback:
			name = "sentencepiece-bpe+byte-fallback (tokenizer.json)"
		}
		return m, name, nil
	case "WordPiece":
		if unk == "" {
			unk = "[UNK]"
		}
		prefix := "##"
		if cfg.ContinuingSubwordPrefix != nil {
			prefix = *cfg.ContinuingSubwordPrefix
		}
		maxChars := 100
		if cfg.MaxInputCharsPerWord != nil {
			maxChars = *cfg.MaxInputCharsPerWord
		}
		m, err := newWordPieceModel(vocab, unk, prefix, maxChars)
		if err != nil {
			return nil, "", err
		}
		return m, "wordpiece (tokenizer.json)", nil
	}
	return nil, "", fmt.Errorf("type %q is not supported (want BPE or WordPiece)", cfg.Type)
}

// buildTemplate reads the special tokens the post-processor puts around a
// single sequence. has is false when there is no post-processor.
func buildTemplate(n *hfNode) (prefix, suffix []int, has bool, err error) {
	if n == nil {
		return nil, nil, false, nil
	}
	switch n.Type {
	case "ByteLevel":
		return nil, nil, true, nil
	case "TemplateProcessing":
		seen := false
		for _, piece := range n.Single {
			switch {
			case piece.Sequence != nil:
				seen = true
			case piece.SpecialToken != nil:
				t, ok := n.SpecialTokens[piece.SpecialToken.ID]
				if !ok {
					return nil, nil, false, fmt.Errorf("template token %q is not in special_tokens", piece.SpecialToken.ID)
				}
				if seen {
					suffix = append(suffix, t.IDs...)
				} else {
					prefix = append(prefix, t.IDs...)
				}
			}
		}
		return prefix, suffix, true, nil
	case "BertProcessing", "RobertaProcessing":
		cls, err := templateID(n.Cls)
		if err != nil {
			return nil, nil, false, fmt.Errorf("cls: %v", err)
		}
		sep, err := templateID(n.Sep)
		if err != nil {
			return nil, nil, false, fmt.Errorf("sep: %v", err)
		}
		return []int{cls}, []int{sep}, true, nil
	case "Sequence":
		for _, c := range n.Processors {
			p, s, _, err := buildTemplate(c)
			if err != nil {
				return nil, nil, false, err
			}
			prefix, suffix = append(prefix, p...), append(suffix, s...)
		}
		return prefix, suffix, true, nil
	}
	return nil, nil, false, fmt.Errorf("type %q is not supported", n.Type)
}

// templateID reads the id of ["[SEP]", 102].
func templateID(pair []json.RawMessage) (int, error) {
	var id int
	if len(pair) != 2 || json.Unmarshal(pair[1], &id) != nil {
		return 0, fmt.Errorf("want [token, id]")
	}
	return id, nil
}
