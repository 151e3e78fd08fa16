package data

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// cacheSpec is a classification dataset with a carved valid split and a test
// file, so that the cache round-trips every part of a Dataset.
func cacheSpec(t *testing.T) Spec {
	t.Helper()
	dir := t.TempDir()
	var rows [][3]string
	for i := range 12 {
		label := []string{"ham", "spam"}[i%2]
		rows = append(rows, [3]string{"", strings.Repeat("xy", i+1), label})
	}
	train := writeDataFile(t, dir, "train.jsonl", jsonlRows(rows...))
	test := writeDataFile(t, dir, "test.csv", "text,label\nzz,ham\n\"y, y\",spam\n")
	return Spec{Task: Classification, Train: train, Test: test, SeqLen: 9, Seed: 3, ValidRatio: 0.25, CacheDir: filepath.Join(dir, "cache")}
}

// sameCached compares what the cache stores.
func sameCached(t *testing.T, got, want *Dataset) {
	t.Helper()
	if !reflect.DeepEqual(got.Labels, want.Labels) {
		t.Errorf("labels %v, want %v", got.Labels, want.Labels)
	}
	for _, p := range [][2]*Split{{got.Train, want.Train}, {got.Valid, want.Valid}, {got.Test, want.Test}} {
		if !reflect.DeepEqual(p[0], p[1]) {
			t.Errorf("split differs\n got %+v\nwant %+v", p[0], p[1])
		}
	}
	g, w := got.Report, want.Report
	g.CacheHit, g.CacheProblem, w.CacheHit, w.CacheProblem = false, "", false, ""
	if g != w {
		t.Errorf("report\n got %+v\nwant %+v", g, w)
	}
}

func loadOK(t *testing.T, spec Spec, tok Tokenizer) *Dataset {
	t.Helper()
	ds, err := Load(spec, tok, "tok-key")
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestCacheHitAndMiss(t *testing.T) {
	spec := cacheSpec(t)
	first := loadOK(t, spec, byteBERT)
	if first.Report.CacheHit || first.Report.CacheProblem != "" {
		t.Fatalf("first load: %+v", first.Report)
	}
	if _, err := os.Stat(first.Report.CacheFile); err != nil {
		t.Fatalf("no cache file written: %v", err)
	}
	second := loadOK(t, spec, byteBERT)
	if !second.Report.CacheHit {
		t.Fatalf("second load missed the cache: %+v", second.Report)
	}
	sameCached(t, second, first)
	if second.Report.Valid.File != spec.Train+" (carved)" || second.Report.Test.File != spec.Test {
		t.Errorf("report files %+v", second.Report)
	}

	// A new modification time with the same contents still hits.
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(spec.Train, future, future); err != nil {
		t.Fatal(err)
	}
	if ds := loadOK(t, spec, byteBERT); !ds.Report.CacheHit {
		t.Error("touching the data file missed the cache")
	}

	// Each of these must miss.
	for _, tc := range []struct {
		name   string
		change func(*Spec) Tokenizer
	}{
		{"data file edited", func(s *Spec) Tokenizer {
			f, err := os.OpenFile(s.Test, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteString("new,ham\n"); err != nil {
				t.Fatal(err)
			}
			return byteBERT
		}},
		{"SeqLen", func(s *Spec) Tokenizer { s.SeqLen = 8; return byteBERT }},
		{"seed", func(s *Spec) Tokenizer { s.Seed = 4; return byteBERT }},
		{"label order", func(s *Spec) Tokenizer { s.Labels = []string{"spam", "ham"}; return byteBERT }},
		{"tokenizer behaviour", func(s *Spec) Tokenizer { return byteTok{bos: -1, eos: -1, pad: 0, cls: 5, sep: 2} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := spec
			tok := tc.change(&s)
			ds := loadOK(t, s, tok)
			if ds.Report.CacheHit {
				t.Error("hit the cache")
			}
			if ds.Report.CacheFile == first.Report.CacheFile {
				t.Error("same cache key")
			}
		})
	}
	// A different tokenizer key misses too.
	ds, err := Load(spec, byteBERT, "other-tok-key")
	if err != nil {
		t.Fatal(err)
	}
	if ds.Report.CacheHit {
		t.Error("another tokenizer key hit the cache")
	}
}

// TestCacheCorrupt damages the cache file in several ways; each must be
// detected, reported and rebuilt, and the rebuilt file must then hit.
func TestCacheCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  func([]byte) []byte
		problem string
	}{
		{"flipped byte", func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }, "checksum mismatch"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-100] }, "truncated or extended"},
		{"cut to a few bytes", func(b []byte) []byte { return b[:10] }, "truncated: 10 bytes"},
		{"empty", func(b []byte) []byte { return nil }, "truncated: 0 bytes"},
		{"appended", func(b []byte) []byte { return append(b, 0) }, "truncated or extended"},
		{"other file", func(b []byte) []byte { return []byte(strings.Repeat("not a cache ", 10)) }, "not a sparsetune dataset cache file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := cacheSpec(t)
			first := loadOK(t, spec, byteBERT)
			path := first.Report.CacheFile
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.damage(b), 0o666); err != nil {
				t.Fatal(err)
			}
			ds := loadOK(t, spec, byteBERT)
			if ds.Report.CacheHit {
				t.Fatal("used a damaged cache file")
			}
			if !strings.Contains(ds.Report.CacheProblem, tc.problem) || !strings.Contains(ds.Report.String(), tc.problem) {
				t.Errorf("CacheProblem %q, want it to mention %q", ds.Report.CacheProblem, tc.problem)
			}
			sameCached(t, ds, first)
			if again := loadOK(t, spec, byteBERT); !again.Report.CacheHit {
				t.Errorf("the rebuilt cache file missed: %+v", again.Report)
			}
		})
	}
}

