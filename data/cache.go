package data

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/sparsetune/sparsetune/internal/atomicfile"
)

// The dataset cache stores a tokenized Dataset under CacheDir/<key>.bin.
//
// The key is the SHA-256 of, each length-prefixed:
//
//   - cacheVersion, which must be bumped whenever this package changes how
//     records become sequences (packing, truncation, ids, label order);
//   - tokKey (the tokenizer files, see TokenizerKey) and a fingerprint of
//     the tokenizer's behaviour (its special ids and the ids of a probe
//     text), so that a fix in the tokenizer code also misses;
//   - the spec fields that change the output: Task, SeqLen, the field
//     names, Labels, and Seed and ValidRatio when Valid is carved;
//   - for each of Train, Valid and Test: its base name (derived ids use it)
//     and the SHA-256 of its contents. Contents, not modification times:
//     a copied or touched file still hits, an edited one misses.
//
// The file is little-endian:
//
//	magic "SPTDSET\n" | version u32 | payload | length u64 | SHA-256
//
// where length counts the bytes before it and the SHA-256 covers everything
// before it. The payload is the key, the label names, the report counts and
// the splits (name, per-sequence lengths u32, tokens int32, labels int32,
// ids). A file whose length or checksum does not match, or that does not
// parse exactly, is never trusted: Load reports it and rebuilds.

// cacheVersion is both the file-format version and the version of the
// tokenization rules (see above).
const cacheVersion = 1

var cacheMagic = []byte("SPTDSET\n")

// cacheTrailer is the length field and the checksum.
const cacheTrailer = 8 + sha256.Size

// TokenizerKey hashes the tokenizer files of a Hugging Face model directory
// (those LoadTokenizer reads: tokenizer.json, vocab.json, merges.txt,
// vocab.txt, tokenizer_config.json, special_tokens_map.json) into a hex
// string for Load's cache key. It is an error if dir has none of them.
func TokenizerKey(dir string) (string, error) {
	h := sha256.New()
	found := 0
	for _, name := range []string{tokenizerJSONFile, tokenizerVocabJSON, tokenizerMerges, tokenizerVocabTXT, tokenizerConfigFile, specialTokensMap} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("data: tokenizer key: %w", err)
		}
		hashField(h, name)
		hashField(h, string(b))
		found++
	}
	if found == 0 {
		return "", fmt.Errorf("data: tokenizer key: %s has no tokenizer files (tokenizer.json, vocab.json+merges.txt or vocab.txt)", dir)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashField writes s with its length, so that ("ab","c") and ("a","bc")
// hash differently.
func hashField(h hash.Hash, s string) {
	h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(s))))
	io.WriteString(h, s)
}

// cacheKey is the hex key described above.
func cacheKey(spec Spec, tokKey, fingerprint string, files []specFile) string {
	h := sha256.New()
	fields := []string{
		"sparsetune dataset", strconv.Itoa(cacheVersion),
		tokKey, fingerprint,
		string(spec.Task), strconv.Itoa(spec.SeqLen), spec.Text, spec.Label, spec.ID,
		strconv.Itoa(len(spec.Labels)),
	}
	fields = append(fields, spec.Labels...)
	if spec.Valid == "" {
		fields = append(fields, "carve", strconv.FormatUint(spec.Seed, 10), strconv.FormatFloat(spec.ValidRatio, 'g', -1, 64))
	}
	for _, f := range files {
		sum := sha256.Sum256(f.data)
		fields = append(fields, f.role, filepath.Base(f.path), string(sum[:]))
	}
	for _, f := range fields {
		hashField(h, f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// readCache fills ds from the cache file at path when it is valid for key.
// A missing file gives ok false and no problem; an unusable one gives ok
// false and a one-line problem for Report.CacheProblem. ds is changed only
// on success.
func readCache(path, key string, ds *Dataset) (problem string, ok bool) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false
	}
	if err != nil {
		return fmt.Sprintf("cache file unreadable, rebuilt: %v", err), false
	}
	got, err := decodeCache(b, key, ds.Spec)
	if err != nil {
		return fmt.Sprintf("cache file %s is corrupt (%v), rebuilt", path, err), false
	}
	ds.Labels, ds.Train, ds.Valid, ds.Test = got.Labels, got.Train, got.Valid, got.Test
	r := &ds.Report
	r.Train, r.Valid, r.Test = got.Report.Train, got.Report.Valid, got.Report.Test
	r.DerivedIDs, r.ValidCarved = got.Report.DerivedIDs, got.Report.ValidCarved
	return "", true
}

// writeCache writes ds atomically to path.
func writeCache(path, key string, ds *Dataset) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		cw := &cacheWriter{w: w, h: sha256.New()}
		cw.bytes(cacheMagic)
		cw.u32(cacheVersion)
		encodeCachePayload(cw, key, ds)
		cw.u64(uint64(cw.n + 8))
		cw.flush()
		if cw.err != nil {
			return cw.err
		}
		_, err := w.Write(cw.h.Sum(nil))
		return err
	})
}

