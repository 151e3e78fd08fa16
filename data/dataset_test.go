package data

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// byteTok is a byte-level Tokenizer for tests that need no files: byte b is
// id byteOffset+b, so expected sequences can be written by hand. The special
// ids are fields; -1 means none. Text containing failOn fails to encode.
type byteTok struct {
	bos, eos, pad, cls, sep int
	failOn                  string
}

// byteOffset leaves ids 0..9 for special tokens.
const byteOffset = 10

var (
	// byteBERT adds [CLS]=1 … [SEP]=2 (EncodeForModel's rule for tokenizers
	// with CLS and SEP).
	byteBERT = byteTok{bos: -1, eos: -1, pad: 0, cls: 1, sep: 2}
	// byteGPT has EOS=BOS=3, so EncodeForModel adds nothing.
	byteGPT = byteTok{bos: 3, eos: 3, pad: -1, cls: -1, sep: -1}
	// byteBOS has only BOS=4: LM separates documents with it and
	// classification puts it first.
	byteBOS = byteTok{bos: 4, eos: -1, pad: -1, cls: -1, sep: -1}
	// byteBare has no special tokens at all.
	byteBare = byteTok{bos: -1, eos: -1, pad: -1, cls: -1, sep: -1}
)

func (f byteTok) Encode(text string) ([]int, error) {
	if f.failOn != "" && strings.Contains(text, f.failOn) {
		return nil, errors.New("fake tokenizer refuses this text")
	}
	ids := make([]int, len(text))
	for i := range len(text) {
		ids[i] = byteOffset + int(text[i])
	}
	return ids, nil
}

func (f byteTok) Decode(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		if id >= byteOffset && id < byteOffset+256 {
			b.WriteByte(byte(id - byteOffset))
		}
	}
	return b.String()
}

func (f byteTok) VocabSize() int { return byteOffset + 256 }
func (f byteTok) BOS() int       { return f.bos }
func (f byteTok) EOS() int       { return f.eos }
func (f byteTok) PAD() int       { return f.pad }
func (f byteTok) CLS() int       { return f.cls }
func (f byteTok) SEP() int       { return f.sep }
func (f byteTok) UNK() int       { return -1 }
func (f byteTok) Name() string   { return fmt.Sprintf("fake-bytes%+v", f) }

// byteIDs is the fake tokenizer's encoding of s.
func byteIDs(s string) []int {
	out, _ := byteGPT.Encode(s)
	return out
}

// catIDs concatenates id slices.
func catIDs(parts ...[]int) []int { return slices.Concat(parts...) }

