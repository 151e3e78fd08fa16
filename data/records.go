package data

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Record is one input example as read from a file.
type Record struct {
	// ID is the file's id field, or "<file base>:<line>" when the record has
	// none (see ReadReport.DerivedIDs).
	ID string
	// Text is the text field: never empty, always valid UTF-8.
	Text string
	// Label is the label field, "" when the record has none. Integer labels
	// (JSON numbers, Parquet int columns) are given as decimal strings.
	Label string
	// Line is the 1-based line where the record starts (JSONL, CSV, TSV; 1
	// for .txt) or its 1-based row (Parquet), for messages.
	Line int
}

// ReadOptions names the fields ReadRecords reads. Empty names take the
// defaults, which are the column names Hugging Face datasets use.
type ReadOptions struct {
	TextField  string // key or column of the text; default "text"
	LabelField string // key or column of the label; default "label"
	// IDField is the key or column of the example id; default "id".
	// DeriveIDs ignores any id in the file and derives every id.
	IDField string
	// RequireLabel makes a record without a label an error (classification).
	RequireLabel bool
}

// Default field names, as in Hugging Face datasets.
const (
	DefaultTextField  = "text"
	DefaultLabelField = "label"
	DefaultIDField    = "id"

	// DeriveIDs as the id field makes every id "<file base>:<line>", for
	// files whose ids are not unique (e.g. unique only within a group).
	DeriveIDs = "-"
)

func (o ReadOptions) withDefaults() ReadOptions {
	if o.TextField == "" {
		o.TextField = DefaultTextField
	}
	if o.LabelField == "" {
		o.LabelField = DefaultLabelField
	}
	if o.IDField == "" {
		o.IDField = DefaultIDField
	}
	return o
}

// ReadReport says what ReadRecords found in one file.
type ReadReport struct {
	Path    string
	Format  string // "jsonl", "csv", "tsv", "txt" or "parquet"
	Records int
	// DerivedIDs counts the records whose id was derived as
	// "<file base>:<line>" because they had no id field; 0 means every id
	// came from the file, Records means none did.
	DerivedIDs int
	// BlankLines counts the blank lines skipped in a JSONL file.
	BlankLines int
}

// ReadRecords reads the examples in a file. The format follows the
// extension (case-insensitive):
//
//   - .jsonl, .ndjson: one JSON object per line; blank lines are skipped.
//   - .csv, .tsv: a header row names the fields; RFC 4180 quoting (a field
//     may be quoted to hold the separator, a newline or "" for a quote).
//   - .txt: the whole file is one document, for language modelling.
//   - .parquet: as in Hugging Face dataset repositories; the fields are
//     top-level columns of type string (large_string is the same in
//     Parquet) or, for labels and ids, int32/int64.
//
// Labels and ids may be strings or integers; integers become their decimal
// string. A record without an id (or every record, with opt.IDField
// DeriveIDs) gets "<file base>:<line>". The whole file is read into memory.
//
// Every error is one line that names the file and, where there is one, the
// line (row for Parquet): malformed JSON or CSV, a JSONL line that is not an
// object, a missing or empty text field, a missing label when
// opt.RequireLabel, a CSV row with the wrong number of fields, invalid UTF-8,
// a duplicate id (naming both lines), an unknown extension, or a file with
// no records.
func ReadRecords(path string, opt ReadOptions) ([]Record, *ReadReport, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("data: %w", err)
	}
	return parseRecords(path, b, opt)
}

// recordFormats maps lower-case extensions to the format names of ReadReport.
var recordFormats = map[string]string{
	".jsonl": "jsonl", ".ndjson": "jsonl",
	".csv": "csv", ".tsv": "tsv",
	".txt":     "txt",
	".parquet": "parquet",
}

