package coreset

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/internal/atomicfile"
)

// utf8BOM is kept at the head of the output when the input has one, as a
// spreadsheet program that wrote it expects.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// span is one record of the input: its id, its line (as data.Record.Line)
// and its bytes.
type span struct {
	id   string
	line int
	raw  []byte
}

// WriteSubset writes the records of the data file in whose ids keep marks
// true to out, in the input's own format and order, and returns how many it
// wrote. out is replaced atomically (internal/atomicfile) and may be in.
//
//   - .jsonl, .ndjson: each kept line is copied byte for byte (a CRLF file
//     keeps its \r), each ended by \n; blank lines are dropped.
//   - .csv, .tsv: the header row and each kept row are copied byte for byte
//     (quoting and line endings as in the input).
//
// Ids follow data.ReadRecords: the idField key or column ("" means
// data.DefaultIDField), integers as their decimal string, and
// "<file base>:<line>" for a record without an id or for every record when
// idField is data.DeriveIDs. Derived ids name lines of the input; the output
// has other line numbers, so read it with ids in the file (or derive anew)
// rather than expecting the same derived ids back.
//
// Only what ids need is checked: malformed JSON or CSV, a row with the wrong
// number of fields, an id that is neither a string nor an integer, and a
// duplicate id (naming both lines). Errors also: an id marked true in keep
// that is not in the file (naming it and how many are missing), nothing
// marked to keep, and a format that has no rows to copy (.txt is one
// document; .parquet is not written here: convert it to JSONL first).
func WriteSubset(in, out string, keep map[string]bool, idField string) (int, error) {
	if idField == "" {
		idField = data.DefaultIDField
	}
	want := 0
	for _, k := range keep {
		if k {
			want++
		}
	}
	if want == 0 {
		return 0, fmt.Errorf("coreset: write subset of %s: no ids to keep", in)
	}
	b, err := os.ReadFile(in)
	if err != nil {
		return 0, fmt.Errorf("coreset: %w", err)
	}
	bom := bytes.HasPrefix(b, utf8BOM)
	b = bytes.TrimPrefix(b, utf8BOM)
	var head []byte
	var recs []span
	switch ext := strings.ToLower(filepath.Ext(in)); ext {
	case ".jsonl", ".ndjson":
		recs, err = jsonlSpans(in, b, idField)
	case ".csv", ".tsv":
		sep := ','
		if ext == ".tsv" {
			sep = '\t'
		}
		head, recs, err = csvSpans(in, b, sep, idField)
	default:
		return 0, fmt.Errorf("coreset: write subset of %s: extension %q has no rows to copy: want .jsonl, .ndjson, .csv or .tsv", in, ext)
	}
	if err != nil {
		return 0, err
	}
	if err := missingIDs(in, keep, recs); err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	if bom {
		buf.Write(utf8BOM)
	}
	writeLine(&buf, head)
	n := 0
	for _, r := range recs {
		if keep[r.id] {
			writeLine(&buf, r.raw)
			n++
		}
	}
	if err := atomicfile.WriteFile(out, buf.Bytes(), 0o666); err != nil {
		return 0, fmt.Errorf("coreset: %w", err)
	}
	return n, nil
}

// writeLine writes raw and, unless it already ends with one, a newline.
func writeLine(buf *bytes.Buffer, raw []byte) {
	if len(raw) == 0 {
		return
	}
	buf.Write(raw)
	if raw[len(raw)-1] != '\n' {
		buf.WriteByte('\n')
	}
}

// missingIDs reports the ids marked true in keep that recs lacks.
func missingIDs(path string, keep map[string]bool, recs []span) error {
	have := make(map[string]bool, len(recs))
	for _, r := range recs {
		have[r.id] = true
	}
	var missing []string
	for id, k := range keep {
		if k && !have[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return fmt.Errorf("coreset: write subset of %s: %d ids to keep are not in the file, e.g. %q: check the id field", path, len(missing), missing[0])
}

// idSink derives and checks ids as data.ReadRecords does.
type idSink struct {
	path, base, field string
	seen              map[string]int // id → line
	recs              []span
}

func newIDSink(path, field string) *idSink {
	return &idSink{path: path, base: filepath.Base(path), field: field, seen: map[string]int{}}
}

// add records one row; id is the file's id ("" when it has none).
func (s *idSink) add(line int, id string, raw []byte) error {
	if id == "" || s.field == data.DeriveIDs {
		id = s.base + ":" + strconv.Itoa(line)
	}
	if prev, dup := s.seen[id]; dup {
		return fmt.Errorf("coreset: %s:%d: duplicate id %q (also on line %d): ids must be unique; set the id field to %q to derive them from the line", s.path, line, id, prev, data.DeriveIDs)
	}
	s.seen[id] = line
	s.recs = append(s.recs, span{id, line, raw})
	return nil
}

// jsonlSpans splits a JSONL file (BOM removed) into records, lines counted
// from 1 including blank ones.
func jsonlSpans(path string, b []byte, field string) ([]span, error) {
	s := newIDSink(path, field)
	for line, raw := range data.Lines(b) {
		trimmed := bytes.TrimSpace(raw)
		if len(trimmed) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &obj); err != nil || obj == nil {
			return nil, fmt.Errorf("coreset: %s:%d: not a JSON object: each line must be one {...} record", path, line)
		}
		id, err := jsonID(obj[field])
		if err != nil {
			return nil, fmt.Errorf("coreset: %s:%d: field %q: %v", path, line, field, err)
		}
		if err := s.add(line, id, raw); err != nil {
			return nil, err
		}
	}
	return s.recs, nil
}

// jsonID reads an id as data.ReadRecords does: a string, or an integer
// (data.CanonicalInteger: 3, 3.0 and 3e0 all give "3"); absent or null
// gives "".
func jsonID(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var v string
		err := json.Unmarshal(raw, &v)
		return v, err
	}
	v, err := data.CanonicalInteger(string(raw))
	if err != nil {
		return "", fmt.Errorf("%s is not a string or an integer", raw)
	}
	return v, nil
}

// csvSpans splits a CSV or TSV file (BOM removed) into its header and rows,
// each row's bytes cut at the reader's input offsets so that quoting and
// line endings survive.
func csvSpans(path string, b []byte, sep rune, field string) ([]byte, []span, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.Comma = sep
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err == io.EOF {
		return nil, nil, fmt.Errorf("coreset: %s: empty file", path)
	}
	if err != nil {
		return nil, nil, csvErr(path, err)
	}
	prev := r.InputOffset()
	head := b[:prev]
	idCol := slices.Index(header, field)
	s := newIDSink(path, field)
	for {
		row, err := r.Read()
		if err == io.EOF {
			return head, s.recs, nil
		}
		if err != nil {
			return nil, nil, csvErr(path, err)
		}
		line, _ := r.FieldPos(0)
		if len(row) != len(header) {
			return nil, nil, fmt.Errorf("coreset: %s:%d: %d fields, but the header has %d", path, line, len(row), len(header))
		}
		off := r.InputOffset()
		// The reader skips blank lines before a row; they are not the row's.
		raw := bytes.TrimLeft(b[prev:off], "\r\n")
		prev = off
		id := ""
		if idCol >= 0 {
			id = row[idCol]
		}
		if err := s.add(line, id, raw); err != nil {
			return nil, nil, err
		}
	}
}

func csvErr(path string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("coreset: %s:%d: malformed row: %v", path, pe.Line, pe.Err)
	}
	return fmt.Errorf("coreset: %s: %v", path, err)
}