// jsonlRows builds a JSONL file body from (id, text, label) triples; label ""
// is left out.
func jsonlRows(rows ...[3]string) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "{\"id\": %q, \"text\": %q", r[0], r[1])
		if r[2] != "" {
			fmt.Fprintf(&b, ", \"label\": %q", r[2])
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// TestLoadCausalLMPacking checks run_clm's group_texts by hand: documents
// "ab", "cde", "f", "gh" with EOS=3 are the stream
// a b E c d e E f E g h E (12 tokens); SeqLen 5 gives two blocks and drops
// the last 2 tokens.
func TestLoadCausalLMPacking(t *testing.T) {
	dir := t.TempDir()
	train := writeDataFile(t, dir, "train.jsonl", jsonlRows([3]string{"d0", "ab"}, [3]string{"d1", "cde"}, [3]string{"d2", "f"}, [3]string{"d3", "gh"}))
	valid := writeDataFile(t, dir, "valid.txt", "xyzuvw")
	ds, err := Load(Spec{Task: CausalLM, Train: train, Valid: valid, SeqLen: 5}, byteGPT, "")
	if err != nil {
		t.Fatal(err)
	}
	E := []int{3}
	wantTrain := [][]int{
		catIDs(byteIDs("ab"), E, byteIDs("cd")),
		catIDs(byteIDs("e"), E, byteIDs("f"), E, byteIDs("g")),
	}
	if !reflect.DeepEqual(ds.Train.Seqs, wantTrain) {
		t.Errorf("train blocks\n got %v\nwant %v", ds.Train.Seqs, wantTrain)
	}
	if want := []string{"d0#0", "d1#0"}; !reflect.DeepEqual(ds.Train.IDs, want) {
		t.Errorf("train ids %v, want %v", ds.Train.IDs, want)
	}
	if ds.Train.Labels != nil || ds.Labels != nil {
		t.Errorf("causal LM has labels: %v %v", ds.Train.Labels, ds.Labels)
	}
	wantRep := SplitReport{File: train, Records: 4, Seqs: 2, Tokens: 10, DroppedTokens: 2}
	if ds.Report.Train != wantRep {
		t.Errorf("train report %+v, want %+v", ds.Report.Train, wantRep)
	}
	// The .txt document is 6 bytes + EOS: one block, 2 dropped.
	if want := [][]int{byteIDs("xyzuv")}; !reflect.DeepEqual(ds.Valid.Seqs, want) {
		t.Errorf("valid blocks %v, want %v", ds.Valid.Seqs, want)
	}
	if want := []string{"valid.txt:1#0"}; !reflect.DeepEqual(ds.Valid.IDs, want) {
		t.Errorf("valid ids %v, want %v", ds.Valid.IDs, want)
	}
	if ds.Report.Valid.DroppedTokens != 2 || ds.Report.DerivedIDs != 1 {
		t.Errorf("report %+v", ds.Report)
	}
	if ds.Test != nil {
		t.Errorf("Test = %v, want nil without Spec.Test", ds.Test)
	}
}

// TestLoadCausalLMBlockIDs checks "<doc id>#<k>": k counts the blocks that
// start in a document, so a long document gets #0, #1, ….
func TestLoadCausalLMBlockIDs(t *testing.T) {
	dir := t.TempDir()
	train := writeDataFile(t, dir, "train.jsonl", jsonlRows([3]string{"long", "abcdefg"}, [3]string{"short", "h"}))
	ds, err := Load(Spec{Task: CausalLM, Train: train, Valid: train, SeqLen: 3}, byteBOS, "")
	if err != nil {
		t.Fatal(err)
	}
	// abc def gB hB: BOS (4) separates documents when there is no EOS.
	B := []int{4}
	want := [][]int{byteIDs("abc"), byteIDs("def"), catIDs(byteIDs("g"), B, byteIDs("h"))}
	if !reflect.DeepEqual(ds.Train.Seqs, want) {
		t.Errorf("blocks %v, want %v", ds.Train.Seqs, want)
	}
	if want := []string{"long#0", "long#1", "long#2"}; !reflect.DeepEqual(ds.Train.IDs, want) {
		t.Errorf("ids %v, want %v", ds.Train.IDs, want)
	}
}

func TestLoadClassificationTruncation(t *testing.T) {
	dir := t.TempDir()
	train := writeDataFile(t, dir, "train.jsonl", jsonlRows(
		[3]string{"a", "abcdef", "spam"},
		[3]string{"b", "ab", "ham"},
		[3]string{"c", "abc", "spam"},
	))
	for _, tc := range []struct {
		name  string
		tok   byteTok
		want  [][]int
		trunc int
	}{
		// [CLS] a b [SEP]: the cut keeps the final [SEP].
		{"cls-sep", byteBERT, [][]int{catIDs([]int{1}, byteIDs("ab"), []int{2}), catIDs([]int{1}, byteIDs("ab"), []int{2}), catIDs([]int{1}, byteIDs("ab"), []int{2})}, 2},
		{"none", byteGPT, [][]int{byteIDs("abcd"), byteIDs("ab"), byteIDs("abc")}, 1},
		{"bos", byteBOS, [][]int{catIDs([]int{4}, byteIDs("abc")), catIDs([]int{4}, byteIDs("ab")), catIDs([]int{4}, byteIDs("abc"))}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := Load(Spec{Task: Classification, Train: train, Valid: train, SeqLen: 4}, tc.tok, "")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ds.Train.Seqs, tc.want) {
				t.Errorf("seqs %v, want %v", ds.Train.Seqs, tc.want)
			}
			if want := []string{"ham", "spam"}; !reflect.DeepEqual(ds.Labels, want) {
				t.Errorf("label map %v, want %v", ds.Labels, want)
			}
			if want := []int{1, 0, 1}; !reflect.DeepEqual(ds.Train.Labels, want) {
				t.Errorf("labels %v, want %v", ds.Train.Labels, want)
			}
			if want := []string{"a", "b", "c"}; !reflect.DeepEqual(ds.Train.IDs, want) {
				t.Errorf("ids %v, want %v", ds.Train.IDs, want)
			}
			if got := ds.Report.Train.Truncated; got != tc.trunc {
				t.Errorf("Truncated = %d, want %d", got, tc.trunc)
			}
		})
	}
}

