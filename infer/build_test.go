package infer

import (
	"fmt"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/nn"
)

// Build assembles the sparse checkpoint the engine tests run, as
// harden.Prune does (this package's tests cannot import harden, which
// imports infer): the tensors checkpoints.PruneRules names cut to the kept
// units, the kept units' router columns. Both read the one layout table,
// so the tests exercise the layout the hardening writes.
func Build(m *nn.Model, routers []*nn.Param, man checkpoints.SparseManifest) (*checkpoints.Sparse, error) {
	c := m.Config
	man.Format, man.Version, man.Family = checkpoints.SparseFormat, checkpoints.SparseVersion, string(c.Family)
	sp := &checkpoints.Sparse{Config: c, Manifest: man, Tensors: map[string]*checkpoints.SparseTensor{}}
	rules := checkpoints.PruneRules(c, man.GroupSize)
	for _, p := range m.Params.List {
		t := &checkpoints.SparseTensor{Shape: p.Shape, Data: p.Value.Data().([]float32)}
		if r, ok := rules[p.Name]; ok {
			t = r.Cut(t, r.Kept(&man))
		}
		sp.Tensors[p.Name] = t
	}
	if man.Router == "static" {
		return sp, nil
	}
	byName := map[string]*nn.Param{}
	for _, p := range routers {
		byName[p.Name] = p
	}
	weight, bias := checkpoints.PruneRule{Axis: 1, Blocks: 1, Width: 1}, checkpoints.PruneRule{Axis: 0, Blocks: 1, Width: 1}
	for l, ml := range man.Layers {
		for _, part := range []struct {
			name        string
			kept, dense []int
		}{{"head", ml.Heads, ml.HeadsDense}, {"ffn", ml.Groups, ml.GroupsDense}} {
			if len(part.kept) == len(part.dense) {
				continue
			}
			pre := fmt.Sprintf("router.layers.%d.%s.", l, part.name)
			w, b := byName[pre+"weight"], byName[pre+"bias"]
			if w == nil || b == nil {
				return nil, fmt.Errorf("router parameters %sweight and %sbias are missing", pre, pre)
			}
			sp.Tensors[pre+"weight"] = weight.Cut(&checkpoints.SparseTensor{Shape: w.Shape, Data: w.Value.Data().([]float32)}, part.kept)
			sp.Tensors[pre+"bias"] = bias.Cut(&checkpoints.SparseTensor{Shape: b.Shape, Data: b.Value.Data().([]float32)}, part.kept)
		}
	}
	return sp, nil
}
