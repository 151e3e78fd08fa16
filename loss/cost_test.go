package loss

// This file is over 600 lines because it holds the cost model's reference:
// a naive masked model of one layer of every family (spec, naive), which is
// only meaningful beside the acceptance test that counts its work.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/nn"
)

// costConfig is a small model of family f with two layers (so that the
// output of layer 0 is the graph's Hidden[1]), 3 or 4 heads, grouped-query
// attention for LLaMA (4 query heads on 2 key/value heads) and FFN width 24.
func costConfig(f nn.Family) *nn.Config {
	c := &nn.Config{Family: f, Task: nn.CausalLM, Vocab: 13, D: 12, L: 2, H: 3, KVH: 3, F: 24, MaxPos: 16, NormEps: 1e-5, PadID: -1, BOSID: -1, EOSID: -1}
	switch f {
	case nn.GPT2:
		c.Act, c.Tied = "gelu_new", true
	case nn.BERT, nn.RoBERTa:
		c.Task, c.Act, c.TypeVocab, c.Labels, c.PadID = nn.Classification, "gelu", 2, []string{"a", "b", "c"}, 0
	case nn.LLaMA:
		c.D, c.H, c.KVH, c.Act, c.RoPETheta, c.NormEps = 16, 4, 2, "silu", 10000, 1e-6
	}
	return c
}

// counter accumulates FLOPs by the conventions of cost.go.
type counter float64

func (n *counter) add(f int) { *n += counter(f) }

// weight reads a projection as w(i, j), input i to output j, whatever its
// storage: GPT-2's Conv1D is (in, out), nn.Linear (out, in).
type weight struct {
	d    []float64
	cols int
	conv bool
}

func (w weight) at(i, j int) float64 {
	if w.conv {
		return w.d[i*w.cols+j]
	}
	return w.d[j*w.cols+i]
}

// proj returns y[j-lo] = Σ_i x[i]·w(i, j) for j in [lo, hi), counting each
// multiply-add, plus bias b[j] (j indexes the whole projection's outputs)
// when b is not nil, counting each add.
func proj(n *counter, x []float64, w weight, b []float64, lo, hi int) []float64 {
	y := make([]float64, hi-lo)
	for j := lo; j < hi; j++ {
		for i, v := range x {
			y[j-lo] += v * w.at(i, j)
			n.add(2)
		}
		if b != nil {
			y[j-lo] += b[j]
			n.add(1)
		}
	}
	return y
}

// layerNorm is the naive LayerNorm whose 7 FLOPs per element cost.go counts.
func layerNorm(n *counter, x, g, b []float64, eps float64) []float64 {
	d := float64(len(x))
	mean := 0.0
	for _, v := range x {
		mean += v
		n.add(1)
	}
	mean /= d
	cen, vr := make([]float64, len(x)), 0.0
	for i, v := range x {
		cen[i] = v - mean
		vr += cen[i] * cen[i]
		n.add(3)
	}
	r := 1 / math.Sqrt(vr/d+eps)
	y := make([]float64, len(x))
	for i := range x {
		y[i] = cen[i]*r*g[i] + b[i] // scaling by r: 1; gain and shift, a multiply-add: 2
		n.add(3)
	}
	return y
}

// rmsNorm is the naive RMSNorm whose 4 FLOPs per element cost.go counts.
func rmsNorm(n *counter, x, g []float64, eps float64) []float64 {
	ms := 0.0
	for _, v := range x {
		ms += v * v
		n.add(2)
	}
	r := 1 / math.Sqrt(ms/float64(len(x))+eps)
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = v * r * g[i]
		n.add(2)
	}
	return y
}

// rope rotates x at position p as internal/ops does (HF rotate_half, with
// the inverse frequency and the angle rounded through float32 as HF does).
func rope(x []float64, p int, theta float64) {
	half := len(x) / 2
	for i := 0; i < half; i++ {
		inv := float32(1.0 / math.Pow(theta, float64(2*i)/float64(len(x))))
		ang := float64(float32(p) * inv)
		a, b := x[i], x[i+half]
		x[i], x[i+half] = a*math.Cos(ang)-b*math.Sin(ang), b*math.Cos(ang)+a*math.Sin(ang)
	}
}

