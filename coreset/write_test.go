package coreset

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/data"
)

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameIDs checks that WriteSubset's ids for path are data.ReadRecords's.
func sameIDs(t *testing.T, path, idField string, spans func() ([]span, error)) {
	t.Helper()
	recs, _, err := data.ReadRecords(path, data.ReadOptions{IDField: idField})
	if err != nil {
		t.Fatal(err)
	}
	got, err := spans()
	if err != nil {
		t.Fatal(err)
	}
	var want, have []string
	for _, r := range recs {
		want = append(want, r.ID)
	}
	for _, s := range got {
		have = append(have, s.id)
	}
	if !slices.Equal(have, want) {
		t.Errorf("ids %q, data.ReadRecords gives %q", have, want)
	}
}

const jsonlInput = "{\"id\": \"a\", \"text\": \"alpha\"}\r\n" +
	"\n" +
	"{\"text\": \"no id\"}\n" + // line 3: id "in.jsonl:3"
	"{\"id\": 7, \"text\": \"seven\"}\n" +
	"  {\"id\": 8.0, \"text\":\"eight\"}  \n" + // id "8"
	"{\"id\": \"z\", \"text\": \"last\"}" // no final newline

func TestWriteSubsetJSONL(t *testing.T) {
	in := writeFile(t, "in.jsonl", jsonlInput)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	n, err := WriteSubset(in, out, map[string]bool{"a": true, "in.jsonl:3": true, "8": true, "z": true, "7": false}, "")
	if err != nil || n != 4 {
		t.Fatalf("wrote %d, %v", n, err)
	}
	want := "{\"id\": \"a\", \"text\": \"alpha\"}\r\n" +
		"{\"text\": \"no id\"}\n" +
		"  {\"id\": 8.0, \"text\":\"eight\"}  \n" +
		"{\"id\": \"z\", \"text\": \"last\"}\n"
	if got := readFile(t, out); got != want {
		t.Errorf("wrote\n%q\nwant\n%q", got, want)
	}
	recs, _, err := data.ReadRecords(out, data.ReadOptions{})
	if err != nil || len(recs) != 4 || recs[2].Text != "eight" {
		t.Errorf("reading the subset back: %v, %+v", err, recs)
	}
	sameIDs(t, in, "", func() ([]span, error) { return jsonlSpans(in, []byte(jsonlInput), data.DefaultIDField) })
}

func TestWriteSubsetDerivedIDs(t *testing.T) {
	in := writeFile(t, "in.jsonl", jsonlInput)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	// With DeriveIDs every id is "<base>:<line>", even where the file has one.
	n, err := WriteSubset(in, out, map[string]bool{"in.jsonl:1": true, "in.jsonl:5": true}, data.DeriveIDs)
	if err != nil || n != 2 {
		t.Fatalf("wrote %d, %v", n, err)
	}
	if got, want := readFile(t, out), "{\"id\": \"a\", \"text\": \"alpha\"}\r\n  {\"id\": 8.0, \"text\":\"eight\"}  \n"; got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
	sameIDs(t, in, data.DeriveIDs, func() ([]span, error) { return jsonlSpans(in, []byte(jsonlInput), data.DeriveIDs) })
}

const csvInput = "\xEF\xBB\xBFid,text,label\r\n" +
	"r1,\"multi\nline\",0\r\n" + // lines 2–3
	"\r\n" + // blank line 4: skipped
	"r2,\"say \"\"hi\"\", ok\",1\r\n" +
	"r3,plain,0" // no final newline