// TestLoadClassificationKeepsSEP runs the truncation on the real BERT
// WordPiece tokenizer of testdata, whose template comes from its files.
func TestLoadClassificationKeepsSEP(t *testing.T) {
	tok, err := LoadTokenizer("testdata/tokenizer/bert-base-uncased")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	train := writeDataFile(t, dir, "train.csv", "text,label\n\"the quick brown fox jumps over the lazy dog\",1\nhello world,0\n")
	ds, err := Load(Spec{Task: Classification, Train: train, Valid: train, SeqLen: 6}, tok, "")
	if err != nil {
		t.Fatal(err)
	}
	long, short := ds.Train.Seqs[0], ds.Train.Seqs[1]
	if len(long) != 6 || long[0] != tok.CLS() || long[5] != tok.SEP() {
		t.Errorf("long sequence %v: want 6 ids from [CLS]=%d to [SEP]=%d", long, tok.CLS(), tok.SEP())
	}
	full, err := EncodeForModel(tok, "the quick brown fox jumps over the lazy dog")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(long[:5], full[:5]) {
		t.Errorf("long sequence %v does not start with %v", long, full[:5])
	}
	if want, _ := EncodeForModel(tok, "hello world"); !slices.Equal(short, want) {
		t.Errorf("short sequence %v, want %v", short, want)
	}
	if ds.Report.Train.Truncated != 1 {
		t.Errorf("Truncated = %d, want 1", ds.Report.Train.Truncated)
	}
	if want := []string{"0", "1"}; !reflect.DeepEqual(ds.Labels, want) {
		t.Errorf("labels %v, want %v", ds.Labels, want)
	}
}

func TestLoadLabelMap(t *testing.T) {
	dir := t.TempDir()
	// Integer labels sort numerically: "10" after "2".
	train := writeDataFile(t, dir, "train.jsonl", `{"text": "a", "label": 10}`+"\n"+`{"text": "b", "label": 2}`+"\n"+`{"text": "c", "label": "2"}`+"\n")
	ds, err := Load(Spec{Task: Classification, Train: train, Valid: train, SeqLen: 8}, byteBERT, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"2", "10"}; !reflect.DeepEqual(ds.Labels, want) {
		t.Errorf("labels %v, want %v", ds.Labels, want)
	}
	if want := []int{1, 0, 0}; !reflect.DeepEqual(ds.Train.Labels, want) {
		t.Errorf("label ids %v, want %v", ds.Train.Labels, want)
	}
	// A fixed order wins, even with labels the data lacks.
	ds, err = Load(Spec{Task: Classification, Train: train, Valid: train, SeqLen: 8, Labels: []string{"10", "7", "2"}}, byteBERT, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 2, 2}; !reflect.DeepEqual(ds.Train.Labels, want) || len(ds.Labels) != 3 {
		t.Errorf("label ids %v with %v, want %v", ds.Train.Labels, ds.Labels, want)
	}
}