// spec names one family's layer-0 tensors for the naive layer.
type spec struct {
	pre, rms                   bool // pre-norm blocks; RMSNorm instead of LayerNorm
	norm1, norm2               string
	q, k, v, o, up, gate, down weight
	qOff, kOff, vOff           int // column offsets in a fused QKV projection
	qb, kb, vb, ob, upb, downb []float64
	act                        func(float64) float64
}

func layerSpec(m *nn.Model) spec {
	c := m.Config
	vals := func(name string) []float64 {
		p := m.Params.Get(name)
		if p == nil {
			panic("no parameter " + name)
		}
		return p.Value.Data().([]float64)
	}
	w := func(name string, conv bool) weight {
		return weight{d: vals(name), cols: m.Params.Get(name).Shape[1], conv: conv}
	}
	gelu := func(u float64) float64 { return 0.5 * u * (1 + math.Erf(u/math.Sqrt2)) }
	geluTanh := func(u float64) float64 { return 0.5 * u * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(u+0.044715*u*u*u))) }
	switch c.Family {
	case nn.GPT2:
		p := "transformer.h.0."
		qkv, qkvb := w(p+"attn.c_attn.weight", true), vals(p+"attn.c_attn.bias")
		return spec{pre: true, norm1: p + "ln_1", norm2: p + "ln_2",
			q: qkv, k: qkv, v: qkv, qOff: 0, kOff: c.D, vOff: 2 * c.D, qb: qkvb, kb: qkvb, vb: qkvb,
			o: w(p+"attn.c_proj.weight", true), ob: vals(p + "attn.c_proj.bias"),
			up: w(p+"mlp.c_fc.weight", true), upb: vals(p + "mlp.c_fc.bias"),
			down: w(p+"mlp.c_proj.weight", true), downb: vals(p + "mlp.c_proj.bias"), act: geluTanh}
	case nn.BERT, nn.RoBERTa:
		p := string(c.Family) + ".encoder.layer.0."
		return spec{norm1: p + "attention.output.LayerNorm", norm2: p + "output.LayerNorm",
			q: w(p+"attention.self.query.weight", false), qb: vals(p + "attention.self.query.bias"),
			k: w(p+"attention.self.key.weight", false), kb: vals(p + "attention.self.key.bias"),
			v: w(p+"attention.self.value.weight", false), vb: vals(p + "attention.self.value.bias"),
			o: w(p+"attention.output.dense.weight", false), ob: vals(p + "attention.output.dense.bias"),
			up: w(p+"intermediate.dense.weight", false), upb: vals(p + "intermediate.dense.bias"),
			down: w(p+"output.dense.weight", false), downb: vals(p + "output.dense.bias"), act: gelu}
	case nn.LLaMA:
		p := "model.layers.0."
		return spec{pre: true, rms: true, norm1: p + "input_layernorm", norm2: p + "post_attention_layernorm",
			q: w(p+"self_attn.q_proj.weight", false), k: w(p+"self_attn.k_proj.weight", false),
			v: w(p+"self_attn.v_proj.weight", false), o: w(p+"self_attn.o_proj.weight", false),
			up: w(p+"mlp.up_proj.weight", false), gate: w(p+"mlp.gate_proj.weight", false),
			down: w(p+"mlp.down_proj.weight", false)}
	}
	panic("unknown family")
}

// naive is the masked model of layer 0: a float64 forward pass in plain
// loops that skips the work of every head and neuron group whose gate is 0
// for the token, counting the work it does in routed (per-head, per-group)
// and fixed (everything else) FLOPs.
type naive struct {
	m             *nn.Model
	s             spec
	B, T, k       int
	headOn        [][]bool // (N, H)
	groupOn       [][]bool // (N, G)
	routed, fixed counter
}

func (n *naive) norm(x []float64, name string) []float64 {
	vals := func(s string) []float64 { return n.m.Params.Get(s).Value.Data().([]float64) }
	if n.s.rms {
		return rmsNorm(&n.fixed, x, vals(name+".weight"), n.m.Config.NormEps)
	}
	return layerNorm(&n.fixed, x, vals(name+".weight"), vals(name+".bias"), n.m.Config.NormEps)
}

