package data

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/parquet-go/parquet-go"
)

// parquetBatch is how many rows are decoded at a time: enough to amortise
// the reader's per-call work, small enough that long texts stay cheap.
const parquetBatch = 256

// parquetColumn is one field to read: its leaf column index, or -1 when the
// file has no such column.
type parquetColumn struct {
	name  string
	index int
	kind  parquet.Kind
}

// parseParquet reads the text, label and id columns of a Parquet file, as
// Hugging Face dataset repositories store them (one row per example, string
// or integer columns at the top level). Line is the 1-based row.
func parseParquet(s *recordSink, b []byte) (err error) {
	// parquet-go panics on some malformed files; a bad file is a data error.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: reading Parquet: %v", s.path, r)
		}
	}()
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return fmt.Errorf("%s: not a readable Parquet file: %s", s.path, oneLine(err.Error()))
	}
	text, err := parquetLookup(s, f, s.opt.TextField, false)
	if err != nil {
		return err
	}
	if text.index < 0 {
		return fmt.Errorf("%s: no %q column (the file has: %s); set the text field name if it is called something else",
			s.path, s.opt.TextField, parquetColumnNames(f))
	}
	label, err := parquetLookup(s, f, s.opt.LabelField, true)
	if err != nil {
		return err
	}
	id, err := parquetLookup(s, f, s.opt.IDField, true)
	if err != nil {
		return err
	}

	r := parquet.NewReader(f)
	defer r.Close()
	rows := make([]parquet.Row, parquetBatch)
	for row := 0; ; {
		n, err := r.ReadRows(rows)
		for _, vals := range rows[:n] {
			row++
			var t, l, i field
			for _, v := range vals {
				switch v.Column() {
				case text.index:
					t = parquetValue(v)
				case label.index:
					l = parquetValue(v)
				case id.index:
					i = parquetValue(v)
				}
			}
			if err := s.add(row, t, l, i); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: row %d: reading Parquet: %s", s.path, row+1, oneLine(err.Error()))
		}
	}
}

// parquetLookup finds a top-level column and checks its type: byte arrays
// (string, large_string, binary) always; int32/int64 when integers.
func parquetLookup(s *recordSink, f *parquet.File, name string, integers bool) (parquetColumn, error) {
	leaf, ok := f.Schema().Lookup(name)
	if !ok {
		return parquetColumn{name: name, index: -1}, nil
	}
	c := parquetColumn{name: name, index: leaf.ColumnIndex, kind: leaf.Node.Type().Kind()}
	if leaf.MaxRepetitionLevel > 0 {
		return c, fmt.Errorf("%s: column %q is a list; want one value per row", s.path, name)
	}
	switch {
	case c.kind == parquet.ByteArray:
	case integers && (c.kind == parquet.Int32 || c.kind == parquet.Int64):
	default:
		want := "string"
		if integers {
			want = "string or integer"
		}
		return c, fmt.Errorf("%s: column %q has type %s; want %s", s.path, name, leaf.Node.Type(), want)
	}
	return c, nil
}

// parquetValue converts a value of a column that parquetLookup accepted.
// Byte arrays are copied: the reader reuses its buffers.
func parquetValue(v parquet.Value) field {
	if v.IsNull() {
		return field{}
	}
	switch v.Kind() {
	case parquet.Int32:
		return field{strconv.FormatInt(int64(v.Int32()), 10), true}
	case parquet.Int64:
		return field{strconv.FormatInt(v.Int64(), 10), true}
	}
	return field{string(v.ByteArray()), true}
}

// parquetColumnNames lists the file's top-level columns, for messages.
func parquetColumnNames(f *parquet.File) string {
	var names []string
	for _, c := range f.Schema().Fields() {
		names = append(names, c.Name())
	}
	if len(names) == 0 {
		return "no columns"
	}
	return fmt.Sprint(names)
}
