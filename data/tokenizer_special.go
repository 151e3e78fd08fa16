package data

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// specialNames lists, for each special role, the token names the families we
// load use, in order of preference. They apply when neither
// tokenizer_config.json nor special_tokens_map.json names the token.
type specialNames struct{ bos, eos, pad, cls, sep, unk []string }

// Defaults per family. GPT-2 uses <|endoftext|> as BOS, EOS and UNK (as
// transformers' GPT2Tokenizer does) and has no PAD. LLaMA-3 uses
// <|begin_of_text|> and <|end_of_text|>.
var (
	gpt2Specials = specialNames{
		bos: []string{"<|endoftext|>"}, eos: []string{"<|endoftext|>"}, unk: []string{"<|endoftext|>"},
	}
	bertSpecials = specialNames{
		pad: []string{"[PAD]"}, cls: []string{"[CLS]"}, sep: []string{"[SEP]"}, unk: []string{"[UNK]"},
	}
	anySpecials = specialNames{
		bos: []string{"<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>", "<|endoftext|>"},
		eos: []string{"</s>", "<|end_of_text|>", "<eos>", "<|endoftext|>"},
		pad: []string{"<pad>", "[PAD]", "<|pad|>"},
		cls: []string{"[CLS]"},
		sep: []string{"[SEP]"},
		unk: []string{"<unk>", "[UNK]", "<|endoftext|>"},
	}
)

// tokenizerConfig is the part of tokenizer_config.json (and of
// special_tokens_map.json, which has the same token fields) that we read.
type tokenizerConfig struct {
	BOS                  specialToken `json:"bos_token"`
	EOS                  specialToken `json:"eos_token"`
	PAD                  specialToken `json:"pad_token"`
	CLS                  specialToken `json:"cls_token"`
	SEP                  specialToken `json:"sep_token"`
	UNK                  specialToken `json:"unk_token"`
	DoLowerCase          *bool        `json:"do_lower_case"`
	StripAccents         *bool        `json:"strip_accents"`
	TokenizeChineseChars *bool        `json:"tokenize_chinese_chars"`
}

// specialToken is a token name written either as "<s>" or as
// {"content": "<s>", ...}. Absent leaves it unset (the family default
// applies); null sets it to none, as transformers reads it.
type specialToken struct {
	content string
	set     bool
	none    bool
}

// UnmarshalJSON accepts a string, an object with "content", or null.
func (s *specialToken) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = specialToken{set: true, none: true}
		return nil
	}
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		*s = specialToken{content: str, set: true}
		return nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(b, &obj); err != nil || obj.Content == nil {
		return fmt.Errorf("want a token string or {\"content\": ...}, got %s", b)
	}
	*s = specialToken{content: *obj.Content, set: true}
	return nil
}

// readTokenizerConfig reads tokenizer_config.json and special_tokens_map.json
// from dir when present; tokenizer_config.json wins where both name a token.
// A malformed file is an error naming it; a missing one is not.
func readTokenizerConfig(dir string) (tokenizerConfig, error) {
	var cfg tokenizerConfig
	for _, name := range []string{specialTokensMap, tokenizerConfigFile} {
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return cfg, fmt.Errorf("data: tokenizer config %q: %w", path, err)
		}
		var c tokenizerConfig
		if err := json.Unmarshal(b, &c); err != nil {
			return cfg, fmt.Errorf("data: tokenizer config %q is malformed: %w", path, err)
		}
		for _, p := range []struct{ dst, src *specialToken }{
			{&cfg.BOS, &c.BOS}, {&cfg.EOS, &c.EOS}, {&cfg.PAD, &c.PAD},
			{&cfg.CLS, &c.CLS}, {&cfg.SEP, &c.SEP}, {&cfg.UNK, &c.UNK},
		} {
			if p.src.set {
				*p.dst = *p.src
			}
		}
		if c.DoLowerCase != nil {
			cfg.DoLowerCase = c.DoLowerCase
		}
		if c.StripAccents != nil {
			cfg.StripAccents = c.StripAccents
		}
		if c.TokenizeChineseChars != nil {
			cfg.TokenizeChineseChars = c.TokenizeChineseChars
		}
	}
	return cfg, nil
}

// resolveSpecials looks up each special role: the token named in cfg when
// set, else the first default name that lookup knows. A configured token that
// the vocabulary lacks is an error, since the model could not embed it.
func resolveSpecials(cfg tokenizerConfig, names specialNames, lookup func(string) (int, bool), where string) (specialIDs, error) {
	ids := noSpecials()
	roles := []struct {
		role  string
		dst   *int
		cfg   specialToken
		names []string
	}{
		{"bos_token", &ids.bos, cfg.BOS, names.bos},
		{"eos_token", &ids.eos, cfg.EOS, names.eos},
		{"pad_token", &ids.pad, cfg.PAD, names.pad},
		{"cls_token", &ids.cls, cfg.CLS, names.cls},
		{"sep_token", &ids.sep, cfg.SEP, names.sep},
		{"unk_token", &ids.unk, cfg.UNK, names.unk},
	}
	for _, r := range roles {
		if r.cfg.none {
			continue
		}
		if r.cfg.set {
			id, ok := lookup(r.cfg.content)
			if !ok {
				return ids, fmt.Errorf("data: tokenizer %s: %s %q is not in the vocabulary", where, r.role, r.cfg.content)
			}
			*r.dst = id
			continue
		}
		for _, n := range r.names {
			if id, ok := lookup(n); ok {
				*r.dst = id
				break
			}
		}
	}
	return ids, nil
}
