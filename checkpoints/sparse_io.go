package checkpoints

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sparsetune/sparsetune/internal/atomicdir"
	"github.com/sparsetune/sparsetune/internal/atomicfile"
	"github.com/sparsetune/sparsetune/internal/safetensors"
	"github.com/sparsetune/sparsetune/nn"
)

// File names of a sparse checkpoint besides SparseManifestFile.
const (
	modelConfigFile  = "config.json"
	modelWeightsFile = "model.safetensors"
)

// hashPrefix starts ContentHash: the algorithm, so that a later version can
// change it without ambiguity.
const hashPrefix = "sha256:"

// WriteSparse writes s as a sparse checkpoint directory dir (see sparse.go
// and docs/sparse-checkpoint.md), atomically with atomicdir.Replace: an
// existing dir is replaced only once the new one is complete and fsynced,
// and a crash leaves the old or the new one. It writes config.json (s.Config), model.safetensors
// (tensors sorted by name, each in its DType: F32, BF16, or I8 followed by
// its F32 scales; see Quantize), sparse.json (s.Manifest with Format,
// Version and ContentHash set: version 3 for top-k routing, else version 1
// when every tensor is F32 and 2 with the dtype otherwise; s itself is not modified) and copies the files extra
// from directory extraFrom (tokenizer files).
//
// s is checked first as ReadSparse checks a directory: the manifest against
// the config, every tensor present with the shape SparseShapes gives, no
// other tensor, every value finite. A checkpoint WriteSparse accepts is one
// ReadSparse accepts.
func WriteSparse(dir string, s *Sparse, extraFrom string, extra []string) error {
	if err := checkSparse(s); err != nil {
		return fmt.Errorf("write sparse checkpoint %s: %w", dir, err)
	}
	cfgJSON, err := s.Config.MarshalHF()
	if err != nil {
		return fmt.Errorf("write sparse checkpoint %s: config: %w", dir, err)
	}
	return atomicdir.Replace(dir, func(tmp string) error {
		ts, dtypes := writeTensors(s.Tensors)
		weights := filepath.Join(tmp, modelWeightsFile)
		if err := safetensors.Write(weights, ts, safetensors.WriteOptions{DTypes: dtypes, Metadata: map[string]string{"format": "pt"}}); err != nil {
			return err
		}
		hash, err := fileHash(weights) // of the bytes on disk, as a reader will hash them
		if err != nil {
			return err
		}
		man := s.Manifest
		man.Format, man.Version, man.ContentHash = SparseFormat, SparseVersion, hash
		if man.DType.orF32() == F32 { // readable by every reader
			man.Version, man.DType = 1, ""
		}
		if man.Routing == RoutingTopK {
			man.Version = SparseVersion
		} else if man.Version == SparseVersion { // threshold checkpoints keep version 2
			man.Version = 2
		}
		man.Layers = make([]SparseLayer, len(s.Manifest.Layers))
		for i, l := range s.Manifest.Layers { // write [] rather than null for empty lists
			man.Layers[i] = SparseLayer{Tau: l.Tau, Heads: nonNil(l.Heads), HeadsDense: nonNil(l.HeadsDense), Groups: nonNil(l.Groups), GroupsDense: nonNil(l.GroupsDense),
				KHeads: l.KHeads, KGroups: l.KGroups}
		}
		if len(man.TrainConfig) == 0 {
			man.TrainConfig = json.RawMessage("null")
		}
		mb, err := json.MarshalIndent(man, "", "  ")
		if err != nil {
			return fmt.Errorf("sparse.json: %w", err)
		}
		if err := atomicfile.WriteFile(filepath.Join(tmp, SparseManifestFile), append(mb, '\n'), 0o644); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(filepath.Join(tmp, modelConfigFile), cfgJSON, 0o644); err != nil {
			return err
		}
		return copyFiles(tmp, extraFrom, extra)
	})
}

