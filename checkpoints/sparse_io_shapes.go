package checkpoints

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
)

// UnitKind says which units a pruned axis is made of.
type UnitKind int

const (
	HeadUnits  UnitKind = iota // attention heads, S columns (or rows) each
	GroupUnits                 // FFN neuron groups, GroupSize neurons each
)

// PruneRule says how one dense tensor is cut down to a layer's kept units:
// along Axis, which is Blocks equal blocks (GPT-2's fused c_attn has three,
// q|k|v; everything else one) of units of Width elements each, only the
// kept units' slices stay, in ascending unit order within each block.
//
// PruneRules is the one per-family table of these rules: the reader's shape
// checks (SparseShapes), ExportHF's scatter back to dense shapes and the
// hardening's cut (Assemble, for package harden) all read it.
type PruneRule struct {
	Layer  int      // transformer layer whose manifest entry lists the kept units
	Unit   UnitKind // heads or FFN groups
	Axis   int      // the axis that is cut
	Blocks int      // equal blocks along Axis, each cut the same way
	Width  int      // elements of one unit along Axis
}

// PruneRules maps the name of every tensor that pruning cuts to its rule,
// for model c with FFN groups of k neurons; tensors not in the map are
// kept whole. The layouts are sparse.go's: nn.Linear weights are
// (out, in), GPT-2's Conv1D weights (in, out).
func PruneRules(c *nn.Config, k int) map[string]PruneRule {
	rules := map[string]PruneRule{}
	S := c.S()
	for l := 0; l < c.L; l++ {
		head := func(name string, axis, blocks int) {
			rules[name] = PruneRule{Layer: l, Unit: HeadUnits, Axis: axis, Blocks: blocks, Width: S}
		}
		group := func(name string, axis int) {
			rules[name] = PruneRule{Layer: l, Unit: GroupUnits, Axis: axis, Blocks: 1, Width: k}
		}
		switch c.Family.Layout() {
		case nn.GPT2:
			p := fmt.Sprintf("transformer.h.%d.", l)
			head(p+"attn.c_attn.weight", 1, 3) // (D, 3·D) → (D, 3·h·S)
			head(p+"attn.c_attn.bias", 0, 3)   // (3·D) → (3·h·S)
			head(p+"attn.c_proj.weight", 0, 1) // (D, D) → (h·S, D)
			group(p+"mlp.c_fc.weight", 1)      // (D, F) → (D, g·k)
			group(p+"mlp.c_fc.bias", 0)        // (F) → (g·k)
			group(p+"mlp.c_proj.weight", 0)    // (F, D) → (g·k, D)
		case nn.BERT, nn.RoBERTa:
			p := fmt.Sprintf("%s.encoder.layer.%d.", c.Family, l)
			for _, qkv := range []string{"query", "key", "value"} {
				head(p+"attention.self."+qkv+".weight", 0, 1) // (D, D) → (h·S, D)
				head(p+"attention.self."+qkv+".bias", 0, 1)   // (D) → (h·S)
			}
			head(p+"attention.output.dense.weight", 1, 1) // (D, D) → (D, h·S)
			group(p+"intermediate.dense.weight", 0)       // (F, D) → (g·k, D)
			group(p+"intermediate.dense.bias", 0)         // (F) → (g·k)
			group(p+"output.dense.weight", 1)             // (D, F) → (D, g·k)
		case nn.LLaMA:
			p := fmt.Sprintf("model.layers.%d.", l)
			// S is head_dim, so H·S need not be D. Qwen3's q_norm and k_norm
			// (S) are shared by the heads and stay whole, as do the o_proj
			// and down_proj biases (D).
			head(p+"self_attn.q_proj.weight", 0, 1) // (H·S, D) → (h·S, D)
			kv := []string{"self_attn.k_proj.weight", "self_attn.v_proj.weight"}
			if c.AttnBias {
				head(p+"self_attn.q_proj.bias", 0, 1) // (H·S) → (h·S)
				kv = append(kv, "self_attn.k_proj.bias", "self_attn.v_proj.bias")
			}
			if c.KVH == c.H { // with GQA the shared key/value heads stay whole
				for _, n := range kv {
					head(p+n, 0, 1)
				}
			}
			head(p+"self_attn.o_proj.weight", 1, 1) // (D, H·S) → (D, h·S)
			group(p+"mlp.gate_proj.weight", 0)      // (F, D) → (g·k, D)
			group(p+"mlp.up_proj.weight", 0)        // (F, D) → (g·k, D)
			group(p+"mlp.down_proj.weight", 1)      // (D, F) → (D, g·k)
			if c.MLPBias {
				group(p+"mlp.gate_proj.bias", 0) // (F) → (g·k)
				group(p+"mlp.up_proj.bias", 0)
			}
		}
	}
	return rules
}

