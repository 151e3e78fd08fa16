package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

// permuteModel is a two-layer float32 model of family f whose weights,
// biases included, are lifted well above their init scale so that every
// tensor PermuteFFN moves affects the output.
func permuteModel(f Family) *Model {
	c := tinyConfig(f)
	c.L = 2
	params := InitParams(c, 11, tensor.Float32)
	rng := rand.New(rand.NewPCG(12, 13))
	for _, p := range params.List {
		d := p.Value.Data().([]float32)
		for i := range d {
			d[i] += float32(0.3 * rng.NormFloat64())
		}
	}
	return &Model{Config: c, Params: params}
}

// forward returns copies of the logits and the final hidden state of m on a
// fixed batch.
func forward(t *testing.T, m *Model) (logits, hidden []float32) {
	t.Helper()
	gr, err := m.Build(BuildOptions{B: 2, T: 4})
	if err != nil {
		t.Fatal(err)
	}
	batch := &Batch{IDs: []int{1, 2, 3, 4, 5, 6, 7, 8}}
	if m.Config.Task == Classification {
		batch.Types = []int{0, 0, 1, 1, 0, 1, 1, 0}
		batch.Labels = []int{2, 0}
	}
	if err := gr.Feed(batch); err != nil {
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
	logits = slices.Clone(gr.Logits.Value().Data().([]float32))
	hidden = slices.Clone(gr.Hidden[len(gr.Hidden)-1].Value().Data().([]float32))
	return logits, hidden
}

func maxDiff32(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// TestPermuteFFNKeepsFunction: permuting the neurons of every layer leaves
// the dense model's logits and final hidden state unchanged up to float32
// rounding of the reordered sums.
func TestPermuteFFNKeepsFunction(t *testing.T) {
	for _, fam := range []Family{GPT2, BERT, RoBERTa, LLaMA} {
		t.Run(string(fam), func(t *testing.T) {
			m := permuteModel(fam)
			logits0, hidden0 := forward(t, m)
			rng := rand.New(rand.NewPCG(21, 22))
			for l := 0; l < m.Config.L; l++ {
				perm := rng.Perm(m.Config.F)
				if err := m.PermuteFFN(l, perm); err != nil {
					t.Fatal(err)
				}
			}
			logits1, hidden1 := forward(t, m)
			if d := maxDiff32(logits0, logits1); d > 1e-5 {
				t.Errorf("logits changed by %.3g > 1e-5", d)
			}
			if d := maxDiff32(hidden0, hidden1); d > 1e-5 {
				t.Errorf("final hidden state changed by %.3g > 1e-5", d)
			}
		})
	}
}

// TestPermuteFFNDirection pins the convention that new neuron i is old
// neuron perm[i] (the inverse permutation would keep the function too), for
// every tensor and axis FFNTensors names.
func TestPermuteFFNDirection(t *testing.T) {
	for _, fam := range []Family{GPT2, BERT, LLaMA} {
		t.Run(string(fam), func(t *testing.T) {
			m := permuteModel(fam)
			const layer = 1
			roles := map[FFNRole][][]float32{}
			for _, ft := range m.Config.FFNTensors(layer) {
				v, err := m.FFNNeurons(layer, ft.Role)
				if err != nil {
					t.Fatal(err)
				}
				roles[ft.Role] = v
			}
			other := slices.Clone(m.Params.Get(m.Config.FFNTensors(0)[0].Name).Value.Data().([]float32))
			perm := rand.New(rand.NewPCG(5, 6)).Perm(m.Config.F)
			if err := m.PermuteFFN(layer, perm); err != nil {
				t.Fatal(err)
			}
			for role, old := range roles {
				now, err := m.FFNNeurons(layer, role)
				if err != nil {
					t.Fatal(err)
				}
				for i, p := range perm {
					if !slices.Equal(now[i], old[p]) {
						t.Fatalf("%v tensor: new neuron %d is not old neuron %d", role, i, p)
					}
				}
			}
			if !slices.Equal(other, m.Params.Get(m.Config.FFNTensors(0)[0].Name).Value.Data().([]float32)) {
				t.Error("permuting layer 1 changed layer 0")
			}
		})
	}
}

// TestFFNNeuronsLayout checks FFNNeurons against the storage layout: GPT-2's
// c_fc is (D, F), so neuron j is column j; BERT's intermediate.dense is
// (F, D), so neuron j is row j.
func TestFFNNeuronsLayout(t *testing.T) {
	for _, tc := range []struct {
		fam    Family
		name   string
		column bool
	}{{GPT2, "transformer.h.0.mlp.c_fc.weight", true}, {BERT, "bert.encoder.layer.0.intermediate.dense.weight", false}, {LLaMA, "model.layers.0.mlp.up_proj.weight", false}} {
		m := permuteModel(tc.fam)
		v, err := m.FFNNeurons(0, FFNUp)
		if err != nil {
			t.Fatal(err)
		}
		p := m.Params.Get(tc.name)
		d, s := p.Value.Data().([]float32), p.Value.Shape()
		if len(v) != m.Config.F || len(v[0]) != m.Config.D {
			t.Fatalf("%s: got %d×%d neuron weights, want %d×%d", tc.fam, len(v), len(v[0]), m.Config.F, m.Config.D)
		}
		j, k := 3, 5
		want := d[j*s[1]+k]
		if tc.column {
			want = d[k*s[1]+j]
		}
		if v[j][k] != want {
			t.Errorf("%s: neuron %d weight %d is %g, want %g", tc.fam, j, k, v[j][k], want)
		}
	}
	if _, err := permuteModel(GPT2).FFNNeurons(0, FFNGate); err == nil || !strings.Contains(err.Error(), "gate") {
		t.Errorf("GPT-2 gate neurons: err = %v, want a missing gate tensor", err)
	}
}

func TestPermuteFFNRejects(t *testing.T) {
	m := permuteModel(GPT2)
	F := m.Config.F
	id := func() []int {
		p := make([]int, F)
		for i := range p {
			p[i] = i
		}
		return p
	}
	dup := id()
	dup[3] = 4
	neg := id()
	neg[0] = -1
	big := id()
	big[F-1] = F
	before := slices.Clone(m.Params.Get("transformer.h.0.mlp.c_fc.weight").Value.Data().([]float32))
	for _, tc := range []struct {
		name  string
		layer int
		perm  []int
		want  string
	}{
		{"short", 0, id()[:F-1], "entries"},
		{"repeat", 0, dup, "repeats"},
		{"negative", 0, neg, "outside"},
		{"too large", 0, big, "outside"},
		{"layer -1", -1, id(), "layer"},
		{"layer L", m.Config.L, id(), "layer"},
	} {
		err := m.PermuteFFN(tc.layer, tc.perm)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	if !slices.Equal(before, m.Params.Get("transformer.h.0.mlp.c_fc.weight").Value.Data().([]float32)) {
		t.Error("a rejected permutation changed the weights")
	}
}
