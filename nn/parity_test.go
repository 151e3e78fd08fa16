package nn

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/safetensors"
)

// fixture is one PyTorch reference written by scripts/torch_reference.py.
type fixture struct {
	name  string
	model *Model
	ref   *safetensors.File
	batch *Batch
	b, t  int
}

func loadFixture(t testing.TB, name string) *fixture {
	t.Helper()
	dir := filepath.Join("..", "testdata", "fixtures", name)
	m, err := Load(dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := safetensors.ReadOptions{Ints: true}.Read(filepath.Join(dir, "reference.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	ids := ref.Tensors["input_ids"]
	f := &fixture{name: name, model: m, ref: ref, b: ids.Shape[0], t: ids.Shape[1]}
	ints := func(key string) []int {
		tt, ok := ref.Tensors[key]
		if !ok {
			return nil
		}
		out := make([]int, len(tt.Ints))
		for i, v := range tt.Ints {
			out[i] = int(v)
		}
		return out
	}
	f.batch = &Batch{IDs: ints("input_ids"), Mask: ints("attention_mask"), Types: ints("token_type_ids"), Labels: ints("labels")}
	return f
}

// fixtureGates feeds the fixture's recorded gates as constant inputs and
// returns the gate nodes so their gradients can be compared too.
func (f *fixture) gates(dt tensor.Dtype, nodes map[string]*G.Node) GateFunc {
	if _, ok := f.ref.Tensors["head_gate.0"]; !ok {
		return nil
	}
	return func(g *G.ExprGraph, l int, x *G.Node) (Gates, error) {
		var gs Gates
		for _, kind := range []string{"head_gate", "ffn_gate"} {
			key := fmt.Sprintf("%s.%d", kind, l)
			rt := f.ref.Tensors[key]
			n, cols := f.b*f.t, rt.Shape[2]
			val := tensor.New(tensor.Of(dt), tensor.WithShape(n, cols))
			for i, v := range rt.Data {
				if dt == tensor.Float32 {
					val.Data().([]float32)[i] = v
				} else {
					val.Data().([]float64)[i] = float64(v)
				}
			}
			node := G.NewTensor(g, dt, 2, G.WithShape(n, cols), G.WithValue(val), G.WithName(key))
			nodes[key] = node
			if kind == "head_gate" {
				gs.Head = node
			} else {
				gs.FFN, gs.GroupSize = node, f.model.Config.F/cols
			}
		}
		return gs, nil
	}
}

func maxAbsDiff(a []float32, b []float32) (d, scale float64) {
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		scale = math.Max(scale, math.Abs(float64(b[i])))
	}
	return d, scale
}

func TestPyTorchParity(t *testing.T) {
	for _, name := range []string{"gpt2", "gpt2_gated", "bert", "roberta", "llama", "llama_gated", "gpt2_hub", "llama3_scaled", "llama_linear", "mistral", "qwen2", "qwen3", "llama_cls", "gpt2_cls"} {
		t.Run(name, func(t *testing.T) {
			f := loadFixture(t, name)
			gateNodes := map[string]*G.Node{}
			gr, err := f.model.Build(BuildOptions{B: f.b, T: f.t, Gates: f.gates(tensor.Float32, gateNodes)})
			if err != nil {
				t.Fatal(err)
			}
			wrt := append([]*G.Node(nil), gr.Params...)
			var gateKeys []string
			for k, n := range gateNodes {
				gateKeys = append(gateKeys, k)
				wrt = append(wrt, n)
			}
			grads, err := G.Grad(gr.Loss, wrt...)
			if err != nil {
				t.Fatal(err)
			}
			if err := gr.Feed(f.batch); err != nil {
				t.Fatal(err)
			}
			vm := G.NewTapeMachine(gr.G)
			defer vm.Close()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			gr.zeroPaddingGrads(func(i int) *tensor.Dense { return grads[i].Value().(*tensor.Dense) })

			want := f.ref.Tensors["logits"].Data
			got := gr.Logits.Value().Data().([]float32)
			logitErr, _ := maxAbsDiff(got, want)
			if logitErr > 1e-4 {
				t.Errorf("logits: max abs error %.3g > 1e-4", logitErr)
			}
			if l, w := scalarOf(gr.Loss.Value()), f.ref.Tensors["loss"].Data[0]; math.Abs(l-float64(w)) > 1e-5 {
				t.Errorf("loss %.7f, want %.7f", l, w)
			}
			worst := 0.0
			check := func(key string, g []float32) {
				rt, ok := f.ref.Tensors["grad."+key]
				if !ok {
					t.Errorf("reference has no grad.%s", key)
					return
				}
				d, scale := maxAbsDiff(g, rt.Data)
				// Gradients that are zero in exact arithmetic (the attention key
				// bias: softmax ignores a per-query constant) are rounding noise
				// of order 1e-9 on both sides; the floor keeps them from
				// dominating the relative error.
				rel := d / math.Max(scale, 1e-5)
				worst = math.Max(worst, rel)
				if rel > 1e-3 {
					t.Errorf("grad %s: relative error %.3g > 1e-3 (max abs %.3g, scale %.3g)", key, rel, d, scale)
				}
			}
			for i, p := range f.model.Params.List {
				check(p.Name, grads[i].Value().Data().([]float32))
			}
			for j, k := range gateKeys {
				check(k, grads[len(gr.Params)+j].Value().Data().([]float32))
			}
			t.Logf("%s: logits max abs error %.2g, loss %.7f vs %.7f, %d parameter tensors, worst relative gradient error %.2g",
				name, logitErr, scalarOf(gr.Loss.Value()), f.ref.Tensors["loss"].Data[0], len(gr.Params), worst)
		})
	}
}

func TestParamNamesMatchHuggingFace(t *testing.T) {
	for _, name := range []string{"gpt2", "bert", "roberta", "llama"} {
		f := loadFixture(t, name)
		var names []string
		for _, p := range f.model.Params.List {
			names = append(names, p.Name)
		}
		if len(names) == 0 || !strings.Contains(strings.Join(names, " "), ".0.") {
			t.Fatalf("%s: suspicious parameter list %v", name, names)
		}
	}
}