// Kept returns the rule's layer's kept units of its kind in manifest m.
func (r PruneRule) Kept(m *SparseManifest) []int {
	if r.Unit == HeadUnits {
		return m.Layers[r.Layer].Heads
	}
	return m.Layers[r.Layer].Groups
}

// Cut returns the slices of the dense tensor t (shape, row-major data) that
// the kept units (ascending) keep along r.Axis: the tensor the sparse
// checkpoint holds. t is not modified.
func (r PruneRule) Cut(t *SparseTensor, kept []int) *SparseTensor {
	shape := append([]int(nil), t.Shape...)
	shape[r.Axis] = r.Blocks * len(kept) * r.Width
	out := &SparseTensor{Shape: shape, Data: make([]float32, numel(shape))}
	pos := make([]int, len(kept))
	for i := range pos {
		pos[i] = i
	}
	// Cutting is the scatter run backwards: unit kept[i] of the dense
	// tensor is slot i of the cut one.
	r.move(t.Data, t.Shape, out.Data, shape, kept, pos, t.Shape[r.Axis]/(r.Blocks*r.Width), len(kept))
	return out
}

// Scatter copies the cut tensor src into the zeroed dense tensor dst: along
// r.Axis, in each of r.Blocks blocks, the i-th unit slice of src goes to
// unit slot pos[i] of dst, which has units slots per block. The axes other
// than r.Axis agree.
func (r PruneRule) Scatter(dst []float32, dstShape []int, src []float32, srcShape []int, pos []int, units int) {
	seq := make([]int, len(pos))
	for i := range seq {
		seq[i] = i
	}
	r.move(src, srcShape, dst, dstShape, seq, pos, len(pos), units)
}

// move copies unit from[i] of src (srcUnits per block) to unit slot to[i]
// of dst (dstUnits per block), in every block and along every other axis.
func (r PruneRule) move(src []float32, srcShape []int, dst []float32, dstShape []int, from, to []int, srcUnits, dstUnits int) {
	outer, inner := numel(srcShape[:r.Axis]), numel(srcShape[r.Axis+1:])
	srcAxis, dstAxis := srcShape[r.Axis], dstShape[r.Axis]
	for o := 0; o < outer; o++ {
		for b := 0; b < r.Blocks; b++ {
			for i := range from {
				for j := 0; j < r.Width; j++ {
					si := (o*srcAxis + (b*srcUnits+from[i])*r.Width + j) * inner
					di := (o*dstAxis + (b*dstUnits+to[i])*r.Width + j) * inner
					copy(dst[di:di+inner], src[si:si+inner])
				}
			}
		}
	}
}

// Router tensor names (see sparse.go).
func routerName(l int, part, kind string) string {
	return fmt.Sprintf("router.layers.%d.%s.%s", l, part, kind)
}

