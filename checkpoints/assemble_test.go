package checkpoints

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/nn"
)

// routerParams returns full-width router parameters (D, H) and (H) for
// heads, (D, G) and (G) for groups, in every layer, each element its own
// value so that a wrong column shows.
func routerParams(c *nn.Config, groups int) []*nn.Param {
	var out []*nn.Param
	add := func(name string, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(len(out)*1000 + i)
		}
		out = append(out, &nn.Param{Name: name, Shape: shape, Value: tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))})
	}
	for l := 0; l < c.L; l++ {
		add(fmt.Sprintf("router.layers.%d.head.weight", l), c.D, c.H)
		add(fmt.Sprintf("router.layers.%d.head.bias", l), c.H)
		add(fmt.Sprintf("router.layers.%d.ffn.weight", l), c.D, groups)
		add(fmt.Sprintf("router.layers.%d.ffn.bias", l), groups)
	}
	return out
}

// TestAssembleMatchesTheLayout: for a tiny model of each family, Assemble
// gives the model tensors of this package's independent statement of the
// layout (pruneForTest), exactly the router tensors of the layer parts
// that route, cut to the kept units' columns, and sets the manifest's
// format, version and family; the model is left as it was.
func TestAssembleMatchesTheLayout(t *testing.T) {
	for name := range tinyConfigs {
		m := tinySparseModel(t, name)
		c := m.Config
		man := tinyManifest(string(c.Family), false)
		man.Format, man.Version, man.Family = "", 0, ""
		before := slices.Clone(m.Params.List[0].Value.Data().([]float32))
		routers := routerParams(c, c.F/tinyGroupSize)
		sp, err := Assemble(m, routers, man)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if sp.Manifest.Format != SparseFormat || sp.Manifest.Version != SparseVersion || sp.Manifest.Family != string(c.Family) {
			t.Fatalf("%s: manifest format %q version %d family %q", name, sp.Manifest.Format, sp.Manifest.Version, sp.Manifest.Family)
		}
		want := pruneForTest(t, m, man)
		for _, p := range m.Params.List {
			got, w := sp.Tensors[p.Name], want.Tensors[p.Name]
			if !slices.Equal(got.Shape, w.Shape) || !slices.Equal(got.Data, w.Data) {
				t.Fatalf("%s %s: shape %v, the layout says %v (or different values)", name, p.Name, got.Shape, w.Shape)
			}
		}
		// Layer 0 routes its heads (kept 0, 2, 3; 2 dense) and its groups
		// (kept 1, 3); layers 1 and 2 route nothing.
		var routed []string
		for n := range sp.Tensors {
			if strings.HasPrefix(n, "router.") {
				routed = append(routed, n)
			}
		}
		slices.Sort(routed)
		if wantNames := []string{"router.layers.0.ffn.bias", "router.layers.0.ffn.weight", "router.layers.0.head.bias", "router.layers.0.head.weight"}; !slices.Equal(routed, wantNames) {
			t.Fatalf("%s: router tensors %q, want %q", name, routed, wantNames)
		}
		hb := sp.Tensors["router.layers.0.head.bias"].Data
		if !slices.Equal(hb, []float32{1000, 1002, 1003}) {
			t.Fatalf("%s: head router bias %v, want the columns of heads 0, 2, 3", name, hb)
		}
		hw := sp.Tensors["router.layers.0.head.weight"]
		if !slices.Equal(hw.Shape, []int{c.D, 3}) || hw.Data[3] != float32(c.H) {
			t.Fatalf("%s: head router weight shape %v, row 1 starts %v, want (D, 3) and %d", name, hw.Shape, hw.Data[3], c.H)
		}
		if after := m.Params.List[0].Value.Data().([]float32); !slices.Equal(after, before) {
			t.Fatalf("%s: Assemble modified the model", name)
		}
	}
}

// TestAssembleRejects: a manifest that does not fit the model, a missing
// router and a static manifest (which needs none) are told apart.
func TestAssembleRejects(t *testing.T) {
	m := tinySparseModel(t, "gpt2")
	for what, tc := range map[string]struct {
		edit func(*SparseManifest)
		want string
	}{
		"layers":     {func(s *SparseManifest) { s.Layers = s.Layers[:2] }, "prune: 2 manifest layers for a 3-layer model"},
		"group size": {func(s *SparseManifest) { s.GroupSize = 5 }, "prune: group size 5 does not divide the FFN width 32"},
		"router":     {func(s *SparseManifest) {}, "prune: router parameters router.layers.0.head.weight and router.layers.0.head.bias are missing"},
	} {
		man := tinyManifest("gpt2", false)
		tc.edit(&man)
		if _, err := Assemble(m, nil, man); err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %q", what, err, tc.want)
		}
	}
	if _, err := Assemble(m, nil, tinyManifest("gpt2", true)); err != nil {
		t.Fatalf("static manifest without routers: %v", err)
	}
}
