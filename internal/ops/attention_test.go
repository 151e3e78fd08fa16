package ops

import (
	"fmt"
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/gradcheck"
)

// naiveAttention is the textbook formula, per token and head, in float64.
func naiveAttention(q, k, v, mask, gate []float64, c AttnConfig) []float64 {
	hd, kd := c.H*c.S, c.KVH*c.S
	out := make([]float64, c.B*c.T*hd)
	rot := func(x []float64, p int) []float64 {
		y := append([]float64(nil), x...)
		if c.RoPETheta == 0 {
			return y
		}
		half := c.S / 2
		for i := 0; i < half; i++ {
			ang := float64(p) * math.Pow(c.RoPETheta, -float64(2*i)/float64(c.S))
			y[i] = x[i]*math.Cos(ang) - x[i+half]*math.Sin(ang)
			y[i+half] = x[i+half]*math.Cos(ang) + x[i]*math.Sin(ang)
		}
		return y
	}
	for b := 0; b < c.B; b++ {
		for h := 0; h < c.H; h++ {
			kvh := h / (c.H / c.KVH)
			for t := 0; t < c.T; t++ {
				qv := rot(q[(b*c.T+t)*hd+h*c.S:][:c.S], t)
				w := make([]float64, c.T)
				mx, any := math.Inf(-1), false
				for j := 0; j < c.T; j++ {
					if (c.Causal && j > t) || (mask != nil && mask[b*c.T+j] == 0) {
						w[j] = math.Inf(-1)
						continue
					}
					kv := rot(k[(b*c.T+j)*kd+kvh*c.S:][:c.S], j)
					for s := range kv {
						w[j] += qv[s] * kv[s]
					}
					w[j] /= math.Sqrt(float64(c.S))
					mx, any = math.Max(mx, w[j]), true
				}
				if !any {
					continue
				}
				var sum float64
				for j := range w {
					w[j] = math.Exp(w[j] - mx)
					sum += w[j]
				}
				g := 1.0
				if gate != nil {
					g = gate[(b*c.T+t)*c.H+h]
				}
				for j := range w {
					for s := 0; s < c.S; s++ {
						out[(b*c.T+t)*hd+h*c.S+s] += g * w[j] / sum * v[(b*c.T+j)*kd+kvh*c.S+s]
					}
				}
			}
		}
	}
	return out
}

type attnCase struct {
	name        string
	c           AttnConfig
	fused, mask bool
	gate        string // "", "ones", "partial", "zeros"
}

var attnCases = []attnCase{
	{"gpt2-fused-causal", AttnConfig{B: 2, T: 5, H: 2, KVH: 2, S: 3, Causal: true}, true, false, ""},
	{"gpt2-fused-gate-ones", AttnConfig{B: 2, T: 4, H: 2, KVH: 2, S: 3, Causal: true}, true, false, "ones"},
	{"gpt2-fused-gate-partial", AttnConfig{B: 2, T: 4, H: 2, KVH: 2, S: 3, Causal: true}, true, false, "partial"},
	{"gpt2-fused-gate-zeros", AttnConfig{B: 1, T: 4, H: 2, KVH: 2, S: 3, Causal: true}, true, false, "zeros"},
	{"bert-padding-mask", AttnConfig{B: 2, T: 5, H: 2, KVH: 2, S: 3}, false, true, "partial"},
	{"llama-gqa-rope", AttnConfig{B: 2, T: 5, H: 4, KVH: 2, S: 4, Causal: true, RoPETheta: 10000}, false, false, "partial"},
	{"llama-gqa-rope-mask", AttnConfig{B: 2, T: 4, H: 2, KVH: 1, S: 2, Causal: true, RoPETheta: 100}, false, true, ""},
}

func (ac attnCase) inputs() []gradcheck.Input {
	c := ac.c
	n := c.B * c.T
	var ins []gradcheck.Input
	if ac.fused {
		ins = append(ins, gradcheck.Input{Name: "qkv", Value: gradcheck.Rand(1, 1, n, 3*c.H*c.S), Check: true})
	} else {
		ins = append(ins,
			gradcheck.Input{Name: "q", Value: gradcheck.Rand(1, 1, n, c.H*c.S), Check: true},
			gradcheck.Input{Name: "k", Value: gradcheck.Rand(2, 1, n, c.KVH*c.S), Check: true},
			gradcheck.Input{Name: "v", Value: gradcheck.Rand(3, 1, n, c.KVH*c.S), Check: true})
	}
	if ac.mask {
		m := make([]float64, n)
		for i := range m {
			m[i] = 1
		}
		m[n-1], m[n-2] = 0, 0 // the last sequence ends in two pads
		ins = append(ins, gradcheck.Input{Name: "mask", Value: gradcheck.Const(m, c.B, c.T)})
	}
	if ac.gate != "" {
		g := gradcheck.Rand(4, 1, n, c.H)
		d := g.Data().([]float64)
		for i := range d {
			switch ac.gate {
			case "ones":
				d[i] = 1
			case "zeros":
				d[i] = 0
			case "partial":
				if i%3 == 0 {
					d[i] = 0
				} else {
					d[i] = math.Abs(d[i])
				}
			}
		}
		ins = append(ins, gradcheck.Input{Name: "gate", Value: g, Check: true})
	}
	return ins
}

