package checkpoints

import (
	"slices"
	"testing"
)

// TestPruneRuleCutMatchesTheLayout: cutting every tensor of a tiny model of
// each family with PruneRules gives exactly the tensors of this package's
// independent statement of the layout (pruneForTest), and scattering the
// cut tensors back to the dense shapes gives the dense tensors with the
// removed units zeroed and the kept ones in place.
func TestPruneRuleCutMatchesTheLayout(t *testing.T) {
	for name := range tinyConfigs {
		m := tinySparseModel(t, name)
		man := tinyManifest(string(m.Config.Family), false)
		want := pruneForTest(t, m, man)
		rules := PruneRules(m.Config, man.GroupSize)
		cut := 0
		for _, p := range m.Params.List {
			dense := &SparseTensor{Shape: p.Shape, Data: p.Value.Data().([]float32)}
			r, ok := rules[p.Name]
			if !ok {
				continue
			}
			cut++
			got := r.Cut(dense, r.Kept(&man))
			w := want.Tensors[p.Name]
			if !slices.Equal(got.Shape, w.Shape) || !slices.Equal(got.Data, w.Data) {
				t.Fatalf("%s %s: Cut gives shape %v, the layout %v (or different values)", name, p.Name, got.Shape, w.Shape)
			}
			// Back to dense and cut again: the same tensor; the removed
			// units' slots are zero, so a cut that removed some loses values.
			units := p.Shape[r.Axis] / (r.Blocks * r.Width)
			back := &SparseTensor{Shape: p.Shape, Data: make([]float32, len(dense.Data))}
			r.Scatter(back.Data, p.Shape, got.Data, got.Shape, r.Kept(&man), units)
			if again := r.Cut(back, r.Kept(&man)); !slices.Equal(again.Data, got.Data) {
				t.Fatalf("%s %s: cut, scattered back and cut again differs", name, p.Name)
			}
			if removed := len(r.Kept(&man)) < units; removed == slices.Equal(back.Data, dense.Data) {
				t.Fatalf("%s %s: %d of %d units kept, but the scattered tensor equals the dense one: %v", name, p.Name, len(r.Kept(&man)), units, !removed)
			}
			all := make([]int, units)
			for i := range all {
				all[i] = i
			}
			if whole := r.Cut(dense, all); !slices.Equal(whole.Data, dense.Data) {
				t.Fatalf("%s %s: cutting to every unit changed the tensor", name, p.Name)
			}
		}
		if cut == 0 {
			t.Fatalf("%s: no tensor has a rule", name)
		}
	}
}
