package data

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// utf8BOM is the byte-order mark that some editors and spreadsheet programs
// put at the start of a file; left in place it would become part of the
// first column name, the first JSON line or the document.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// parseCSV reads a header row and then one record per row, with RFC 4180
// quoting (encoding/csv with LazyQuotes off). sep is ',' or '\t'.
func parseCSV(s *recordSink, b []byte, sep rune) error {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, utf8BOM)))
	r.Comma = sep
	r.FieldsPerRecord = -1 // checked below, with a clearer message
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		return nil // empty file: no records
	}
	if err != nil {
		return csvError(s, err)
	}
	headerLine, _ := r.FieldPos(0)
	cols := map[string]int{}
	for i, name := range header {
		if _, dup := cols[name]; dup {
			return s.errf(headerLine, "header names the column %q twice", name)
		}
		cols[name] = i
	}
	textCol, ok := cols[s.opt.TextField]
	if !ok {
		return s.errf(headerLine, "the header has no %q column (it has: %s); set the text field name if it is called something else",
			s.opt.TextField, strings.Join(header, ", "))
	}
	labelCol, hasLabel := cols[s.opt.LabelField]
	idCol, hasID := cols[s.opt.IDField]
	get := func(row []string, col int, has bool) field {
		if !has {
			return field{}
		}
		return field{row[col], true}
	}
	for {
		row, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return csvError(s, err)
		}
		line, _ := r.FieldPos(0)
		if len(row) != len(header) {
			return s.errf(line, "%d fields, but the header has %d (quote fields that hold the separator)", len(row), len(header))
		}
		if err := s.add(line, field{row[textCol], true}, get(row, labelCol, hasLabel), get(row, idCol, hasID)); err != nil {
			return err
		}
	}
}

// csvError turns an encoding/csv error into a one-line "path:line: ..." error.
func csvError(s *recordSink, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return s.errf(pe.Line, "malformed %s: %v (column %d; quote a field with \"...\" and write a quote inside it as \"\")",
			strings.ToUpper(s.rep.Format), pe.Err, pe.Column)
	}
	return fmt.Errorf("%s: %v", s.path, err)
}
