package checkpoints

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/nn"
)

// maskGates returns the nn gates that switch off, for every token, the
// units man removes: 1 for a kept head or group, 0 for a removed one.
func maskGates(c *nn.Config, man SparseManifest) nn.GateFunc {
	return func(g *G.ExprGraph, l int, x *G.Node) (nn.Gates, error) {
		n := x.Shape()[0]
		mk := func(name string, units int, kept []int) *G.Node {
			v := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(n, units))
			d := v.Data().([]float32)
			for r := 0; r < n; r++ {
				for _, u := range kept {
					d[r*units+u] = 1
				}
			}
			return G.NewTensor(g, tensor.Float32, 2, G.WithShape(n, units), G.WithValue(v), G.WithName(fmt.Sprintf("%s.%d", name, l)))
		}
		ly := man.Layers[l]
		return nn.Gates{
			Head:      mk("head_mask", c.H, ly.Heads),
			FFN:       mk("ffn_mask", c.F/man.GroupSize, ly.Groups),
			GroupSize: man.GroupSize,
		}, nil
	}
}

// forward returns m's logits on a fixed batch of two sequences of five
// tokens (the second padded by one for classifiers).
func forward(t *testing.T, m *nn.Model, gates nn.GateFunc) []float32 {
	t.Helper()
	gr, err := m.Build(nn.BuildOptions{B: 2, T: 5, Gates: gates})
	if err != nil {
		t.Fatal(err)
	}
	b := &nn.Batch{IDs: []int{3, 7, 2, 9, 4, 5, 11, 6, 8, 1}}
	if m.Config.Task == nn.Classification {
		b.Mask = []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 0}
		b.Labels = []int{0, 1}
		if m.Config.Family == nn.BERT {
			b.Types = []int{0, 0, 1, 1, 1, 0, 0, 0, 1, 0}
		}
	}
	if err := gr.Feed(b); err != nil {
		t.Fatal(err)
	}
	r, err := gr.Compile(false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Run(); err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), gr.Logits.Value().Data().([]float32)...)
}

// TestExportHFEqualsMaskedModel: the exported Hugging Face model loads
// with nn.Load and computes the logits of the original model with the
// removed units gated off.
func TestExportHFEqualsMaskedModel(t *testing.T) {
	for _, name := range []string{"gpt2", "gpt2-cls", "bert", "roberta", "llama", "llama-gqa"} {
		t.Run(name, func(t *testing.T) {
			m := tinySparseModel(t, name)
			man := tinyManifest(string(m.Config.Family), true)
			s := pruneForTest(t, m, man)
			from := t.TempDir()
			writeFile(t, filepath.Join(from, "vocab.txt"), []byte("[PAD]\n"))
			out := filepath.Join(t.TempDir(), "hf")
			if err := ExportHF(s, out, from, []string{"vocab.txt"}); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(out, "vocab.txt")); err != nil {
				t.Errorf("tokenizer file not copied: %v", err)
			}
			exp, err := nn.Load(out, nn.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if exp.Config.F != 4*tinyGroupSize || exp.Config.H != m.Config.H {
				t.Errorf("exported F %d, H %d; want the widest layer's 4 groups (32) and 4 heads", exp.Config.F, exp.Config.H)
			}
			want := forward(t, m, maskGates(m.Config, man))
			got := forward(t, exp, nil)
			dense := forward(t, m, nil)
			worst, moved := 0.0, 0.0
			for i := range want {
				worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
				moved = math.Max(moved, math.Abs(float64(dense[i]-want[i])))
			}
			if worst > 1e-5 {
				t.Errorf("exported logits differ from the masked model's by %g", worst)
			}
			if moved < 1e-3 { // the test could not fail if removing units changed nothing
				t.Errorf("removing the units moves the logits by only %g", moved)
			}
		})
	}
}

// TestExportHFPadsNarrowLayers: with layers keeping different numbers of
// groups, the exported width is the widest layer's, the others padded with
// zero neurons; with every group removed everywhere one zero group remains.
func TestExportHFPadsNarrowLayers(t *testing.T) {
	m := tinySparseModel(t, "llama-gqa")
	man := tinyManifest("llama", true)
	man.Layers[1].Groups, man.Layers[1].GroupsDense = []int{2}, []int{2}
	s := pruneForTest(t, m, man)
	out := filepath.Join(t.TempDir(), "hf")
	if err := ExportHF(s, out, "", nil); err != nil {
		t.Fatal(err)
	}
	exp, err := nn.Load(out, nn.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if exp.Config.F != 2*tinyGroupSize {
		t.Errorf("exported F %d, want layer 0's 2 groups = 16", exp.Config.F)
	}
	up := exp.Params.Get("model.layers.1.mlp.up_proj.weight").Value.Data().([]float32) // (16, D)
	D := exp.Config.D
	for i, v := range up[tinyGroupSize*D:] {
		if v != 0 {
			t.Fatalf("padding neuron weight %d is %v, want 0", i, v)
		}
	}
	want := forward(t, m, maskGates(m.Config, man))
	got := forward(t, exp, nil)
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-5 {
			t.Fatalf("logit %d differs by %g", i, d)
		}
	}

	for i := range man.Layers {
		man.Layers[i].Groups, man.Layers[i].GroupsDense = []int{}, []int{}
	}
	s = pruneForTest(t, m, man)
	if err := ExportHF(s, out, "", nil); err != nil {
		t.Fatal(err)
	}
	if exp, err = nn.Load(out, nn.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	if exp.Config.F != tinyGroupSize {
		t.Errorf("no group kept anywhere: exported F %d, want one zero group (%d)", exp.Config.F, tinyGroupSize)
	}
	want = forward(t, m, maskGates(m.Config, man))
	got = forward(t, exp, nil)
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-5 {
			t.Fatalf("no FFN: logit %d differs by %g", i, d)
		}
	}
}

func TestExportHFRefusesBadCheckpoint(t *testing.T) {
	m := tinySparseModel(t, "bert")
	s := pruneForTest(t, m, tinyManifest("bert", true))
	delete(s.Tensors, "bert.encoder.layer.0.intermediate.dense.bias")
	err := ExportHF(s, filepath.Join(t.TempDir(), "hf"), "", nil)
	if err == nil || !strings.Contains(err.Error(), `missing tensor "bert.encoder.layer.0.intermediate.dense.bias"`) {
		t.Fatalf("got %v", err)
	}
}

func TestRoutedUnits(t *testing.T) {
	if n := (&SparseManifest{Layers: tinyManifest("gpt2", false).Layers}).RoutedUnits(); n != 4 {
		t.Errorf("sigmoid manifest: %d routed units, want 2 heads + 2 groups", n)
	}
	if n := (&SparseManifest{Layers: tinyManifest("gpt2", true).Layers}).RoutedUnits(); n != 0 {
		t.Errorf("static manifest: %d routed units, want 0", n)
	}
}
