package evaluate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/nn"
)

// readScoreInputs parses the input into token-id sequences: JSONL (text
// or ids per line), or a CSV, TSV, text or Parquet file of texts read with
// the data package's readers (the "text" field or column).
func readScoreInputs(path, modelDir string, c *nn.Config) (seqs [][]int, truncated []bool, err error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv", ".tsv", ".txt", ".parquet":
		return readScoreTexts(path, modelDir, c)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var tok data.Tokenizer
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var rec struct {
			Text *string `json:"text"`
			IDs  []int   `json:"ids"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, nil, fmt.Errorf("%s:%d: malformed JSON: %v", path, line, err)
		}
		var ids []int
		switch {
		case rec.IDs != nil:
			ids = rec.IDs
			for _, id := range ids {
				if id < 0 || id >= c.Vocab {
					return nil, nil, fmt.Errorf("%s:%d: token id %d is outside the vocabulary [0, %d)", path, line, id, c.Vocab)
				}
			}
		case rec.Text != nil:
			if tok == nil {
				if tok, err = data.LoadTokenizer(modelDir); err != nil {
					return nil, nil, fmt.Errorf("%s:%d: has \"text\" but the model's tokenizer cannot be loaded: %w", path, line, err)
				}
			}
			if ids, err = data.EncodeForModel(tok, *rec.Text); err != nil {
				return nil, nil, fmt.Errorf("%s:%d: %w", path, line, err)
			}
		default:
			return nil, nil, fmt.Errorf("%s:%d: want a \"text\" or an \"ids\" field", path, line)
		}
		if len(ids) == 0 {
			return nil, nil, fmt.Errorf("%s:%d: empty input", path, line)
		}
		cut := len(ids) > scoreLimit(c)
		if cut {
			ids = ids[:scoreLimit(c)]
		}
		seqs, truncated = append(seqs, ids), append(truncated, cut)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(seqs) == 0 {
		return nil, nil, fmt.Errorf("%s: no inputs", path)
	}
	return seqs, truncated, nil
}

// readScoreTexts reads the texts of a CSV, TSV, text or Parquet file.
func readScoreTexts(path, modelDir string, c *nn.Config) (seqs [][]int, truncated []bool, err error) {
	recs, _, err := data.ReadRecords(path, data.ReadOptions{IDField: data.DeriveIDs})
	if err != nil {
		return nil, nil, err
	}
	if len(recs) == 0 {
		return nil, nil, fmt.Errorf("%s: no inputs", path)
	}
	tok, err := data.LoadTokenizer(modelDir)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: the model's tokenizer cannot be loaded: %w", path, err)
	}
	for _, r := range recs {
		ids, err := data.EncodeForModel(tok, r.Text)
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", path, r.Line, err)
		}
		if len(ids) == 0 {
			return nil, nil, fmt.Errorf("%s:%d: empty input", path, r.Line)
		}
		cut := len(ids) > scoreLimit(c)
		if cut {
			ids = ids[:scoreLimit(c)]
		}
		seqs, truncated = append(seqs, ids), append(truncated, cut)
	}
	return seqs, truncated, nil
}

// scoreLimit is the length inputs are truncated to: the model's positions,
// or less where it runs shorter sequences only (a sliding window).
func scoreLimit(c *nn.Config) int {
	if lim := c.MaxLen(); lim > 0 {
		return lim
	}
	return c.MaxPos
}
