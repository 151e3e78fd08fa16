package data

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// recordsDir holds the hand-made files of the reader tests.
const recordsDir = "testdata/datasets"

func TestReadRecordsJSONL(t *testing.T) {
	recs, rep, err := ReadRecords(filepath.Join(recordsDir, "reviews.jsonl"), ReadOptions{RequireLabel: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{
		{ID: "r1", Text: "Great film, would watch again.", Label: "pos", Line: 1},
		{ID: "r2", Text: "Dull.\nVery dull.", Label: "neg", Line: 3},
		{ID: "7", Text: "café crème", Label: "1", Line: 4},
		{ID: "reviews.jsonl:5", Text: "no id here", Label: "pos", Line: 5},
	}
	if !reflect.DeepEqual(recs, want) {
		t.Errorf("records\n got %+v\nwant %+v", recs, want)
	}
	if rep.Format != "jsonl" || rep.Records != 4 || rep.DerivedIDs != 1 || rep.BlankLines != 1 {
		t.Errorf("report %+v", rep)
	}
}

func TestReadRecordsCSVQuoting(t *testing.T) {
	recs, rep, err := ReadRecords(filepath.Join(recordsDir, "reviews.csv"), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{
		{ID: "a1", Text: "Hello, world", Label: "pos", Line: 2},
		{ID: "a2", Text: `She said "hi"`, Label: "neg", Line: 3},
		// encoding/csv turns the quoted CRLF into "\n"; the record starts
		// on line 4 and the next one on line 6.
		{ID: "a3", Text: "two\nlines", Label: "pos", Line: 4},
		{ID: "a4", Text: "plain", Label: "neg", Line: 6},
	}
	if !reflect.DeepEqual(recs, want) {
		t.Errorf("records\n got %+v\nwant %+v", recs, want)
	}
	if rep.Format != "csv" || rep.DerivedIDs != 0 {
		t.Errorf("report %+v", rep)
	}
}

func TestReadRecordsTSV(t *testing.T) {
	recs, rep, err := ReadRecords(filepath.Join(recordsDir, "reviews.tsv"), ReadOptions{RequireLabel: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{
		{ID: "reviews.tsv:2", Text: "plain words", Label: "0", Line: 2},
		{ID: "reviews.tsv:3", Text: "has\ta tab", Label: "1", Line: 3},
	}
	if !reflect.DeepEqual(recs, want) {
		t.Errorf("records\n got %+v\nwant %+v", recs, want)
	}
	if rep.DerivedIDs != 2 {
		t.Errorf("DerivedIDs = %d, want 2", rep.DerivedIDs)
	}
}

func TestReadRecordsTXT(t *testing.T) {
	path := filepath.Join(recordsDir, "story.txt")
	recs, _, err := ReadRecords(path, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{{ID: "story.txt:1", Text: string(b), Line: 1}}
	if !reflect.DeepEqual(recs, want) {
		t.Errorf("records\n got %+v\nwant %+v", recs, want)
	}
}

// TestReadRecordsDeriveIDs reads a file whose ids repeat (as the shared
// SpamAssassin files' do across groups) with the id field DeriveIDs.
func TestReadRecordsDeriveIDs(t *testing.T) {
	path := writeTempFile(t, "g.jsonl", "{\"id\": \"1\", \"text\": \"a\"}\n{\"id\": \"1\", \"text\": \"b\"}\n")
	recs, rep, err := ReadRecords(path, ReadOptions{IDField: DeriveIDs})
	if err != nil {
		t.Fatal(err)
	}
	if recs[0].ID != "g.jsonl:1" || recs[1].ID != "g.jsonl:2" || rep.DerivedIDs != 2 {
		t.Errorf("ids %q %q, derived %d", recs[0].ID, recs[1].ID, rep.DerivedIDs)
	}
}

func TestReadRecordsFieldNames(t *testing.T) {
	path := writeTempFile(t, "named.jsonl", `{"sentence": "a b", "y": 3, "guid": "g1"}`+"\n")
	recs, _, err := ReadRecords(path, ReadOptions{TextField: "sentence", LabelField: "y", IDField: "guid", RequireLabel: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Record{ID: "g1", Text: "a b", Label: "3", Line: 1}); recs[0] != want {
		t.Errorf("got %+v, want %+v", recs[0], want)
	}
}

// parquetRow is the schema of the test Parquet files: the column types
// Hugging Face writes (string, int64 ClassLabel), an optional id (the zero
// value is written as null) and a column of another type.
type parquetRow struct {
	ID    string  `parquet:"id,optional"`
	Text  string  `parquet:"text,optional"`
	Label int64   `parquet:"label"`
	Score float64 `parquet:"score"`
}

// writeParquet writes rows to a Parquet file in a temporary directory.
func writeParquet(t *testing.T, name string, rows []parquetRow) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// Two rows per row group, so that reading crosses row groups.
	w := parquet.NewGenericWriter[parquetRow](f, parquet.MaxRowsPerRowGroup(2))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadRecordsParquet(t *testing.T) {
	path := writeParquet(t, "train.parquet", []parquetRow{
		{ID: "x1", Text: "first", Label: 0, Score: 0.5},
		{Text: "second, no id", Label: 1},
		{ID: "x3", Text: "dritte Zeile: ü", Label: 12},
	})
	recs, rep, err := ReadRecords(path, ReadOptions{RequireLabel: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{
		{ID: "x1", Text: "first", Label: "0", Line: 1},
		{ID: "train.parquet:2", Text: "second, no id", Label: "1", Line: 2},
		{ID: "x3", Text: "dritte Zeile: ü", Label: "12", Line: 3},
	}
	if !reflect.DeepEqual(recs, want) {
		t.Errorf("records\n got %+v\nwant %+v", recs, want)
	}
	if rep.Format != "parquet" || rep.DerivedIDs != 1 {
		t.Errorf("report %+v", rep)
	}
}

func TestReadRecordsParquetErrors(t *testing.T) {
	rows := []parquetRow{{ID: "a", Text: "one", Label: 1}, {ID: "b", Label: 2}}
	path := writeParquet(t, "rows.parquet", rows)
	bad := writeTempFile(t, "junk.parquet", "this is not parquet")
	for _, tc := range []struct {
		name, path string
		opt        ReadOptions
		want       string
	}{
		{"null text", path, ReadOptions{}, "rows.parquet:2: no \"text\" field"},
		{"missing column", path, ReadOptions{TextField: "body"}, "rows.parquet: no \"body\" column (the file has: [id text label score])"},
		{"wrong type", path, ReadOptions{TextField: "score"}, "rows.parquet: column \"score\" has type DOUBLE; want string"},
		{"label wrong type", path, ReadOptions{LabelField: "score"}, "column \"score\" has type DOUBLE; want string or integer"},
		{"not parquet", bad, ReadOptions{}, "junk.parquet: not a readable Parquet file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadRecords(tc.path, tc.opt)
			checkOneLineError(t, err, tc.want)
		})
	}
}

// TestReadRecordsErrors covers every error case of ReadRecords: each is one
// line and starts with "<path>:<line>: " (or "<path>: " where the problem has
// no line).
func TestReadRecordsErrors(t *testing.T) {
	label := ReadOptions{RequireLabel: true}
	for _, tc := range []struct {
		name, file, content string
		opt                 ReadOptions
		want                string // the error after "<dir>/"
	}{
		{"malformed JSON", "spam.jsonl", "{\"text\": \"a\"}\n" + strings.Repeat("{\"text\": \"b\"}\n", 15) + "{\"text\": }\n", ReadOptions{},
			"spam.jsonl:17: malformed JSON: invalid character '}' looking for beginning of value"},
		{"truncated JSON", "t.jsonl", `{"text": "a"`, ReadOptions{}, "t.jsonl:1: malformed JSON: unexpected end of JSON input"},
		{"array line", "a.jsonl", "{\"text\": \"a\"}\n[1, 2]\n", ReadOptions{}, "a.jsonl:2: not a JSON object (got array)"},
		{"string line", "s.jsonl", "\"just text\"\n", ReadOptions{}, "s.jsonl:1: not a JSON object (got string)"},
		{"null line", "n.jsonl", "null\n", ReadOptions{}, "n.jsonl:1: not a JSON object (got null)"},
		{"missing text", "m.jsonl", "\n{\"body\": \"x\", \"id\": 1}\n", ReadOptions{}, "m.jsonl:2: no \"text\" field (the object has: body, id)"},
		{"null text", "m.jsonl", `{"text": null}`, ReadOptions{}, "m.jsonl:1: no \"text\" field"},
		{"empty text", "e.jsonl", `{"text": ""}`, ReadOptions{}, "e.jsonl:1: empty \"text\" field"},
		{"text not string", "n.jsonl", `{"text": 5}`, ReadOptions{}, "n.jsonl:1: field \"text\" is a number, want a string"},
		{"missing label", "l.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\"}\n", label, "l.jsonl:2: no \"label\" label"},
		{"empty label", "l.jsonl", `{"text": "a", "label": ""}`, label, "l.jsonl:1: no \"label\" label"},
		{"fractional label", "f.jsonl", `{"text": "a", "label": 0.5}`, label, "f.jsonl:1: field \"label\": 0.5 is not an integer"},
		{"bool label", "b.jsonl", `{"text": "a", "label": true}`, label, "b.jsonl:1: field \"label\" is a boolean, want a string or an integer"},
		{"object id", "o.jsonl", `{"text": "a", "id": {}}`, ReadOptions{}, "o.jsonl:1: field \"id\" is an object"},
		{"duplicate id", "d.jsonl", "{\"id\": \"x\", \"text\": \"a\"}\n\n{\"id\": \"x\", \"text\": \"b\"}\n", ReadOptions{},
			"d.jsonl:3: duplicate id \"x\" (also on line 1)"},
		{"duplicate integer id", "d.jsonl", "{\"id\": 4, \"text\": \"a\"}\n{\"id\": \"4\", \"text\": \"b\"}\n", ReadOptions{},
			"d.jsonl:2: duplicate id \"4\" (also on line 1)"},
		{"invalid UTF-8 JSONL", "u.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"caf\xe9\"}\n", ReadOptions{}, "u.jsonl:2: invalid UTF-8 at byte 13 of the line"},
		{"BOM then bad line", "bom.jsonl", "\ufeff{\"text\": \"a\"}\n{\"text\": 1}\n", ReadOptions{}, "bom.jsonl:2: field \"text\" is a number"},
		{"empty JSONL", "train.jsonl", "", ReadOptions{}, "train.jsonl: no records"},
		{"blank JSONL", "train.jsonl", "\n  \n\r\n", ReadOptions{}, "train.jsonl: no records"},

		{"CSV field count", "c.csv", "text,label\na,b\nc\n", ReadOptions{}, "c.csv:3: 1 fields, but the header has 2"},
		{"CSV too many fields", "c.csv", "text,label\na,b,c\n", ReadOptions{}, "c.csv:2: 3 fields, but the header has 2"},
		{"CSV bare quote", "q.csv", "text\nsay \"hi\"\n", ReadOptions{}, "q.csv:2: malformed CSV: bare \" in non-quoted-field"},
		{"CSV open quote", "q.csv", "text\n\"never closed\n", ReadOptions{}, "q.csv:2: malformed CSV: extraneous or missing \" in quoted-field"},
		{"CSV no text column", "h.csv", "body,label\na,b\n", ReadOptions{}, "h.csv:1: the header has no \"text\" column (it has: body, label)"},
		{"CSV duplicate column", "h.csv", "text,text\na,b\n", ReadOptions{}, "h.csv:1: header names the column \"text\" twice"},
		{"CSV empty text", "e.csv", "id,text\n1,\n", ReadOptions{}, "e.csv:2: empty \"text\" field"},
		{"CSV missing label", "l.csv", "text,label\na,x\nb,\n", label, "l.csv:3: no \"label\" label"},
		{"CSV no label column", "l.csv", "text\na\n", label, "l.csv:2: no \"label\" label"},
		{"CSV invalid UTF-8", "u.csv", "text\nok\nbad\xff\n", ReadOptions{}, "u.csv:3: invalid UTF-8 in the \"text\" field at byte 3"},
		{"CSV duplicate id", "d.csv", "id,text\n7,a\n8,b\n7,c\n", ReadOptions{}, "d.csv:4: duplicate id \"7\" (also on line 2)"},
		{"CSV header only", "train.csv", "text,label\n", ReadOptions{}, "train.csv: no records"},
		{"CSV empty", "train.csv", "", ReadOptions{}, "train.csv: no records"},
		{"TSV field count", "t.tsv", "text\tlabel\na\tb\nc\td\te\n", ReadOptions{}, "t.tsv:3: 3 fields, but the header has 2"},
		{"TSV bare quote", "t.tsv", "text\nsay \"hi\"\n", ReadOptions{}, "t.tsv:2: malformed TSV: bare \" in non-quoted-field"},

		{"TXT invalid UTF-8", "doc.txt", "fine\nalso fine\nnot \xc3\x28 fine\n", ReadOptions{}, "doc.txt:3: invalid UTF-8 at byte 19 of the file"},
		{"TXT empty", "doc.txt", " \n\t\n", ReadOptions{}, "doc.txt: no records"},
		{"TXT with labels", "doc.txt", "text", label, "doc.txt: a .txt file is one unlabelled document"},

		{"unknown extension", "data.xlsx", "text\na\n", ReadOptions{}, "data.xlsx: unknown extension \".xlsx\": want .jsonl, .ndjson, .csv, .tsv, .txt or .parquet"},
		{"no extension", "data", "text\na\n", ReadOptions{}, "data: unknown extension \"\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTempFile(t, tc.file, tc.content)
			_, _, err := ReadRecords(path, tc.opt)
			checkOneLineError(t, err, filepath.Join(filepath.Dir(path), tc.want))
		})
	}
}

func TestReadRecordsMissingFile(t *testing.T) {
	_, _, err := ReadRecords(filepath.Join(t.TempDir(), "nope.jsonl"), ReadOptions{})
	checkOneLineError(t, err, "nope.jsonl: no such file or directory")
}

// writeTempFile writes content to a file called name in a new temporary
// directory and returns its path.
func writeTempFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o666); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkOneLineError fails unless err is a one-line error containing want.
func checkOneLineError(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error spans lines: %q", msg)
	}
	if !strings.Contains(msg, want) {
		t.Errorf("error\n got %q\nwant it to contain %q", msg, want)
	}
}