// layer runs layer 0 on x (N, D) and returns its output (N, D).
func (n *naive) layer(x [][]float64) [][]float64 {
	c, s := n.m.Config, n.s
	D, S, N := c.D, c.S(), n.B*n.T
	causal := c.Family == nn.GPT2 || c.Family == nn.LLaMA
	a := x
	if s.pre {
		a = make([][]float64, N)
		for i := range x {
			a[i] = n.norm(x[i], s.norm1)
		}
	}
	// Keys and values of every token and key/value head: fixed work, since
	// other tokens' queries need them whatever this token's gates.
	K, V := make([][][]float64, N), make([][][]float64, N)
	for i := range a {
		for g := 0; g < c.KVH; g++ {
			lo, hi := g*S, (g+1)*S
			kv := proj(&n.fixed, a[i], s.k, s.kb, s.kOff+lo, s.kOff+hi)
			if c.RoPETheta != 0 {
				rope(kv, i%n.T, c.RoPETheta)
			}
			K[i] = append(K[i], kv)
			V[i] = append(V[i], proj(&n.fixed, a[i], s.v, s.vb, s.vOff+lo, s.vOff+hi))
		}
	}
	out := make([][]float64, N)
	for i := range x {
		b, t := i/n.T, i%n.T
		first, last := b*n.T, b*n.T+n.T-1
		if causal {
			last = i
		}
		att := make([]float64, D)
		for h := 0; h < c.H; h++ {
			if !n.headOn[i][h] {
				continue
			}
			q := proj(&n.routed, a[i], s.q, s.qb, s.qOff+h*S, s.qOff+(h+1)*S)
			if c.RoPETheta != 0 {
				rope(q, t, c.RoPETheta)
			}
			g := h / (c.H / c.KVH)
			p := make([]float64, 0, last-first+1)
			for j := first; j <= last; j++ {
				dot := 0.0
				for e := range q {
					dot += q[e] * K[j][g][e]
					n.routed.add(2)
				}
				p = append(p, dot/math.Sqrt(float64(S)))
			}
			softmax(p)
			ctx := make([]float64, S)
			for jj, j := 0, first; j <= last; jj, j = jj+1, j+1 {
				for e := range ctx {
					ctx[e] += p[jj] * V[j][g][e]
					n.routed.add(2)
				}
			}
			for d := 0; d < D; d++ {
				for e, v := range ctx {
					att[d] += v * s.o.at(h*S+e, d)
					n.routed.add(2)
				}
			}
		}
		y := n.residual(x[i], att, s.ob)
		if !s.pre {
			y = n.norm(y, s.norm1)
		}
		out[i] = n.ffn(i, y)
	}
	return out
}

// residual returns x + o (+ bias), all fixed work.
func (n *naive) residual(x, o, bias []float64) []float64 {
	y := make([]float64, len(x))
	for d := range y {
		if bias != nil {
			o[d] += bias[d]
			n.fixed.add(1)
		}
		y[d] = x[d] + o[d]
		n.fixed.add(1)
	}
	return y
}

// ffn runs token i's FFN block on y, skipping gated-off groups.
func (n *naive) ffn(i int, y []float64) []float64 {
	c, s := n.m.Config, n.s
	m := y
	if s.pre {
		m = n.norm(y, s.norm2)
	}
	o := make([]float64, c.D)
	for g := 0; g < c.F/n.k; g++ {
		if !n.groupOn[i][g] {
			continue
		}
		u := proj(&n.routed, m, s.up, s.upb, g*n.k, (g+1)*n.k)
		var gp []float64
		if s.gate.d != nil {
			gp = proj(&n.routed, m, s.gate, nil, g*n.k, (g+1)*n.k)
		}
		for jj, uj := range u {
			var h float64
			if gp != nil {
				h = gp[jj] / (1 + math.Exp(-gp[jj])) * uj // silu(gate)·up
			} else {
				h = s.act(uj)
			}
			for d := range o {
				o[d] += h * s.down.at(g*n.k+jj, d)
				n.routed.add(2)
			}
		}
	}
	z := n.residual(y, o, s.downb)
	if !s.pre {
		z = n.norm(z, s.norm2)
	}
	return z
}

