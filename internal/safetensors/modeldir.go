package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// File names Hugging Face uses for safetensors weights in a model directory
// (transformers' SAFE_WEIGHTS_NAME and SAFE_WEIGHTS_INDEX_NAME).
const (
	ModelFile = "model.safetensors"
	IndexFile = "model.safetensors.index.json"
)

// ReadModelDir loads the float weights of a Hugging Face model directory;
// see ReadOptions.ReadModelDir.
func ReadModelDir(dir string) (*File, error) { return ReadOptions{}.ReadModelDir(dir) }

// ReadModelDir loads the weights of a Hugging Face model directory:
// model.safetensors if it exists (transformers prefers it too), otherwise
// model.safetensors.index.json and the shards its weight_map names, merged
// into one File whose Path is the index.
//
// Every tensor the weight map lists must be in the shard it names, and no
// shard may hold a tensor the map does not list there; errors name the shard
// and tensor. Metadata is the union of the shards' metadata; where shards
// disagree on a key, the shard that sorts first wins.
func (o ReadOptions) ReadModelDir(dir string) (*File, error) {
	single := filepath.Join(dir, ModelFile)
	if _, err := os.Stat(single); err == nil {
		return o.Read(single)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	index := filepath.Join(dir, IndexFile)
	weightMap, err := readIndex(index)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: neither %s nor %s exists; is this a Hugging Face model directory with safetensors weights?", dir, ModelFile, IndexFile)
	}
	if err != nil {
		return nil, err
	}

	byShard := invert(weightMap)
	out := &File{Path: index, Tensors: make(map[string]*Tensor, len(weightMap))}
	for _, shard := range slices.Sorted(maps.Keys(byShard)) {
		sf, err := o.Read(filepath.Join(dir, shard))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: weight_map names shard %s, which does not exist", index, shard)
		}
		if err != nil {
			return nil, err
		}
		if err := checkShard(sf, shard, weightMap, byShard[shard]); err != nil {
			return nil, err
		}
		for k, v := range sf.Metadata {
			if _, ok := out.Metadata[k]; !ok {
				if out.Metadata == nil {
					out.Metadata = map[string]string{}
				}
				out.Metadata[k] = v
			}
		}
		maps.Copy(out.Tensors, sf.Tensors)
	}
	out.Names = slices.Sorted(maps.Keys(out.Tensors))
	return out, nil
}

// readIndex parses an index file's weight_map (tensor name -> shard file
// name). Other keys, such as metadata.total_size, are not used.
func readIndex(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	top, err := decodeObject(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	var raw json.RawMessage
	for _, m := range top {
		if m.key == "weight_map" {
			raw = m.val
		}
	}
	if raw == nil {
		return nil, fmt.Errorf("%s: no weight_map", path)
	}
	entries, err := decodeObject(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: weight_map %v", path, err)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%s: weight_map is empty", path)
	}
	weightMap := make(map[string]string, len(entries))
	for _, e := range entries {
		var shard string
		if err := json.Unmarshal(e.val, &shard); err != nil {
			return nil, fmt.Errorf("%s: weight_map[%q] is %s, want a shard file name", path, e.key, snippet(e.val))
		}
		if _, dup := weightMap[e.key]; dup {
			return nil, fmt.Errorf("%s: weight_map lists %q more than once", path, e.key)
		}
		// A shard is a file beside the index; anything else (../x, a/b,
		// /etc/passwd) is either corrupt or an attempt to read elsewhere.
		if shard == "" || shard == "." || shard == ".." || strings.ContainsAny(shard, `/\`) {
			return nil, fmt.Errorf("%s: weight_map[%q] = %q is not a file name in the model directory", path, e.key, shard)
		}
		weightMap[e.key] = shard
	}
	return weightMap, nil
}

// invert groups tensor names by shard.
func invert(weightMap map[string]string) map[string][]string {
	byShard := map[string][]string{}
	for name, shard := range weightMap {
		byShard[shard] = append(byShard[shard], name)
	}
	return byShard
}

// checkShard compares one shard's tensors with the weight map both ways;
// listed are the names the map puts in this shard. Once every shard passes,
// the merged tensors are exactly the map's.
func checkShard(sf *File, shard string, weightMap map[string]string, listed []string) error {
	for _, name := range sf.Names {
		want, ok := weightMap[name]
		if !ok {
			return fmt.Errorf("%s: tensor %q is not in the %s weight_map", sf.Path, name, IndexFile)
		}
		if want != shard {
			return fmt.Errorf("%s: tensor %q is here but the %s weight_map puts it in %s", sf.Path, name, IndexFile, want)
		}
	}
	slices.Sort(listed)
	for _, name := range listed {
		if _, ok := sf.Tensors[name]; !ok {
			return fmt.Errorf("%s: tensor %q, which the %s weight_map puts here, is missing", sf.Path, name, IndexFile)
		}
	}
	return nil
}