func (ac attnCase) build(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
	i := 3
	if ac.fused {
		i = 1
	}
	var mask, gate *G.Node
	if ac.mask {
		mask = in[i]
		i++
	}
	if ac.gate != "" {
		gate = in[i]
	}
	if ac.fused {
		return AttentionQKV(in[0], mask, gate, ac.c)
	}
	return Attention(in[0], in[1], in[2], mask, gate, ac.c)
}

func TestAttentionGradients(t *testing.T) {
	for _, ac := range attnCases {
		t.Run(ac.name, func(t *testing.T) {
			if err := gradcheck.Check(ac.inputs(), ac.build, gradcheck.Options{MaxElem: 40}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAttentionMatchesNaive(t *testing.T) {
	for _, ac := range attnCases {
		t.Run(ac.name, func(t *testing.T) {
			ins := ac.inputs()
			g := G.NewGraph()
			nodes := make([]*G.Node, len(ins))
			for i, in := range ins {
				nodes[i] = G.NewTensor(g, tensor.Float64, 2, G.WithShape(in.Value.Shape()...), G.WithValue(in.Value), G.WithName(in.Name))
			}
			out, err := ac.build(g, nodes)
			if err != nil {
				t.Fatal(err)
			}
			m := G.NewTapeMachine(g)
			defer m.Close()
			if err := m.RunAll(); err != nil {
				t.Fatal(err)
			}
			c, hd := ac.c, ac.c.H*ac.c.S
			get := func(i int) []float64 { return ins[i].Value.Data().([]float64) }
			var q, k, v, mask, gate []float64
			i := 3
			if ac.fused {
				all := get(0)
				n := c.B * c.T
				q, k, v = make([]float64, n*hd), make([]float64, n*hd), make([]float64, n*hd)
				for r := 0; r < n; r++ {
					copy(q[r*hd:], all[r*3*hd:][:hd])
					copy(k[r*hd:], all[r*3*hd+hd:][:hd])
					copy(v[r*hd:], all[r*3*hd+2*hd:][:hd])
				}
				i = 1
			} else {
				q, k, v = get(0), get(1), get(2)
			}
			if ac.mask {
				mask = get(i)
				i++
			}
			if ac.gate != "" {
				gate = get(i)
			}
			want := naiveAttention(q, k, v, mask, gate, c)
			got := out.Value().Data().([]float64)
			for j := range want {
				if math.Abs(got[j]-want[j]) > 1e-6 { // RoPE angles are rounded to float32 as HF does
					t.Fatalf("element %d: got %v, want %v", j, got[j], want[j])
				}
			}
		})
	}
}

// BenchmarkAttention times forward+backward at the speed benchmark's shape
// (B 8, T 128, 4 heads of 64), heads in parallel goroutines or in sequence.
func BenchmarkAttention(b *testing.B) {
	c := AttnConfig{B: 8, T: 128, H: 4, KVH: 4, S: 64, Causal: true}
	n := c.B * c.T
	for _, par := range []bool{true, false} {
		b.Run(fmt.Sprintf("parallel=%v", par), func(b *testing.B) {
			AttentionHeadsInParallel = par
			defer func() { AttentionHeadsInParallel = true }()
			g := G.NewGraph()
			qkv := G.NewMatrix(g, tensor.Float32, G.WithShape(n, 3*c.H*c.S), G.WithName("qkv"), G.WithInit(G.GlorotU(1)))
			out, err := AttentionQKV(qkv, nil, nil, c)
			if err != nil {
				b.Fatal(err)
			}
			loss, _ := G.Sum(out)
			if _, err := G.Grad(loss, qkv); err != nil {
				b.Fatal(err)
			}
			m := G.NewTapeMachine(g)
			defer m.Close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m.Reset()
				if err := m.RunAll(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
