package data

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/sparsetune/sparsetune/internal/testmodel"
)

// These tests read the real data in shared/ beside the repository (see
// shared/datasets/README.md) with the GPT-2 tokenizer from
// shared/tokenizers/gpt2. They use the small valid/test files so that
// go test stays quick; BenchmarkLoadSpamAssassin tokenizes the full
// training set.

// gpt2 loads the shared GPT-2 tokenizer and its cache key. The real-data
// tests take a few seconds on two cores, so -short skips them.
func gpt2(t testing.TB) (Tokenizer, string) {
	t.Helper()
	if _, isTest := t.(*testing.T); isTest && testing.Short() {
		t.Skip("real-data test: tokenizes about 1 MB with GPT-2; run without -short")
	}
	dir := testmodel.SharedDir(t, "tokenizers/gpt2")
	tok, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	key, err := TokenizerKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tok, key
}

func TestLoadSpamAssassin(t *testing.T) {
	dir := testmodel.SharedDir(t, "datasets/spamassassin")
	tok, key := gpt2(t)
	spec := Spec{
		Task:     Classification,
		Train:    filepath.Join(dir, "valid.jsonl"), // the small files stand in for train/valid
		Valid:    filepath.Join(dir, "test.jsonl"),
		ID:       DeriveIDs, // the ids are unique only within each "group"
		SeqLen:   256,
		CacheDir: t.TempDir(),
	}
	start := time.Now()
	ds, err := Load(spec, tok, key)
	if err != nil {
		t.Fatal(err)
	}
	cold := time.Since(start)
	t.Logf("cold %v\n%s", cold, ds.Report)
	if want := []string{"ham", "spam"}; !reflect.DeepEqual(ds.Labels, want) {
		t.Errorf("labels %v, want %v", ds.Labels, want)
	}
	// Sizes from shared/datasets/README.md.
	if ds.Train.Len() != 598 || ds.Valid.Len() != 577 {
		t.Errorf("%d train, %d valid sequences, want 598, 577", ds.Train.Len(), ds.Valid.Len())
	}
	count := [2]int{}
	for _, l := range ds.Train.Labels {
		count[l]++
	}
	t.Logf("train: %d ham, %d spam", count[0], count[1])
	if count[0] == 0 || count[1] == 0 {
		t.Errorf("one class is empty: %v", count)
	}
	if ds.Report.DerivedIDs != 598+577 || ds.Train.IDs[0] != "valid.jsonl:1" {
		t.Errorf("%d derived ids, first %q; want all, valid.jsonl:1", ds.Report.DerivedIDs, ds.Train.IDs[0])
	}
	for i, s := range ds.Train.Seqs {
		if len(s) == 0 || len(s) > spec.SeqLen {
			t.Fatalf("sequence %d (%s) has %d tokens", i, ds.Train.IDs[i], len(s))
		}
	}
	// E-mails are long: many are cut to 256 tokens.
	if ds.Report.Train.Truncated == 0 {
		t.Error("no sequence was truncated")
	}
	// The first e-mail decodes back to the start of its text.
	recs, _, err := ReadRecords(spec.Train, ReadOptions{IDField: DeriveIDs})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tok.Decode(ds.Train.Seqs[0][:20]), recs[0].Text; len(got) == 0 || want[:len(got)] != got {
		t.Errorf("decoded %q, want a prefix of %q", got, want[:80])
	}

	start = time.Now()
	again, err := Load(spec, tok, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cached %v (cold %v)", time.Since(start), cold)
	if !again.Report.CacheHit || !reflect.DeepEqual(again.Train, ds.Train) {
		t.Errorf("second load: hit %v, same train %v", again.Report.CacheHit, reflect.DeepEqual(again.Train, ds.Train))
	}
}

func TestLoadSOTU(t *testing.T) {
	dir := testmodel.SharedDir(t, "datasets/sotu")
	tok, key := gpt2(t)
	spec := Spec{
		Task:   CausalLM,
		Train:  filepath.Join(dir, "valid.jsonl"), // 20 speeches; 2 are carved for validation
		SeqLen: 512,
		Seed:   1,
	}
	ds, err := Load(spec, tok, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", ds.Report)
	r := ds.Report
	if r.Train.Records != 18 || r.Valid.Records != 2 || !r.ValidCarved {
		t.Errorf("documents: %d train, %d valid", r.Train.Records, r.Valid.Records)
	}
	// sotu has no id field: block ids are "valid.jsonl:<line>#<k>".
	if r.DerivedIDs != 20 || ds.Train.IDs[0] != "valid.jsonl:"+itoaFirstLine(t, ds)+"#0" {
		t.Errorf("derived ids %d, first block %q", r.DerivedIDs, ds.Train.IDs[0])
	}
	for _, sp := range []*Split{ds.Train, ds.Valid} {
		for i, s := range sp.Seqs {
			if len(s) != spec.SeqLen {
				t.Fatalf("%s block %d has %d tokens, want %d", sp.Name, i, len(s), spec.SeqLen)
			}
		}
	}
	for _, s := range []SplitReport{r.Train, r.Valid} {
		if s.Tokens != s.Seqs*spec.SeqLen || s.DroppedTokens >= spec.SeqLen {
			t.Errorf("split report %+v", s)
		}
	}
	// Each speech ends with <|endoftext|>: count them in the stream.
	eos := 0
	for _, s := range ds.Train.Seqs {
		for _, id := range s {
			if id == tok.EOS() {
				eos++
			}
		}
	}
	if eos < r.Train.Records-1 || eos > r.Train.Records {
		t.Errorf("%d EOS tokens in the train blocks of %d documents", eos, r.Train.Records)
	}
}

// itoaFirstLine is the line of the first training document (the carve may
// have taken line 1).
func itoaFirstLine(t *testing.T, ds *Dataset) string {
	t.Helper()
	id := ds.Train.IDs[0]
	for i := len("valid.jsonl:"); i < len(id); i++ {
		if id[i] == '#' {
			return id[len("valid.jsonl:"):i]
		}
	}
	t.Fatalf("block id %q has no #", id)
	return ""
}

// BenchmarkLoadSpamAssassin tokenizes the full SpamAssassin training set
// (4871 e-mails, 9.9 M characters; valid is carved from it, so nothing else
// is tokenized) with GPT-2: "cold" reads and tokenizes, "cached" hashes the
// file and reads the dataset cache written by a first Load.
func BenchmarkLoadSpamAssassin(b *testing.B) {
	dir := testmodel.SharedDir(b, "datasets/spamassassin")
	tok, key := gpt2(b)
	spec := Spec{Task: Classification, Train: filepath.Join(dir, "train.jsonl"), ID: DeriveIDs, SeqLen: 1024}
	tokens := func(ds *Dataset) float64 { return float64(ds.Report.Train.Tokens + ds.Report.Valid.Tokens) }
	b.Run("cold", func(b *testing.B) {
		var ds *Dataset
		for b.Loop() {
			var err error
			if ds, err = Load(spec, tok, key); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(tokens(ds)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		b.Logf("\n%s", ds.Report)
	})
	b.Run("cached", func(b *testing.B) {
		s := spec
		s.CacheDir = b.TempDir()
		if _, err := Load(s, tok, key); err != nil {
			b.Fatal(err)
		}
		var ds *Dataset
		for b.Loop() {
			var err error
			if ds, err = Load(s, tok, key); err != nil {
				b.Fatal(err)
			}
		}
		if !ds.Report.CacheHit {
			b.Fatal("missed the cache")
		}
		b.ReportMetric(tokens(ds)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	})
}