// TestLoadErrors covers Load's own errors; ReadRecords' are in
// records_test.go and surface unchanged.
func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	train := writeDataFile(t, dir, "train.jsonl", jsonlRows([3]string{"a", "abc", "spam"}, [3]string{"b", "de", "ham"}))
	valid := writeDataFile(t, dir, "valid.jsonl", jsonlRows([3]string{"v1", "xy", "ham"}, [3]string{"v2", "zz", "eggs"}))
	oneLabel := writeDataFile(t, dir, "one.jsonl", jsonlRows([3]string{"a", "abc", "spam"}, [3]string{"b", "de", "spam"}))
	single := writeDataFile(t, dir, "single.jsonl", jsonlRows([3]string{"a", "abc", "spam"}))
	unlabelled := writeDataFile(t, dir, "unlabelled.jsonl", jsonlRows([3]string{"a", "abc", ""}))
	fail := writeDataFile(t, dir, "fail.jsonl", jsonlRows([3]string{"a", "fine", "x"}, [3]string{"b", "has BOOM in it", "y"}, [3]string{"c", "BOOM again", "x"}))
	cls := Spec{Task: Classification, Train: train, Valid: valid, SeqLen: 8}
	with := func(f func(*Spec)) Spec { s := cls; f(&s); return s }
	for _, tc := range []struct {
		name string
		spec Spec
		tok  Tokenizer
		want string
	}{
		{"unknown valid label", cls, byteBERT, "valid.jsonl:2: label \"eggs\" is not a training label; known labels: ham, spam"},
		{"label outside Spec.Labels", with(func(s *Spec) { s.Labels = []string{"ham", "eggs"} }), byteBERT, "train.jsonl:1: label \"spam\" is not among the model's labels; known labels: ham, eggs"},
		{"missing label", with(func(s *Spec) { s.Train = unlabelled }), byteBERT, "unlabelled.jsonl:1: no \"label\" label"},
		{"one label", with(func(s *Spec) { s.Train = oneLabel }), byteBERT, "one.jsonl: every record has the label \"spam\": classification needs at least 2 labels"},
		{"too few to carve", with(func(s *Spec) { s.Train, s.Valid, s.Labels = single, "", []string{"ham", "spam"} }), byteBERT, "single.jsonl: 1 record, too few to carve a validation split from: give a valid file"},
		{"tokenizer failure", with(func(s *Spec) { s.Train, s.Valid = fail, fail }), byteTok{cls: 1, sep: 2, failOn: "BOOM"}, "fail.jsonl:2: tokenizing: fake tokenizer refuses this text"},
		{"no room", with(func(s *Spec) { s.SeqLen = 2 }), byteBERT, "seq_len 2 leaves no room for text: the tokenizer adds 2 special tokens"},
		{"no EOS or BOS", with(func(s *Spec) { s.Task = CausalLM }), byteBare, "has neither an EOS nor a BOS token"},
		{"LM too short", with(func(s *Spec) { s.Task, s.SeqLen = CausalLM, 100 }), byteGPT, "train.jsonl: the train split's 2 document(s) give 7 tokens, fewer than one block of seq_len 100"},
		{"no task", with(func(s *Spec) { s.Task = "" }), byteBERT, "task is empty"},
		{"bad task", with(func(s *Spec) { s.Task = "regression" }), byteBERT, "task \"regression\" is unknown"},
		{"no train", with(func(s *Spec) { s.Train = "" }), byteBERT, "no training file (train) given"},
		{"no SeqLen", with(func(s *Spec) { s.SeqLen = 0 }), byteBERT, "seq_len is 0"},
		{"bad ratio", with(func(s *Spec) { s.Valid, s.ValidRatio = "", 1 }), byteBERT, "valid_ratio is 1"},
		{"repeated label", with(func(s *Spec) { s.Labels = []string{"a", "a"} }), byteBERT, "repeated label \"a\""},
		{"labels for LM", with(func(s *Spec) { s.Task, s.Labels = CausalLM, []string{"a", "b"} }), byteGPT, "labels are given but the task is \"causal-lm\""},
		{"missing file", with(func(s *Spec) { s.Test = filepath.Join(dir, "nope.jsonl") }), byteBERT, "test file: open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.spec, tc.tok, "")
			checkOneLineError(t, err, tc.want)
		})
	}
}