// encodeCachePayload writes the part between the version and the trailer.
func encodeCachePayload(cw *cacheWriter, key string, ds *Dataset) {
	cw.str(key)
	cw.u32(uint32(len(ds.Labels)))
	for _, l := range ds.Labels {
		cw.str(l)
	}
	r := ds.Report
	for _, s := range []SplitReport{r.Train, r.Valid, r.Test} {
		for _, v := range []int{s.Records, s.Seqs, s.Tokens, s.Truncated, s.DroppedTokens} {
			cw.u64(uint64(v))
		}
	}
	cw.u64(uint64(r.DerivedIDs))
	cw.bool(r.ValidCarved)
	splits := []*Split{ds.Train, ds.Valid}
	if ds.Test != nil {
		splits = append(splits, ds.Test)
	}
	cw.u32(uint32(len(splits)))
	for _, s := range splits {
		cw.str(s.Name)
		cw.u32(uint32(len(s.Seqs)))
		for _, seq := range s.Seqs {
			cw.u32(uint32(len(seq)))
		}
		for _, seq := range s.Seqs {
			for _, id := range seq {
				cw.u32(uint32(int32(id))) // checkIDs keeps ids within int32
			}
		}
		cw.bool(s.Labels != nil)
		for _, l := range s.Labels {
			cw.u32(uint32(int32(l)))
		}
		for _, id := range s.IDs {
			cw.str(id)
		}
	}
}

// cacheWriter buffers little-endian values and hashes everything it writes.
// The first error sticks and later writes do nothing.
type cacheWriter struct {
	w   io.Writer
	h   hash.Hash
	buf []byte
	n   int // bytes written, including buf
	err error
}

// cacheFlushAt bounds the buffer: large enough to amortise the writes,
// small enough not to matter for memory.
const cacheFlushAt = 1 << 16

// add appends b to the buffer.
func (c *cacheWriter) add(b []byte) {
	c.buf = append(c.buf, b...)
	c.grew(len(b))
}

// grew accounts for n bytes just appended to buf and flushes a full buffer.
func (c *cacheWriter) grew(n int) {
	c.n += n
	if len(c.buf) >= cacheFlushAt {
		c.flush()
	}
}

func (c *cacheWriter) flush() {
	if c.err == nil && len(c.buf) > 0 {
		c.h.Write(c.buf)
		_, c.err = c.w.Write(c.buf)
	}
	c.buf = c.buf[:0]
}

func (c *cacheWriter) bytes(b []byte) { c.add(b) }

func (c *cacheWriter) u32(v uint32) {
	c.buf = binary.LittleEndian.AppendUint32(c.buf, v)
	c.grew(4)
}

func (c *cacheWriter) u64(v uint64) {
	c.buf = binary.LittleEndian.AppendUint64(c.buf, v)
	c.grew(8)
}

func (c *cacheWriter) str(s string) {
	c.u32(uint32(len(s)))
	c.buf = append(c.buf, s...)
	c.grew(len(s))
}

func (c *cacheWriter) bool(v bool) {
	b := byte(0)
	if v {
		b = 1
	}
	c.buf = append(c.buf, b)
	c.grew(1)
}