func TestWriteSubsetCSV(t *testing.T) {
	in := writeFile(t, "in.csv", csvInput)
	out := filepath.Join(t.TempDir(), "out.csv")
	n, err := WriteSubset(in, out, map[string]bool{"r1": true, "r2": true, "r3": true}, "id")
	if err != nil || n != 3 {
		t.Fatalf("wrote %d, %v", n, err)
	}
	want := "\xEF\xBB\xBFid,text,label\r\nr1,\"multi\nline\",0\r\nr2,\"say \"\"hi\"\", ok\",1\r\nr3,plain,0\n"
	if got := readFile(t, out); got != want {
		t.Errorf("wrote\n%q\nwant\n%q", got, want)
	}
	n, err = WriteSubset(in, out, map[string]bool{"r2": true}, "id")
	if err != nil || n != 1 {
		t.Fatalf("wrote %d, %v", n, err)
	}
	recs, _, err := data.ReadRecords(out, data.ReadOptions{})
	if err != nil || len(recs) != 1 || recs[0].ID != "r2" || recs[0].Text != `say "hi", ok` || recs[0].Label != "1" {
		t.Errorf("reading the subset back: %v, %+v", err, recs)
	}
	body := []byte(strings.TrimPrefix(csvInput, "\xEF\xBB\xBF"))
	for _, field := range []string{"id", data.DeriveIDs, "no-such-column"} {
		sameIDs(t, in, field, func() ([]span, error) {
			_, s, err := csvSpans(in, body, ',', field)
			return s, err
		})
	}
}

func TestWriteSubsetTSV(t *testing.T) {
	in := writeFile(t, "in.tsv", "text\tid\nhello, world\tx\nbye\ty\n")
	out := filepath.Join(t.TempDir(), "out.tsv")
	if n, err := WriteSubset(in, out, map[string]bool{"y": true}, ""); err != nil || n != 1 {
		t.Fatalf("wrote %d, %v", n, err)
	}
	if got := readFile(t, out); got != "text\tid\nbye\ty\n" {
		t.Errorf("wrote %q", got)
	}
}

func TestWriteSubsetErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, text string
		keep             map[string]bool
		want             string
	}{
		{"duplicate JSONL id", "d.jsonl", "{\"id\":\"a\",\"text\":\"x\"}\n{\"id\":\"b\",\"text\":\"y\"}\n{\"id\":\"a\",\"text\":\"z\"}\n",
			map[string]bool{"b": true}, `d.jsonl:3: duplicate id "a" (also on line 1)`},
		{"duplicate integer id", "d.jsonl", "{\"id\":1,\"text\":\"x\"}\n{\"id\":\"1\",\"text\":\"y\"}\n",
			map[string]bool{"1": true}, `duplicate id "1"`},
		{"duplicate CSV id", "d.csv", "id,text\na,x\na,y\n", map[string]bool{"a": true}, `d.csv:3: duplicate id "a"`},
		{"missing id", "m.jsonl", "{\"id\":\"a\",\"text\":\"x\"}\n", map[string]bool{"a": true, "q": true, "r": true},
			`2 ids to keep are not in the file, e.g. "q"`},
		{"nothing to keep", "m.jsonl", "{\"id\":\"a\",\"text\":\"x\"}\n", map[string]bool{"a": false}, "no ids to keep"},
		{"malformed JSON", "m.jsonl", "{\"id\":\"a\",\n", map[string]bool{"a": true}, "m.jsonl:1: not a JSON object"},
		{"not an object", "m.jsonl", "[1]\n", map[string]bool{"a": true}, "m.jsonl:1: not a JSON object"},
		{"fractional id", "m.jsonl", "{\"id\":1.5,\"text\":\"x\"}\n", map[string]bool{"a": true}, "1.5 is not a string or an integer"},
		{"ragged CSV", "r.csv", "id,text\na,x,extra\n", map[string]bool{"a": true}, "r.csv:2: 3 fields, but the header has 2"},
		{"txt", "doc.txt", "one document", map[string]bool{"doc.txt:1": true}, "no rows to copy"},
		{"parquet", "t.parquet", "PAR1", map[string]bool{"a": true}, "no rows to copy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := writeFile(t, tc.file, tc.text)
			out := filepath.Join(t.TempDir(), "out"+filepath.Ext(tc.file))
			_, err := WriteSubset(in, out, tc.keep, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("output written despite the error (stat: %v)", err)
			}
		})
	}
}