// TestCacheCorruptWithValidChecksum rewrites the payload and then fixes the
// checksum, as a bug in the writer would: decoding must still refuse what
// does not fit the spec.
func TestCacheCorruptWithValidChecksum(t *testing.T) {
	spec := cacheSpec(t)
	first := loadOK(t, spec, byteBERT)
	b, err := os.ReadFile(first.Report.CacheFile)
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSuffix(filepath.Base(first.Report.CacheFile), ".bin")
	reseal := func(b []byte) []byte {
		end := len(b) - sha256.Size
		sum := sha256.Sum256(b[:end])
		return append(b[:end:end], sum[:]...)
	}
	if _, err := decodeCache(reseal(bytes.Clone(b)), key, first.Spec); err != nil {
		t.Fatalf("resealing an intact file broke it: %v", err)
	}
	short := first.Spec
	short.SeqLen = 3
	if _, err := decodeCache(b, key, short); err == nil || !strings.Contains(err.Error(), "tokens with SeqLen 3") {
		t.Errorf("sequences longer than SeqLen: err %v", err)
	}
	if _, err := decodeCache(b, "0000", first.Spec); err == nil || !strings.Contains(err.Error(), "written for key") {
		t.Errorf("wrong key: err %v", err)
	}
	noTest := first.Spec
	noTest.Test = ""
	if _, err := decodeCache(b, key, noTest); err == nil || !strings.Contains(err.Error(), "3 splits, want 2") {
		t.Errorf("split count: err %v", err)
	}
}

// sealCache wraps a payload in the header and trailer of a cache file, so
// that fuzzed payloads get past the checksum and exercise the parser.
func sealCache(payload []byte) []byte {
	b := append(bytes.Clone(cacheMagic), binary.LittleEndian.AppendUint32(nil, cacheVersion)...)
	b = append(b, payload...)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(b)+8))
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// FuzzDecodeCache: no file makes decodeCache panic, whether or not it
// passes the checksum. The input is used both as a whole file and as a
// sealed payload. The seeds (a real payload, damaged copies) run in every
// go test.
func FuzzDecodeCache(f *testing.F) {
	spec := Spec{Task: Classification, SeqLen: 9, Test: "t"}
	ds := &Dataset{
		Spec:   spec,
		Labels: []string{"a", "b"},
		Train:  &Split{Name: "train", Seqs: [][]int{{1, 2, 3}}, Labels: []int{1}, IDs: []string{"x"}},
		Valid:  &Split{Name: "valid", Seqs: [][]int{{4}}, Labels: []int{0}, IDs: []string{"y"}},
		Test:   &Split{Name: "test", Seqs: [][]int{{5, 6}, {7}}, Labels: []int{0, 1}, IDs: []string{"z", "w"}},
	}
	path := filepath.Join(f.TempDir(), "k.bin")
	if err := writeCache(path, "k", ds); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	got, err := decodeCache(good, "k", spec)
	if err != nil {
		f.Fatal(err)
	}
	if !reflect.DeepEqual(got.Test, ds.Test) || !reflect.DeepEqual(got.Labels, ds.Labels) {
		f.Fatalf("round trip: got %+v", got)
	}
	payload := good[len(cacheMagic)+4 : len(good)-cacheTrailer]
	if !bytes.Equal(sealCache(payload), good) {
		f.Fatal("sealCache does not reproduce writeCache's framing")
	}
	f.Add(payload)
	f.Add(payload[:len(payload)/2])
	f.Add(good)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Must return, not panic.
		decodeCache(b, "k", spec)
		decodeCache(sealCache(b), "k", spec)
	})
}

func TestTokenizerKey(t *testing.T) {
	src := "testdata/tokenizer/bert-base-uncased"
	key, err := TokenizerKey(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != 64 {
		t.Errorf("key %q is not a hex SHA-256", key)
	}
	// A copy hashes the same; an edited file does not.
	dir := t.TempDir()
	for _, name := range []string{"vocab.txt", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		writeDataFile(t, dir, name, string(b))
	}
	if k, err := TokenizerKey(dir); err != nil || k != key {
		t.Errorf("copy: key %q, %v; want %q", k, err, key)
	}
	writeDataFile(t, dir, "tokenizer_config.json", `{"do_lower_case": false}`)
	if k, _ := TokenizerKey(dir); k == key {
		t.Error("editing tokenizer_config.json kept the key")
	}
	_, err = TokenizerKey(t.TempDir())
	checkOneLineError(t, err, "has no tokenizer files")
}