// copyFiles copies each of files from directory from into dir.
func copyFiles(dir, from string, files []string) error {
	for _, f := range files {
		if f != filepath.Base(f) || f == "." || f == ".." {
			return fmt.Errorf("extra file %q is not a plain file name", f)
		}
		b, err := os.ReadFile(filepath.Join(from, f))
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ReadSparse reads and checks the sparse checkpoint directory dir. Every
// problem is one error line naming the file and what is wrong: a missing
// file; a malformed sparse.json, another format, a version newer than
// SparseVersion; a manifest that does not fit config.json (see
// SparseShapes); model.safetensors unreadable, not matching ContentHash
// (corrupt), missing a tensor, holding an extra one or one of the wrong
// shape; a NaN or infinite value; a weight matrix not in the manifest's
// dtype, an I8 tensor without its scales or with scales of the wrong
// shape or dtype, a negative, NaN or infinite scale. A dir that a crash left missing in the
// middle of its replacement is first restored (see atomicdir.Heal).
func ReadSparse(dir string) (*Sparse, error) {
	if err := atomicdir.Heal(dir); err != nil {
		return nil, err
	}
	for _, f := range []string{modelConfigFile, SparseManifestFile, modelWeightsFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: missing %s: not a sparse checkpoint directory", dir, f)
		}
		if err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: not a regular file", filepath.Join(dir, f))
		}
	}
	cfg, err := nn.LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	manPath := filepath.Join(dir, SparseManifestFile)
	mb, err := os.ReadFile(manPath)
	if err != nil {
		return nil, err
	}
	man, err := decodeManifest(mb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", manPath, err)
	}
	shapes, err := SparseShapes(cfg, man)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", manPath, err)
	}
	wPath := filepath.Join(dir, modelWeightsFile)
	f, err := safetensors.ReadOptions{Ints: true}.Read(wPath) // its errors name the file
	if err != nil {
		return nil, err
	}
	hash, err := fileHash(wPath)
	if err != nil {
		return nil, err
	}
	if hash != man.ContentHash {
		return nil, fmt.Errorf("%s: content hash %s does not match the %s in %s: the weights are corrupt or were changed after the manifest was written", wPath, hash, man.ContentHash, SparseManifestFile)
	}
	ts, err := readTensors(f, cfg, man.DType, shapes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", wPath, err)
	}
	s := &Sparse{Config: cfg, Manifest: *man, Tensors: ts}
	if err := checkTensors(s.Tensors, shapes); err != nil {
		return nil, fmt.Errorf("%s: %w", wPath, err)
	}
	return s, nil
}

// manifestRequired are the keys every version-1 manifest has. The others
// (target, compute, calibration, train_config) are informative.
var manifestRequired = []string{"format", "version", "family", "router", "group_size", "shift", "layers", "content_hash"}

// layerRequired are the keys of every layer record.
var layerRequired = []string{"tau", "heads", "heads_dense", "groups", "groups_dense"}