// TestLoadCarve checks that the carved validation split is deterministic in
// the seed and that no document reaches both splits: document i is made of
// the letter 'a'+i only, so every token of a block names its document.
func TestLoadCarve(t *testing.T) {
	dir := t.TempDir()
	var rows [][3]string
	for i := range 20 {
		rows = append(rows, [3]string{fmt.Sprintf("doc%02d", i), strings.Repeat(string(rune('a'+i)), 7+i%3), ""})
	}
	train := writeDataFile(t, dir, "train.jsonl", jsonlRows(rows...))
	spec := Spec{Task: CausalLM, Train: train, SeqLen: 4, Seed: 7, ValidRatio: 0.2}
	load := func(s Spec) *Dataset {
		t.Helper()
		ds, err := Load(s, byteGPT, "")
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	a, b := load(spec), load(spec)
	if !reflect.DeepEqual(a.Train, b.Train) || !reflect.DeepEqual(a.Valid, b.Valid) {
		t.Fatal("two loads with the same seed differ")
	}
	docs := func(s *Split) map[byte]bool {
		m := map[byte]bool{}
		for _, seq := range s.Seqs {
			for _, id := range seq {
				if id != byteGPT.eos {
					m[byte(id-byteOffset)] = true
				}
			}
		}
		return m
	}
	tr, va := docs(a.Train), docs(a.Valid)
	if len(va) != 4 {
		t.Errorf("valid holds %d documents, want 20·0.2 = 4", len(va))
	}
	for d := range va {
		if tr[d] {
			t.Errorf("document %c is in both splits", d)
		}
	}
	if !a.Report.ValidCarved || a.Report.Valid.Records != 4 || a.Report.Train.Records != 16 {
		t.Errorf("report %+v", a.Report)
	}
	if !strings.HasSuffix(a.Report.Valid.File, "(carved)") {
		t.Errorf("valid file %q", a.Report.Valid.File)
	}
	// The workers do not change the output.
	t.Setenv("SPARSETUNE_THREADS", "1")
	if c := load(spec); !reflect.DeepEqual(a.Train, c.Train) {
		t.Error("output depends on the number of workers")
	}
	other := spec
	other.Seed = 8
	if reflect.DeepEqual(docs(load(other).Valid), va) {
		t.Error("seeds 7 and 8 carve the same documents")
	}
}

// TestCarveSizes checks the rounding and the clamps of carve.
func TestCarveSizes(t *testing.T) {
	for _, tc := range []struct {
		n     int
		ratio float64
		want  int
	}{{2, 0.1, 1}, {10, 0.1, 1}, {14, 0.1, 1}, {15, 0.1, 2}, {3, 0.9, 2}, {100, 0.25, 25}} {
		recs := make([]Record, tc.n)
		for i := range recs {
			recs[i] = Record{ID: fmt.Sprint(i), Line: i + 1}
		}
		tr, va, err := carve(recs, tc.ratio, 1, "x")
		if err != nil {
			t.Fatal(err)
		}
		if len(va) != tc.want || len(tr)+len(va) != tc.n {
			t.Errorf("n=%d ratio=%v: %d train, %d valid, want %d valid", tc.n, tc.ratio, len(tr), len(va), tc.want)
		}
		for _, s := range [][]Record{tr, va} {
			if !slices.IsSortedFunc(s, func(a, b Record) int { return a.Line - b.Line }) {
				t.Errorf("n=%d: carve lost file order", tc.n)
			}
		}
	}
}

// writeDataFile writes content to dir/name and returns the path.
func writeDataFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o666); err != nil {
		t.Fatal(err)
	}
	return path
}