// parseRecords is ReadRecords on the file's contents, so that Load can hash
// and parse the same bytes.
func parseRecords(path string, b []byte, opt ReadOptions) ([]Record, *ReadReport, error) {
	ext := strings.ToLower(filepath.Ext(path))
	format, ok := recordFormats[ext]
	if !ok {
		return nil, nil, fmt.Errorf("%s: unknown extension %q: want .jsonl, .ndjson, .csv, .tsv, .txt or .parquet", path, ext)
	}
	s := &recordSink{
		path: path,
		base: filepath.Base(path),
		opt:  opt.withDefaults(),
		rep:  &ReadReport{Path: path, Format: format},
		seen: map[string]int{},
	}
	var err error
	switch format {
	case "jsonl":
		err = parseJSONL(s, b)
	case "csv":
		err = parseCSV(s, b, ',')
	case "tsv":
		err = parseCSV(s, b, '\t')
	case "txt":
		err = parseTXT(s, b)
	case "parquet":
		err = parseParquet(s, b)
	}
	if err != nil {
		return nil, nil, err
	}
	if len(s.recs) == 0 {
		return nil, nil, fmt.Errorf("%s: no records", path)
	}
	s.rep.Records = len(s.recs)
	return s.recs, s.rep, nil
}

// ErrDuplicateID is what the error of ReadRecords for an id that two
// records share wraps (errors.Is), so that a caller can derive ids from
// file and line instead (DeriveIDs) without reading the message.
var ErrDuplicateID = errors.New("duplicate id")

// recordSink checks and collects the records that a format parser finds.
type recordSink struct {
	path, base string
	opt        ReadOptions
	rep        *ReadReport
	recs       []Record
	seen       map[string]int // id → line, for duplicate ids
}

// field is one value a parser found: ok false when the record lacks it (or
// it is null).
type field struct {
	val string
	ok  bool
}

// add checks one record and appends it. Parsers have already checked that
// the text field exists where the format can say so with more context
// (the JSON keys, the CSV header).
func (s *recordSink) add(line int, text, label, id field) error {
	if !text.ok {
		return s.errf(line, "no %q field", s.opt.TextField)
	}
	if text.val == "" {
		return s.errf(line, "empty %q field: every record needs text", s.opt.TextField)
	}
	for _, f := range []struct {
		name string
		v    field
	}{{s.opt.TextField, text}, {s.opt.LabelField, label}, {s.opt.IDField, id}} {
		if f.v.ok && !utf8.ValidString(f.v.val) {
			return s.errf(line, "invalid UTF-8 in the %q field at byte %d", f.name, invalidUTF8At([]byte(f.v.val)))
		}
	}
	if s.opt.RequireLabel && (!label.ok || label.val == "") {
		return s.errf(line, "no %q label: classification needs a label on every record (set the label field name if it is called something else)", s.opt.LabelField)
	}
	rid := id.val
	if !id.ok || rid == "" || s.opt.IDField == DeriveIDs {
		rid = s.base + ":" + strconv.Itoa(line)
		s.rep.DerivedIDs++
	}
	if prev, dup := s.seen[rid]; dup {
		return fmt.Errorf("%s:%d: %w %q (also on %s %d): ids must be unique in a file; set the id field to %q to derive them from the line", s.path, line, ErrDuplicateID, rid, s.unit(), prev, DeriveIDs)
	}
	s.seen[rid] = line
	s.recs = append(s.recs, Record{ID: rid, Text: text.val, Label: label.val, Line: line})
	return nil
}

// unit is what Line counts in this file's format.
func (s *recordSink) unit() string {
	if s.rep.Format == "parquet" {
		return "row"
	}
	return "line"
}

// errf formats a one-line error "path:line: msg".
func (s *recordSink) errf(line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", s.path, line, fmt.Sprintf(format, args...))
}

// invalidUTF8At returns the offset of the first byte of b that is not valid
// UTF-8, or -1.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// parseTXT reads a whole file as one document.
func parseTXT(s *recordSink, b []byte) error {
	b = bytes.TrimPrefix(b, utf8BOM)
	if at := invalidUTF8At(b); at >= 0 {
		line := 1 + strings.Count(string(b[:at]), "\n")
		return s.errf(line, "invalid UTF-8 at byte %d of the file", at)
	}
	if strings.TrimSpace(string(b)) == "" {
		return nil // no records
	}
	if s.opt.RequireLabel {
		return fmt.Errorf("%s: a .txt file is one unlabelled document; classification needs labels (use .jsonl, .csv, .tsv or .parquet)", s.path)
	}
	return s.add(1, field{string(b), true}, field{}, field{})
}

// sortedKeys lists a map's keys, for messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