// decodeManifest parses sparse.json: format and version first (a newer
// version may have changed anything else), then the required keys, then
// the fields. Unknown keys are ignored, so a version can gain optional
// fields without breaking readers of the same version.
func decodeManifest(b []byte) (*SparseManifest, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("is a JSON %s, want an object", te.Value)
		}
		return nil, fmt.Errorf("malformed JSON: %s", strings.ReplaceAll(err.Error(), "\n", " "))
	}
	if top == nil {
		return nil, errors.New("is null, want an object")
	}
	var format string
	if err := json.Unmarshal(top["format"], &format); err != nil {
		return nil, errors.New("format is missing or not a string: not a sparse checkpoint manifest")
	}
	if format != SparseFormat {
		return nil, fmt.Errorf("format %q is not %q", format, SparseFormat)
	}
	var version int
	if err := json.Unmarshal(top["version"], &version); err != nil {
		return nil, errors.New("version is missing or not an integer")
	}
	if version > SparseVersion {
		return nil, fmt.Errorf("written by a newer sparsetune: version %d > %d; upgrade sparsetune to read it", version, SparseVersion)
	}
	if version < 1 {
		return nil, fmt.Errorf("version %d is not a valid version (versions start at 1)", version)
	}
	if err := requireKeys(top, manifestRequired); err != nil {
		return nil, err
	}
	var layers []map[string]json.RawMessage
	if err := json.Unmarshal(top["layers"], &layers); err != nil {
		return nil, fmt.Errorf("layers: %v", jsonErr(err, "an array of objects"))
	}
	for i, l := range layers {
		if err := requireKeys(l, layerRequired); err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
	}
	m := &SparseManifest{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("malformed: %v", jsonErr(err, ""))
	}
	// The writer indents the whole manifest, train_config included; hand
	// it back compact, and null as absent.
	if raw := bytes.TrimSpace(m.TrainConfig); len(raw) == 0 || string(raw) == "null" {
		m.TrainConfig = nil
	} else {
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err == nil {
			m.TrainConfig = buf.Bytes()
		}
	}
	if !strings.HasPrefix(m.ContentHash, hashPrefix) || len(m.ContentHash) != len(hashPrefix)+2*sha256.Size {
		return nil, fmt.Errorf("content_hash %q is not %q and 64 hex digits", m.ContentHash, hashPrefix)
	}
	if _, err := hex.DecodeString(m.ContentHash[len(hashPrefix):]); err != nil {
		return nil, fmt.Errorf("content_hash %q is not %q and 64 hex digits", m.ContentHash, hashPrefix)
	}
	if _, err := ParseDType(string(m.DType.orF32())); err != nil {
		return nil, err
	}
	if m.DType != "" && version < 2 {
		return nil, fmt.Errorf("dtype %q needs version 2, the manifest says %d", m.DType, version)
	}
	if m.Routing != "" && version < 3 {
		return nil, fmt.Errorf("routing %q needs version 3, the manifest says %d", m.Routing, version)
	}
	return m, nil
}

// requireKeys reports the first of keys missing (or null) in obj.
func requireKeys(obj map[string]json.RawMessage, keys []string) error {
	for _, k := range keys {
		if v, ok := obj[k]; !ok || string(bytes.TrimSpace(v)) == "null" {
			return fmt.Errorf("missing %q", k)
		}
	}
	return nil
}

// jsonErr makes a decoding error one short line; nil err means the value
// was JSON null where want was expected.
func jsonErr(err error, want string) string {
	if err == nil {
		return "null, want " + want
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "value"
		}
		return fmt.Sprintf("%s is a JSON %s, want %s", field, te.Value, te.Type)
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

// checkSparse checks an in-memory checkpoint as ReadSparse checks a
// directory, except for the content hash.
func checkSparse(s *Sparse) error {
	if s == nil || s.Config == nil {
		return errors.New("no checkpoint or no config")
	}
	shapes, err := SparseShapes(s.Config, &s.Manifest)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if err := checkTensors(s.Tensors, shapes); err != nil {
		return err
	}
	return checkDTypes(s.Config, s.Tensors, s.Manifest.DType)
}

// checkTensors checks that ts holds exactly the tensors of shapes, each
// with its shape, its number of values and finite values only.
func checkTensors(ts map[string]*SparseTensor, shapes map[string][]int) error {
	for _, name := range sortedKeys(shapes) {
		t, ok := ts[name]
		if !ok || t == nil {
			return fmt.Errorf("missing tensor %q (shape %v)", name, shapes[name])
		}
		if !slices.Equal(t.Shape, shapes[name]) {
			return fmt.Errorf("tensor %q has shape %v, the config and manifest need %v", name, t.Shape, shapes[name])
		}
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		if len(t.Data) != n {
			return fmt.Errorf("tensor %q: shape %v needs %d values, it has %d", name, t.Shape, n, len(t.Data))
		}
		for i, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("tensor %q: element %d is %v; the weights must be finite", name, i, v)
			}
		}
	}
	for _, name := range sortedKeys(ts) {
		if _, ok := shapes[name]; !ok {
			return fmt.Errorf("unexpected tensor %q: not a tensor of this model and manifest", name)
		}
	}
	return nil
}

// fileHash returns "sha256:" and the hex SHA-256 of the file at path.
func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hashPrefix + hex.EncodeToString(h.Sum(nil)), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func nonNil(list []int) []int {
	if list == nil {
		return []int{}
	}
	return list
}