func softmax(p []float64) {
	mx := math.Inf(-1)
	for _, v := range p {
		mx = max(mx, v)
	}
	sum := 0.0
	for i, v := range p {
		p[i] = math.Exp(v - mx)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
}

// randomMasks returns (N, cols) masks, each entry on with probability ½,
// token 0 all on and token 1 all off.
func randomMasks(rng *rand.Rand, rows, cols int) [][]bool {
	m := make([][]bool, rows)
	for i := range m {
		m[i] = make([]bool, cols)
		for j := range m[i] {
			m[i][j] = i == 0 || i != 1 && rng.IntN(2) == 1
		}
	}
	return m
}

func maskTensor(m [][]bool) *tensor.Dense {
	t := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(len(m), len(m[0])))
	d := t.Data().([]float64)
	for i, r := range m {
		for j, on := range r {
			if on {
				d[i*len(r)+j] = 1
			}
		}
	}
	return t
}

// runGated runs m's graph (float64) with the masks as gates on every layer
// and returns the input and output of layer 0, (N, D) each.
func runGated(t *testing.T, m *nn.Model, B, T, k int, headOn, groupOn [][]bool, ids []int) (in, out [][]float64) {
	gates := func(g *G.ExprGraph, l int, x *G.Node) (nn.Gates, error) {
		h, f := maskTensor(headOn), maskTensor(groupOn)
		return nn.Gates{
			Head:      G.NewTensor(g, tensor.Float64, 2, G.WithShape(h.Shape()...), G.WithValue(h), G.WithName("head_gate")),
			FFN:       G.NewTensor(g, tensor.Float64, 2, G.WithShape(f.Shape()...), G.WithValue(f), G.WithName("ffn_gate")),
			GroupSize: k,
		}, nil
	}
	gr, err := m.Build(nn.BuildOptions{B: B, T: T, Dtype: tensor.Float64, Gates: gates})
	if err != nil {
		t.Fatal(err)
	}
	batch := &nn.Batch{IDs: ids}
	if m.Config.Task == nn.Classification {
		batch.Labels = make([]int, B)
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
	rows := func(n *G.Node) [][]float64 {
		d, D := n.Value().Data().([]float64), m.Config.D
		out := make([][]float64, B*T)
		for i := range out {
			out[i] = append([]float64(nil), d[i*D:(i+1)*D]...)
		}
		return out
	}
	return rows(gr.Hidden[0]), rows(gr.Hidden[1])
}

// TestCostMatchesMaskedModel is the cost model's acceptance test: a naive
// masked model of one layer, which skips the work of every gated-off head
// and neuron group of each token, first computes the same layer output as
// nn's gated graph (so nothing it skips was needed), and then has executed
// exactly the FLOPs the cost model predicts: per token, the per-position
// cost of its active heads and groups, plus the layer's fixed work.
func TestCostMatchesMaskedModel(t *testing.T) {
	const B, T, k = 2, 6, 4
	for _, fam := range []nn.Family{nn.GPT2, nn.BERT, nn.RoBERTa, nn.LLaMA} {
		t.Run(string(fam), func(t *testing.T) {
			c := costConfig(fam)
			params := nn.InitParams(c, 3, tensor.Float64)
			rng := rand.New(rand.NewPCG(4, 5))
			for _, p := range params.List { // non-zero biases; every path matters
				d := p.Value.Data().([]float64)
				for i := range d {
					d[i] += 0.3 * rng.NormFloat64()
				}
			}
			m := &nn.Model{Config: c, Params: params}
			N := B * T
			headOn, groupOn := randomMasks(rng, N, c.H), randomMasks(rng, N, c.F/k)
			ids := make([]int, N)
			for i := range ids {
				ids[i] = 1 + rng.IntN(c.Vocab-1) // never the pad id 0
			}
			in, want := runGated(t, m, B, T, k, headOn, groupOn, ids)

			nv := &naive{m: m, s: layerSpec(m), B: B, T: T, k: k, headOn: headOn, groupOn: groupOn}
			got := nv.layer(in)
			worst := 0.0
			for i := range got {
				for d := range got[i] {
					worst = max(worst, math.Abs(got[i][d]-want[i][d]))
				}
			}
			if worst > 1e-9 {
				t.Fatalf("the masked model's layer output differs from nn's gated graph by %.3g > 1e-9", worst)
			}

			var routed, fixed float64
			for i := 0; i < N; i++ {
				cost, err := NewCostAt(c, k, i%T, T, 0)
				if err != nil {
					t.Fatal(err)
				}
				for h, on := range headOn[i] {
					if on {
						routed += cost.Head[0][h]
					}
				}
				for g, on := range groupOn[i] {
					if on {
						routed += cost.Group[0][g]
					}
				}
				fixed += cost.Layer[0]
			}
			if float64(nv.routed) != routed {
				t.Errorf("routed work: masked model executed %.0f FLOPs, cost model says %.0f", float64(nv.routed), routed)
			}
			if float64(nv.fixed) != fixed {
				t.Errorf("fixed work: masked model executed %.0f FLOPs, cost model says %.0f", float64(nv.fixed), fixed)
			}
			if nv.routed == 0 || nv.fixed == 0 {
				t.Error("the masked model counted nothing")
			}
		})
	}
}

// TestCostAverageOverPositions: NewCost is the mean of NewCostAt over the
// positions of the sequence.
func TestCostAverageOverPositions(t *testing.T) {
	const T, k = 7, 4
	for _, fam := range []nn.Family{nn.GPT2, nn.BERT, nn.LLaMA} {
		c := costConfig(fam)
		mean, err := NewCost(c, k, T, 10)
		if err != nil {
			t.Fatal(err)
		}
		var head, group, fixed, router float64
		for pos := 0; pos < T; pos++ {
			at, err := NewCostAt(c, k, pos, T, 10)
			if err != nil {
				t.Fatal(err)
			}
			head, group, fixed, router = head+at.Head[1][2], group+at.Group[1][5], fixed+at.Fixed, router+at.Router
		}
		for _, x := range []struct {
			name      string
			sum, want float64
		}{{"head", head, mean.Head[1][2]}, {"group", group, mean.Group[1][5]}, {"fixed", fixed, mean.Fixed}, {"router", router, mean.Router}} {
			if got := x.sum / T; math.Abs(got-x.want) > 1e-12*x.want {
				t.Errorf("%s: mean over positions %g, NewCost %g", fam, got, x.want)
			}
		}
		if mean.Router != 10*float64(c.L) {
			t.Errorf("%s: router cost %g, want 10 per layer × %d layers", fam, mean.Router, c.L)
		}
	}
}

// TestCostGPT2SmallAgreesWithKaplan checks the dense total of GPT-2 small
// (124M) against the standard estimate C_forward ≈ 2N + 2·L·T·D per token
// (Kaplan et al. 2020, Table 1, N the non-embedding parameters) plus the LM
// head's 2·D·V. The model counts biases, norms and residual adds that the
// estimate leaves out, and attends (T+1)/2 keys on average where the
// estimate's 2·L·T·D corresponds to T/2: both differences are below 0.5%.
func TestCostGPT2SmallAgreesWithKaplan(t *testing.T) {
	c := &nn.Config{Family: nn.GPT2, Task: nn.CausalLM, Vocab: 50257, D: 768, L: 12, H: 12, KVH: 12, F: 3072, MaxPos: 1024, NormEps: 1e-5, Act: "gelu_new", Tied: true, PadID: -1, BOSID: -1, EOSID: -1}
	const T = 1024
	cost, err := NewCost(c, 64, T, 0)
	if err != nil {
		t.Fatal(err)
	}
	D, L, V := float64(c.D), float64(c.L), float64(c.Vocab)
	nonEmbed := L * 12 * D * D // attention 4D², MLP 2·D·4D
	want := 2*nonEmbed + 2*L*T*D + 2*D*V
	if got := cost.Total(); math.Abs(got-want) > 0.005*want {
		t.Errorf("GPT-2 small: %.4g FLOPs per token, Kaplan's estimate %.4g", got, want)
	}
	if len(cost.Head) != 12 || len(cost.Head[0]) != 12 || len(cost.Group[0]) != 48 {
		t.Errorf("cost shape: %d layers, %d heads, %d groups; want 12, 12, 48", len(cost.Head), len(cost.Head[0]), len(cost.Group[0]))
	}
}

func TestExpected(t *testing.T) {
	c := costConfig(nn.LLaMA)
	cost, err := NewCost(c, 4, 6, 0)
	if err != nil {
		t.Fatal(err)
	}
	ones := func(rows, cols int, v float64) [][]float64 {
		m := make([][]float64, rows)
		for i := range m {
			m[i] = fill(cols, v)
		}
		return m
	}
	groups := c.F / 4
	headShare := sum2(cost.Head) / cost.Dense()
	for _, tc := range []struct {
		name          string
		headP, groupP [][]float64
		want          float64
	}{
		{"dense", ones(c.L, c.H, 1), ones(c.L, groups, 1), 1},
		{"not routed", nil, nil, 1},
		{"all off", ones(c.L, c.H, 0), ones(c.L, groups, 0), 0},
		{"heads off, FFN not routed", ones(c.L, c.H, 0), nil, 1 - headShare},
		{"half", ones(c.L, c.H, 0.5), ones(c.L, groups, 0.5), 0.5},
		{"heads dense, groups a quarter", nil, ones(c.L, groups, 0.25), headShare + 0.25*(1-headShare)},
	} {
		if got := cost.Expected(tc.headP, tc.groupP); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: ĉ = %g, want %g", tc.name, got, tc.want)
		}
	}
	// One unit on: ĉ is its share of the dense cost.
	hp := ones(c.L, c.H, 0)
	hp[1][3] = 1
	if got, want := cost.Expected(hp, ones(c.L, groups, 0)), cost.Head[1][3]/cost.Dense(); got != want {
		t.Errorf("one head on: ĉ = %g, want %g", got, want)
	}
	for _, bad := range []struct {
		name          string
		headP, groupP [][]float64
	}{{"layers", ones(1, c.H, 1), nil}, {"heads", ones(c.L, c.H+1, 1), nil}, {"groups", nil, ones(c.L, groups-1, 1)}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: a mis-shaped probability table did not panic", bad.name)
				}
			}()
			cost.Expected(bad.headP, bad.groupP)
		}()
	}
}

