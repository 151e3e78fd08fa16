package checkpoints

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sparsetune/sparsetune/internal/atomicdir"
	"github.com/sparsetune/sparsetune/internal/atomicfile"
	"github.com/sparsetune/sparsetune/internal/safetensors"
)

// RoutedUnits counts the kept units that a router switches per token (kept
// heads and groups that are not dense). With none, the pruned model is the
// whole sparse model and ExportHF is exact.
func (m *SparseManifest) RoutedUnits() int {
	n := 0
	for _, l := range m.Layers {
		n += len(l.Heads) - len(l.HeadsDense) + len(l.Groups) - len(l.GroupsDense)
	}
	return n
}

// ExportHF writes the static part of s as a plain Hugging Face model
// directory dir (config.json, model.safetensors in F32, ExportMarkerFile
// and the files extra copied from extraFrom), atomically as WriteSparse
// does. nn.Load and
// Hugging Face's from_pretrained load it.
//
//   - Removed FFN groups are dropped physically. Layers keep different
//     numbers of groups but a Hugging Face config has one FFN width, so
//     every layer is padded to the widest layer's kept width (at least one
//     group) with zero neurons: zero input (and gate) weights and biases and
//     zero output weights, so they add exactly 0. The config's F (n_inner,
//     intermediate_size) becomes that width.
//   - Removed heads keep their place (Hugging Face configs have one head
//     count): their query, key and value slices and their rows of the
//     output projection are zero, so the head adds exactly 0.
//   - Routers are dropped: the export runs every kept unit. It equals the
//     sparse model exactly when every kept unit is dense (a static router,
//     RoutedUnits() == 0); otherwise it is the superset model that computes
//     the routed units for every token.
func ExportHF(s *Sparse, dir, extraFrom string, extra []string) error {
	if err := checkSparse(s); err != nil {
		return fmt.Errorf("export %s: %w", dir, err)
	}
	m := &s.Manifest
	k := m.GroupSize
	groups := 1 // one all-zero group where every layer removed them all: HF needs F > 0
	for _, l := range m.Layers {
		groups = max(groups, len(l.Groups))
	}
	cfg := *s.Config
	cfg.F = groups * k
	rules := PruneRules(s.Config, k)
	var ts []*safetensors.Tensor
	for _, p := range cfg.Specs() {
		src := s.Tensors[p.Name] // present with its SparseShapes shape: checkSparse
		r, ok := rules[p.Name]
		if !ok {
			ts = append(ts, &safetensors.Tensor{Name: p.Name, Shape: p.Shape, Data: src.Data})
			continue
		}
		pos, units := r.Kept(m), cfg.H // heads go back to their own slots
		if r.Unit == GroupUnits {
			pos, units = make([]int, len(pos)), groups // groups close up from slot 0
			for i := range pos {
				pos[i] = i
			}
		}
		dst := make([]float32, numel(p.Shape))
		r.Scatter(dst, p.Shape, src.Data, src.Shape, pos, units)
		ts = append(ts, &safetensors.Tensor{Name: p.Name, Shape: p.Shape, Data: dst})
	}
	cfgJSON, err := cfg.MarshalHF()
	if err != nil {
		return fmt.Errorf("export %s: config: %w", dir, err)
	}
	marker, err := json.MarshalIndent(exportMarker{Format: exportFormat, Source: m.ContentHash, RoutedUnits: m.RoutedUnits()}, "", "  ")
	if err != nil {
		return fmt.Errorf("export %s: %w", dir, err)
	}
	return atomicdir.Replace(dir, func(tmp string) error {
		if err := safetensors.Write(filepath.Join(tmp, modelWeightsFile), ts, safetensors.WriteOptions{Metadata: map[string]string{"format": "pt"}}); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(filepath.Join(tmp, modelConfigFile), cfgJSON, 0o644); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(filepath.Join(tmp, ExportMarkerFile), append(marker, '\n'), 0o644); err != nil {
			return err
		}
		return copyFiles(tmp, extraFrom, extra)
	})
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// SparseExtras lists the files of sparse checkpoint directory dir besides
// its config.json, model.safetensors and sparse.json (the tokenizer
// files), for ExportHF to carry over. Hidden files and directories are
// skipped.
func SparseExtras(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(n, ".") || slices.Contains([]string{modelConfigFile, modelWeightsFile, SparseManifestFile}, n) {
			continue
		}
		out = append(out, n)
	}
	return out, nil
}
