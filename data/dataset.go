package data

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Task says what a dataset is for, which decides how records become
// sequences.
type Task string

const (
	// CausalLM: documents are concatenated, separated by EOS, and cut into
	// blocks of exactly SeqLen tokens (Hugging Face run_clm's group_texts).
	CausalLM Task = "causal-lm"
	// Classification: one sequence per record, with the model's special
	// tokens, truncated to SeqLen, and one label id.
	Classification Task = "classification"
)

// DefaultValidRatio is the share of Train carved out for validation when
// Spec.Valid is empty: 10% is the usual Hugging Face example-script choice
// (validation_split_percentage = 5 for run_clm; 10 is steadier for small
// classification sets).
const DefaultValidRatio = 0.1

// Spec says which files make a dataset and how to tokenize them.
type Spec struct {
	Task Task
	// Train is required. Valid "" carves ValidRatio of Train's records out
	// (by document, before packing, deterministic in Seed). Test is optional.
	Train, Valid, Test string
	// ValidRatio is the share of Train's records carved out when Valid is "";
	// 0 means DefaultValidRatio. Ignored when Valid is given.
	ValidRatio float64
	// Field names; "" takes ReadOptions' defaults ("text", "label", "id").
	// ID DeriveIDs ("-") derives every id from "<file base>:<line>".
	Text, Label, ID string
	// SeqLen is the number of tokens per sequence: the model's context or
	// smaller. Required.
	SeqLen int
	// Seed chooses the carved validation records.
	Seed uint64
	// Labels fixes the label order (id → name), e.g. that of an existing
	// classifier. nil takes the distinct labels of Train, sorted (numerically
	// when all are integers, so "2" < "10").
	Labels []string
	// CacheDir holds tokenized datasets; "" disables the cache.
	CacheDir string
}

// Dataset is a tokenized dataset, ready for batching.
type Dataset struct {
	Spec Spec // as given, with defaults filled in
	// Labels is the classification label map, id → name; save it with the
	// model. nil for causal LM.
	Labels             []string
	Train, Valid, Test *Split // Test is nil when Spec.Test is ""
	Report             Report
}

// Split is one part of a dataset: sequences, their labels and their ids, in
// file order (shuffle with Shuffle, batch with Batches).
type Split struct {
	Name string // "train", "valid" or "test"
	// Seqs are token ids, each of length ≤ SeqLen (causal LM: exactly
	// SeqLen), special tokens included.
	Seqs [][]int
	// Labels holds the label id of each sequence (classification); nil for
	// causal LM.
	Labels []int
	// IDs names each sequence: the record id for classification,
	// "<doc id>#<k>" for the k-th (from 0) causal LM block that starts in
	// that document.
	IDs []string
}

// Len is the number of sequences.
func (s *Split) Len() int { return len(s.Seqs) }

// Report counts what Load did, for logs.
type Report struct {
	Train, Valid, Test SplitReport
	// DerivedIDs counts records (all files) whose id was derived from
	// "<file base>:<line>".
	DerivedIDs int
	// ValidCarved is true when Valid was carved out of Train.
	ValidCarved bool
	// CacheHit is true when the splits came from CacheFile.
	CacheHit  bool
	CacheFile string // "" when the cache is disabled
	// CacheProblem says why an existing cache file was not used (corrupt,
	// truncated, unreadable); it was rebuilt. "" otherwise.
	CacheProblem string
}

// SplitReport counts one split.
type SplitReport struct {
	File    string // the file read ("<train> (carved)" for a carved split)
	Records int    // records (documents for causal LM) read
	Seqs    int    // sequences made
	Tokens  int    // tokens in Seqs
	// Truncated counts classification sequences cut to SeqLen.
	Truncated int
	// DroppedTokens counts causal LM tokens in the last partial block,
	// which is dropped as run_clm does.
	DroppedTokens int
}

// String gives one line per split, for logs.
func (r Report) String() string {
	var b strings.Builder
	line := func(name string, s SplitReport) {
		fmt.Fprintf(&b, "%-5s %s: %d records → %d sequences, %d tokens", name, s.File, s.Records, s.Seqs, s.Tokens)
		if s.Truncated > 0 {
			fmt.Fprintf(&b, ", %d truncated", s.Truncated)
		}
		if s.DroppedTokens > 0 {
			fmt.Fprintf(&b, ", %d tokens dropped", s.DroppedTokens)
		}
		b.WriteByte('\n')
	}
	line("train", r.Train)
	line("valid", r.Valid)
	if r.Test.File != "" {
		line("test", r.Test)
	}
	fmt.Fprintf(&b, "derived ids %d", r.DerivedIDs)
	switch {
	case r.CacheFile == "":
		b.WriteString(", cache off")
	case r.CacheHit:
		fmt.Fprintf(&b, ", cache hit %s", r.CacheFile)
	default:
		fmt.Fprintf(&b, ", cache miss %s", r.CacheFile)
	}
	if r.CacheProblem != "" {
		fmt.Fprintf(&b, " (%s)", r.CacheProblem)
	}
	return b.String()
}