func TestNewCostRejects(t *testing.T) {
	c := costConfig(nn.GPT2)
	bad := *c
	bad.H = 5 // D = 12 is not divisible by 5 heads
	for _, tc := range []struct {
		name      string
		c         *nn.Config
		groupSize int
		ctx       float64
		router    float64
		want      string
	}{
		{"zero group size", c, 0, 8, 0, "group size"},
		{"group size not dividing", c, 5, 8, 0, "group size"},
		{"context below 1", c, 4, 0.5, 0, "context"},
		{"NaN context", c, 4, math.NaN(), 0, "context"},
		{"negative router", c, 4, 8, -1, "router"},
		{"NaN router", c, 4, 8, math.NaN(), "router"},
		{"invalid config", &bad, 4, 8, 0, "divisible"},
	} {
		_, err := NewCost(tc.c, tc.groupSize, tc.ctx, tc.router)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	for _, pos := range []int{-1, 8} {
		if _, err := NewCostAt(c, 4, pos, 8, 0); err == nil || !strings.Contains(err.Error(), "position") {
			t.Errorf("position %d of 8: err = %v, want a position error", pos, err)
		}
	}
}

// The expected cost ĉ of GPT-2 small with 256-token contexts when a router
// keeps every head and, on average, a quarter of the FFN neuron groups.
func ExampleCost_Expected() {
	c := &nn.Config{Family: nn.GPT2, Task: nn.CausalLM, Vocab: 50257, D: 768, L: 12, H: 12, KVH: 12, F: 3072, MaxPos: 1024, NormEps: 1e-5, Act: "gelu_new", Tied: true, PadID: -1, BOSID: -1, EOSID: -1}
	cost, err := NewCost(c, 64, 256, 0)
	if err != nil {
		panic(err)
	}
	groupP := make([][]float64, c.L)
	for l := range groupP {
		groupP[l] = fill(c.F/64, 0.25)
	}
	fmt.Printf("routed blocks %.1f MFLOPs, fixed %.1f MFLOPs per token\n", cost.Dense()/1e6, cost.Fixed/1e6)
	fmt.Printf("ĉ = %.3f\n", cost.Expected(nil, groupP))
	// Output:
	// routed blocks 146.3 MFLOPs, fixed 105.7 MFLOPs per token
	// ĉ = 0.419
}