// SparseShapes returns the shape of every tensor a sparse checkpoint of
// model c with manifest m holds, by name: the model's tensors (c.Specs)
// with the removed units cut out as sparse.go specifies, and the router
// tensors of the layers that route. It first checks m against c and
// returns an error naming the first problem: wrong family, unknown router
// kind, a group size that does not divide F, a layer count other than L,
// unit lists out of range, unsorted, duplicated or (dense lists) not a
// subset of the kept ones, a tau outside (0, 1), a static router with
// routed units. ContentHash is not looked at.
//
// The hardening code builds its tensors with these shapes, and WriteSparse
// and ReadSparse hold checkpoints to them.
func SparseShapes(c *nn.Config, m *SparseManifest) (map[string][]int, error) {
	if c == nil || m == nil {
		return nil, errors.New("SparseShapes: nil config or manifest")
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := checkManifest(c, m); err != nil {
		return nil, err
	}
	rules := PruneRules(c, m.GroupSize)
	shapes := map[string][]int{}
	for _, p := range c.Specs() {
		shape := append([]int(nil), p.Shape...)
		if r, ok := rules[p.Name]; ok {
			shape[r.Axis] = r.Blocks * len(r.Kept(m)) * r.Width
		}
		shapes[p.Name] = shape
	}
	if m.Router == string(router.Static) {
		return shapes, nil
	}
	for l, ly := range m.Layers {
		if len(ly.HeadsDense) < len(ly.Heads) {
			shapes[routerName(l, "head", "weight")] = []int{c.D, len(ly.Heads)}
			shapes[routerName(l, "head", "bias")] = []int{len(ly.Heads)}
		}
		if len(ly.GroupsDense) < len(ly.Groups) {
			shapes[routerName(l, "ffn", "weight")] = []int{c.D, len(ly.Groups)}
			shapes[routerName(l, "ffn", "bias")] = []int{len(ly.Groups)}
		}
	}
	return shapes, nil
}

// checkManifest checks everything in m that c determines.
func checkManifest(c *nn.Config, m *SparseManifest) error {
	if m.Family != string(c.Family) {
		return fmt.Errorf("family %q does not match config.json's model_type %q", m.Family, c.Family)
	}
	switch router.Kind(m.Router) {
	case router.Sigmoid, router.HardConcrete, router.Static:
	default:
		return fmt.Errorf("router kind %q is unknown (want sigmoid, hard-concrete or static)", m.Router)
	}
	if m.GroupSize < 1 || c.F%m.GroupSize != 0 {
		return fmt.Errorf("group_size %d does not divide the FFN width %d", m.GroupSize, c.F)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"shift", m.Shift}, {"target", m.Target}, {"compute", m.Compute}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%s %g is not finite", f.name, f.v)
		}
	}
	if len(m.Layers) != c.L {
		return fmt.Errorf("has %d layers, the model has %d", len(m.Layers), c.L)
	}
	if m.Routing != "" && m.Routing != RoutingTopK {
		return fmt.Errorf("routing %q is unknown (want %q, or none for threshold routing)", m.Routing, RoutingTopK)
	}
	static := m.Router == string(router.Static)
	for l, ly := range m.Layers {
		if err := checkTopK(m.Routing == RoutingTopK, ly); err != nil {
			return fmt.Errorf("layer %d: %w", l, err)
		}
		if !(ly.Tau > 0 && ly.Tau < 1) {
			return fmt.Errorf("layer %d: tau %g is outside (0, 1)", l, ly.Tau)
		}
		for _, u := range []struct {
			name        string
			kept, dense []int
			n           int
		}{{"heads", ly.Heads, ly.HeadsDense, c.H}, {"groups", ly.Groups, ly.GroupsDense, c.F / m.GroupSize}} {
			if err := checkUnits(u.name, u.kept, u.n); err != nil {
				return fmt.Errorf("layer %d: %w", l, err)
			}
			if err := checkUnits(u.name+"_dense", u.dense, u.n); err != nil {
				return fmt.Errorf("layer %d: %w", l, err)
			}
			if i := notIn(u.dense, u.kept); i >= 0 {
				return fmt.Errorf("layer %d: %s_dense lists %d, which %s does not keep", l, u.name, i, u.name)
			}
			if static && len(u.dense) != len(u.kept) {
				return fmt.Errorf("layer %d: a static router keeps every unit dense, but %s_dense has %d of the %d %s kept", l, u.name, len(u.dense), len(u.kept), u.name)
			}
		}
	}
	return nil
}

// checkTopK checks a layer's k: none under threshold routing, and under
// top-k routing dense units ≤ k ≤ kept units, for heads and groups.
func checkTopK(topk bool, ly SparseLayer) error {
	for _, u := range []struct {
		name        string
		k           int
		kept, dense []int
	}{{"k_heads", ly.KHeads, ly.Heads, ly.HeadsDense}, {"k_groups", ly.KGroups, ly.Groups, ly.GroupsDense}} {
		switch {
		case !topk && u.k != 0:
			return fmt.Errorf("%s %d given without routing %q", u.name, u.k, RoutingTopK)
		case topk && (u.k < len(u.dense) || u.k > len(u.kept)):
			return fmt.Errorf("%s %d is outside [%d, %d] (the dense and the kept units)", u.name, u.k, len(u.dense), len(u.kept))
		}
	}
	return nil
}

// checkUnits checks that list holds unit indices in [0, n), strictly
// ascending.
func checkUnits(name string, list []int, n int) error {
	for i, u := range list {
		switch {
		case u < 0 || u >= n:
			return fmt.Errorf("%s lists %d, outside [0, %d)", name, u, n)
		case i > 0 && u == list[i-1]:
			return fmt.Errorf("%s lists %d twice", name, u)
		case i > 0 && u < list[i-1]:
			return fmt.Errorf("%s %s are not in ascending order", name, intsString(list))
		}
	}
	return nil
}

// notIn returns the first element of sub (ascending) missing from set
// (ascending), or -1.
func notIn(sub, set []int) int {
	j := 0
	for _, u := range sub {
		for j < len(set) && set[j] < u {
			j++
		}
		if j == len(set) || set[j] != u {
			return u
		}
	}
	return -1
}

// intsString prints a list briefly for a one-line message.
func intsString(list []int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, u := range list {
		if i == 8 {
			fmt.Fprintf(&b, " ... (%d in all)", len(list))
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, u)
	}
	b.WriteByte(']')
	return b.String()
}
