package checkpoints

import (
	"fmt"

	"github.com/sparsetune/sparsetune/nn"
)

// Assemble builds a sparse checkpoint from a model, its router parameters
// (by name, as router.Set.Params gives them; none for a static router) and
// a manifest whose layers say which units are kept and which are dense.
// Every tensor that PruneRules names is cut to the kept units' slices, the
// others are copied whole, and each routing layer part keeps the router
// columns of its kept units. The manifest's format, version and family are
// set from the package and the model. The model is not modified.
//
// It is the one assembly by the layout table: hardening writes what it
// returns, and the engine's tests run it.
func Assemble(m *nn.Model, routers []*nn.Param, man SparseManifest) (*Sparse, error) {
	c := m.Config
	if len(man.Layers) != c.L {
		return nil, fmt.Errorf("prune: %d manifest layers for a %d-layer model", len(man.Layers), c.L)
	}
	if man.GroupSize <= 0 || c.F%man.GroupSize != 0 {
		return nil, fmt.Errorf("prune: group size %d does not divide the FFN width %d", man.GroupSize, c.F)
	}
	man.Format, man.Version, man.Family = SparseFormat, SparseVersion, string(c.Family)
	sp := &Sparse{Config: c, Manifest: man, Tensors: map[string]*SparseTensor{}}
	rules := PruneRules(c, man.GroupSize)
	for _, p := range m.Params.List {
		t, err := tensorOf(p)
		if err != nil {
			return nil, err
		}
		if r, ok := rules[p.Name]; ok {
			t = r.Cut(t, r.Kept(&man))
		}
		sp.Tensors[p.Name] = t
	}
	if man.Router == "static" {
		return sp, nil
	}
	if err := assembleRouters(sp, routers); err != nil {
		return nil, err
	}
	return sp, nil
}

// assembleRouters adds to sp, for each layer part that routes (some kept
// unit not dense), the router's weight and bias cut to the kept units.
func assembleRouters(sp *Sparse, routers []*nn.Param) error {
	byName := map[string]*nn.Param{}
	for _, p := range routers {
		byName[p.Name] = p
	}
	// A router's weight (D, units) keeps the kept units' columns and its
	// bias (units) their entries: one unit one element wide along the last
	// axis.
	weight, bias := PruneRule{Axis: 1, Blocks: 1, Width: 1}, PruneRule{Axis: 0, Blocks: 1, Width: 1}
	for l, ml := range sp.Manifest.Layers {
		for _, part := range []struct {
			name        string
			kept, dense []int
		}{{"head", ml.Heads, ml.HeadsDense}, {"ffn", ml.Groups, ml.GroupsDense}} {
			if len(part.kept) == len(part.dense) {
				continue // every kept unit dense: no router
			}
			pre := fmt.Sprintf("router.layers.%d.%s.", l, part.name)
			w, b := byName[pre+"weight"], byName[pre+"bias"]
			if w == nil || b == nil {
				return fmt.Errorf("prune: router parameters %sweight and %sbias are missing", pre, pre)
			}
			wt, err := tensorOf(w)
			if err != nil {
				return err
			}
			bt, err := tensorOf(b)
			if err != nil {
				return err
			}
			sp.Tensors[pre+"weight"] = weight.Cut(wt, part.kept)
			sp.Tensors[pre+"bias"] = bias.Cut(bt, part.kept)
		}
	}
	return nil
}

// tensorOf copies a parameter's values as a float32 tensor.
func tensorOf(p *nn.Param) (*SparseTensor, error) {
	t := &SparseTensor{Shape: append([]int(nil), p.Shape...)}
	switch d := p.Value.Data().(type) {
	case []float32:
		t.Data = append([]float32(nil), d...)
	case []float64:
		t.Data = make([]float32, len(d))
		for i, v := range d {
			t.Data[i] = float32(v)
		}
	default:
		return nil, fmt.Errorf("prune: parameter %s has dtype %v", p.Name, p.Value.Dtype())
	}
	return t, nil
}