// resolve fills defaults and checks the spec. Errors name the field.
func (s Spec) resolve() (Spec, error) {
	switch s.Task {
	case CausalLM, Classification:
	case "":
		return s, fmt.Errorf("data: task is empty: want %q or %q", CausalLM, Classification)
	default:
		return s, fmt.Errorf("data: task %q is unknown: want %q or %q", s.Task, CausalLM, Classification)
	}
	if s.Train == "" {
		return s, fmt.Errorf("data: no training file (train) given")
	}
	if s.SeqLen < 1 {
		return s, fmt.Errorf("data: seq_len is %d: want the number of tokens per sequence (the model's context or smaller)", s.SeqLen)
	}
	opt := ReadOptions{TextField: s.Text, LabelField: s.Label, IDField: s.ID}.withDefaults()
	s.Text, s.Label, s.ID = opt.TextField, opt.LabelField, opt.IDField
	if s.Valid == "" {
		if s.ValidRatio == 0 {
			s.ValidRatio = DefaultValidRatio
		}
		if !(s.ValidRatio > 0 && s.ValidRatio < 1) {
			return s, fmt.Errorf("data: valid_ratio is %v: want a share of the training data between 0 and 1 (or give a valid file)", s.ValidRatio)
		}
	}
	if s.Labels != nil {
		if s.Task != Classification {
			return s, fmt.Errorf("data: labels are given but the task is %q: labels are for %q", s.Task, Classification)
		}
		if len(s.Labels) < 2 {
			return s, fmt.Errorf("data: the model has %d label(s): classification needs at least 2", len(s.Labels))
		}
		seen := map[string]bool{}
		for _, l := range s.Labels {
			if l == "" || seen[l] {
				return s, fmt.Errorf("data: the model's labels %q have an empty or repeated label %q", s.Labels, l)
			}
			seen[l] = true
		}
	}
	return s, nil
}

// readOptions are the ReadRecords options of the spec's files.
func (s Spec) readOptions() ReadOptions {
	return ReadOptions{TextField: s.Text, LabelField: s.Label, IDField: s.ID, RequireLabel: s.Task == Classification}
}

// Load reads the spec's files, tokenizes them and returns the splits. tokKey
// identifies the tokenizer's files for the cache (see TokenizerKey); it may
// be "" when the cache is off.
//
// Tokenizing runs on parallel.Workers() goroutines; the output does not
// depend on their number. With a CacheDir, a dataset tokenized before from
// the same file contents, tokenizer and spec is read back instead (see
// cache.go for what the key covers); a corrupt cache file is reported in
// Report.CacheProblem and rebuilt.
//
// Load panics if tok is nil.
func Load(spec Spec, tok Tokenizer, tokKey string) (*Dataset, error) {
	if tok == nil {
		panic("data: Load: nil Tokenizer")
	}
	spec, err := spec.resolve()
	if err != nil {
		return nil, err
	}
	enc, err := newEncoder(spec, tok)
	if err != nil {
		return nil, err
	}
	files, err := readSpecFiles(spec)
	if err != nil {
		return nil, err
	}
	ds := &Dataset{Spec: spec}
	var cachePath, key string
	if spec.CacheDir != "" {
		key = cacheKey(spec, tokKey, enc.fingerprint(), files)
		cachePath = filepath.Join(spec.CacheDir, key+".bin")
		ds.Report.CacheFile = cachePath
		problem, ok := readCache(cachePath, key, ds)
		if ok {
			ds.Report.CacheHit = true
			ds.setFiles()
			return ds, nil
		}
		ds.Report.CacheProblem = problem
	}
	if err := build(ds, enc, files); err != nil {
		return nil, err
	}
	ds.setFiles()
	if cachePath != "" {
		if err := os.MkdirAll(spec.CacheDir, 0o777); err != nil {
			return nil, fmt.Errorf("data: dataset cache: %w (--no-cache, or no_cache in a config file, works without a cache)", err)
		}
		if err := writeCache(cachePath, key, ds); err != nil {
			return nil, fmt.Errorf("data: dataset cache: %w (--no-cache, or no_cache in a config file, works without a cache)", err)
		}
	}
	return ds, nil
}

// setFiles fills the file names of the report, which the cache does not
// store because the same contents may live elsewhere next time.
func (ds *Dataset) setFiles() {
	ds.Report.Train.File = ds.Spec.Train
	if ds.Report.ValidCarved {
		ds.Report.Valid.File = ds.Spec.Train + " (carved)"
	} else {
		ds.Report.Valid.File = ds.Spec.Valid
	}
	ds.Report.Test.File = ds.Spec.Test
}

// specFile is one file of a spec, read once so that the cache key and the
// records come from the same bytes.
type specFile struct {
	role, path string // role: "train", "valid" or "test"
	data       []byte
}

// readSpecFiles reads Train, and Valid and Test when given.
func readSpecFiles(spec Spec) ([]specFile, error) {
	var files []specFile
	for _, f := range []specFile{{role: "train", path: spec.Train}, {role: "valid", path: spec.Valid}, {role: "test", path: spec.Test}} {
		if f.path == "" {
			continue
		}
		b, err := os.ReadFile(f.path)
		if err != nil {
			return nil, fmt.Errorf("data: %s file: %w", f.role, err)
		}
		f.data = b
		files = append(files, f)
	}
	return files, nil
}
