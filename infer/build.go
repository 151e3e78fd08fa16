package infer

import (
	"fmt"
	"strings"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/nn"
)

// Build assembles a sparse checkpoint from a model, its router parameters
// (by name, as router.Set.Params gives them; none for a static router) and
// a manifest whose layers say which units are kept and which are dense: the
// kept heads' and groups' slices of every pruned tensor (the layout rules
// of checkpoints/sparse.go) and the router columns of the kept units.
func Build(m *nn.Model, routers []*nn.Param, man checkpoints.SparseManifest) (*checkpoints.Sparse, error) {
	c := m.Config
	if len(man.Layers) != c.L {
		return nil, fmt.Errorf("build: %d manifest layers for a %d-layer model", len(man.Layers), c.L)
	}
	if man.GroupSize <= 0 || c.F%man.GroupSize != 0 {
		return nil, fmt.Errorf("build: group size %d does not divide the FFN width %d", man.GroupSize, c.F)
	}
	man.Format, man.Version, man.Family = checkpoints.SparseFormat, checkpoints.SparseVersion, string(c.Family)
	sp := &checkpoints.Sparse{Config: c, Manifest: man, Tensors: map[string]*checkpoints.SparseTensor{}}
	S, k := c.S(), man.GroupSize
	for _, p := range m.Params.List {
		data, err := float32s(p)
		if err != nil {
			return nil, err
		}
		t := &checkpoints.SparseTensor{Shape: append([]int(nil), p.Shape...), Data: data}
		if l, rest, ok := layerOf(c, p.Name); ok {
			ml := man.Layers[l]
			heads := units(ml.Heads, S)
			kvHeads := heads
			if c.KVH != c.H {
				kvHeads = nil // grouped-query attention: keys and values stay whole
			}
			neurons := units(ml.Groups, k)
			switch rest {
			case "attn.c_attn.weight": // (D, 3D): three column blocks
				t = cols(t, append(append(offset(heads, 0), offset(heads, c.D)...), offset(heads, 2*c.D)...))
			case "attn.c_attn.bias":
				t = rows(t, append(append(offset(heads, 0), offset(heads, c.D)...), offset(heads, 2*c.D)...))
			case "attn.c_proj.weight": // Conv1D (in, out)
				t = rows(t, heads)
			case "attention.self.query.weight", "attention.self.query.bias", "self_attn.q_proj.weight", "self_attn.q_proj.bias":
				t = rows(t, heads)
			case "attention.self.key.weight", "attention.self.key.bias", "attention.self.value.weight",
				"attention.self.value.bias", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
				"self_attn.k_proj.bias", "self_attn.v_proj.bias":
				if kvHeads != nil {
					t = rows(t, kvHeads)
				}
			case "attention.output.dense.weight", "self_attn.o_proj.weight": // Linear (out, in)
				t = cols(t, heads)
			case "mlp.c_fc.weight": // Conv1D (D, F)
				t = cols(t, neurons)
			case "mlp.c_fc.bias", "intermediate.dense.weight", "intermediate.dense.bias",
				"mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.gate_proj.bias", "mlp.up_proj.bias":
				t = rows(t, neurons)
			case "mlp.c_proj.weight": // Conv1D (F, D)
				t = rows(t, neurons)
			case "output.dense.weight", "mlp.down_proj.weight": // Linear (D, F)
				t = cols(t, neurons)
			}
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
	for l, ml := range man.Layers {
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
				return nil, fmt.Errorf("build: router parameters %sweight and %sbias are missing", pre, pre)
			}
			wd, err := float32s(w)
			if err != nil {
				return nil, err
			}
			bd, err := float32s(b)
			if err != nil {
				return nil, err
			}
			sp.Tensors[pre+"weight"] = cols(&checkpoints.SparseTensor{Shape: append([]int(nil), w.Shape...), Data: wd}, part.kept)
			sp.Tensors[pre+"bias"] = rows(&checkpoints.SparseTensor{Shape: append([]int(nil), b.Shape...), Data: bd}, part.kept)
		}
	}
	return sp, nil
}

// layerOf splits a per-layer parameter name into its layer and the rest.
func layerOf(c *nn.Config, name string) (int, string, bool) {
	var pre string
	switch c.Family.Layout() {
	case nn.GPT2:
		pre = "transformer.h."
	case nn.BERT, nn.RoBERTa:
		pre = string(c.Family) + ".encoder.layer."
	case nn.LLaMA:
		pre = "model.layers."
	}
	if !strings.HasPrefix(name, pre) {
		return 0, "", false
	}
	rest := name[len(pre):]
	dot := strings.IndexByte(rest, '.')
	if dot < 0 {
		return 0, "", false
	}
	var l int
	if _, err := fmt.Sscanf(rest[:dot], "%d", &l); err != nil {
		return 0, "", false
	}
	return l, rest[dot+1:], true
}

// units expands unit indices into the element indices of size-wide blocks.
func units(us []int, size int) []int {
	out := make([]int, 0, len(us)*size)
	for _, u := range us {
		for j := 0; j < size; j++ {
			out = append(out, u*size+j)
		}
	}
	return out
}

func offset(idx []int, by int) []int {
	out := make([]int, len(idx))
	for i, v := range idx {
		out[i] = v + by
	}
	return out
}

// rows keeps the given indices of a tensor's first dimension.
func rows(t *checkpoints.SparseTensor, keep []int) *checkpoints.SparseTensor {
	inner := 1
	for _, d := range t.Shape[1:] {
		inner *= d
	}
	out := &checkpoints.SparseTensor{Shape: append([]int{len(keep)}, t.Shape[1:]...), Data: make([]float32, 0, len(keep)*inner)}
	for _, r := range keep {
		out.Data = append(out.Data, t.Data[r*inner:(r+1)*inner]...)
	}
	return out
}

// cols keeps the given column indices of a 2-D tensor.
func cols(t *checkpoints.SparseTensor, keep []int) *checkpoints.SparseTensor {
	R, C := t.Shape[0], t.Shape[1]
	out := &checkpoints.SparseTensor{Shape: []int{R, len(keep)}, Data: make([]float32, 0, R*len(keep))}
	for r := 0; r < R; r++ {
		for _, c := range keep {
			out.Data = append(out.Data, t.Data[r*C+c])
		}
	}
	return out
}

// float32s copies a parameter's values as float32.
func float32s(p *nn.Param) ([]float32, error) {
	switch d := p.Value.Data().(type) {
	case []float32:
		return append([]float32(nil), d...), nil
	case []float64:
		out := make([]float32, len(d))
		for i, v := range d {
			out[i] = float32(v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("build: parameter %s has dtype %v", p.Name, p.Value.Dtype())
}
