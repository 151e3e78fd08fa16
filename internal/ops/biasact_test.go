package ops

import (
	"fmt"
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/gradcheck"
)

var allActivations = []Activation{ActIdentity, ActGELUTanh, ActGELU, ActReLU, ActSiLU, ActTanh}

// naiveAct is each activation's textbook formula in float64.
func naiveAct(a Activation, u float64) float64 {
	switch a {
	case ActGELUTanh:
		return 0.5 * u * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(u+0.044715*u*u*u)))
	case ActGELU:
		return 0.5 * u * (1 + math.Erf(u/math.Sqrt2))
	case ActReLU:
		return math.Max(u, 0)
	case ActSiLU:
		return u / (1 + math.Exp(-u))
	case ActTanh:
		return math.Tanh(u)
	}
	return u
}

// TestActivationValues pins values published by PyTorch (torch.nn.GELU
// with and without approximate="tanh", SiLU) at u = 1 and compares every
// activation with its formula on a grid.
func TestActivationValues(t *testing.T) {
	for a, want := range map[Activation]float64{
		ActGELUTanh: 0.8411919906082768, ActGELU: 0.8413447460685429, ActSiLU: 0.7310585786300049,
		ActTanh: 0.7615941559557649, ActReLU: 1, ActIdentity: 1,
	} {
		if got := naiveAct(a, 1); math.Abs(got-want) > 1e-15 {
			t.Fatalf("naive %v(1) = %v, want %v", a, got, want)
		}
	}
	const n = 41
	x := make([]float64, n)
	for i := range x {
		x[i] = float64(i-n/2) * 0.25 // [-5, 5]
	}
	for _, a := range allActivations {
		res, err := evalGraph(t, tensor.Float64, []gradcheck.Input{{Name: "x", Value: denseValue(x, 1, n)}}, buildBiasAct(a, false, 0), 1)
		if err != nil {
			t.Fatal(err)
		}
		for i, u := range x {
			if want := naiveAct(a, u); math.Abs(res.out[i]-want) > 1e-15 {
				t.Errorf("%v(%v) = %v, want %v", a, u, res.out[i], want)
			}
		}
	}
}

// buildBiasAct applies BiasAct to x, then b if withBias, then a gate with
// groups of groupSize if groupSize > 0.
func buildBiasAct(a Activation, withBias bool, groupSize int) gradcheck.BuildFunc {
	return func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		var b, gate *G.Node
		i := 1
		if withBias {
			b, i = in[1], 2
		}
		if groupSize > 0 {
			gate = in[i]
		}
		return BiasAct(in[0], b, a, gate, groupSize)
	}
}

// biasActCase returns the inputs x (n, f), b (f) when withBias, an
// (n, f/group) gate of the given kind, and the matching build function.
func biasActCase(a Activation, n, f, group int, scale float64, withBias bool, kind string) ([]gradcheck.Input, gradcheck.BuildFunc) {
	ins := []gradcheck.Input{{Name: "x", Value: gradcheck.Rand(1, scale, n, f), Check: true}}
	if withBias {
		ins = append(ins, gradcheck.Input{Name: "b", Value: gradcheck.Rand(2, 0.5, f), Check: true})
	}
	if g := gateValue(kind, n, f/group); g != nil {
		ins = append(ins, gradcheck.Input{Name: "gate", Value: g, Check: true})
		return ins, buildBiasAct(a, withBias, group)
	}
	return ins, buildBiasAct(a, withBias, 0)
}

func TestBiasActGradients(t *testing.T) {
	for _, a := range allActivations {
		for _, withBias := range []bool{false, true} {
			for _, kind := range gateKinds {
				t.Run(fmt.Sprintf("%v/bias=%v/%s", a, withBias, kind), func(t *testing.T) {
					ins, build := biasActCase(a, 3, 8, 4, 1.5, withBias, kind)
					if err := gradcheck.Check(ins, build, gradcheck.Options{}); err != nil {
						t.Fatal(err)
					}
				})
			}
		}
	}
}

// TestBiasActFloat32 compares the float32 kernels (fast tanh, exp, erf)
// with the float64 ones on values spanning the activations' curved range.
func TestBiasActFloat32(t *testing.T) {
	for _, a := range allActivations {
		for _, kind := range []string{"dense", "partial"} {
			t.Run(fmt.Sprintf("%v/%s", a, kind), func(t *testing.T) {
				ins, build := biasActCase(a, 16, 256, 32, 3, true, kind)
				checkFloat32(t, ins, build, 2e-6)
			})
		}
	}
}

// Error bounds of the float32 activation kernels against the float64 ones
// (which are finite-difference checked), per unit of 1+|u|. Measured on a
// grid of [-20, 20] in steps of 5e-5: 1.3e-7 for values (SiLU at u ≈ 8.7),
// 3.3e-7 for derivatives (tanh GELU at u ≈ 5, where 1-sigmoid(2z) is a few
// float32 ulps of 1, as in PyTorch's 1-tanh² there).
const (
	actMaxErr     = 3e-7
	actGradMaxErr = 6e-7
)

// FuzzActivation compares every activation and its derivative in float32
// with float64 at one point, through the fused kernels (b = 0, gate 1).
func FuzzActivation(f *testing.F) {
	for _, u := range fastMathSeeds {
		f.Add(u)
	}
	f.Add(float32(-3.7))
	f.Add(float32(4.962))
	f.Fuzz(func(t *testing.T, u float32) {
		if math.IsNaN(float64(u)) || math.Abs(float64(u)) > 1e4 {
			return
		}
		for _, a := range allActivations {
			y32, d32 := actAt[float32](a, u)
			y64, d64 := actAt[float64](a, float64(u))
			if e := math.Abs(float64(y32) - y64); e > actMaxErr*(1+math.Abs(float64(u))) {
				t.Errorf("%v(%v): float32 %v, float64 %v (error %.3g)", a, u, y32, y64, e)
			}
			if e := math.Abs(float64(d32) - d64); e > actGradMaxErr*(1+math.Abs(float64(u))) {
				t.Errorf("%v'(%v): float32 %v, float64 %v (error %.3g)", a, u, d32, d64, e)
			}
		}
	})
}

// actAt returns act(u) and act'(u) through actFwd and actBwd.
func actAt[T Float](a Activation, u T) (T, T) {
	x, b, y, aux, dx, dy := []T{u}, []T{0}, []T{0}, []T{0}, []T{0}, []T{1}
	actFwd(a, y, aux, x, b, 1)
	actBwd(a, dx, dy, aux, x, b, 1, true)
	return y[0], dx[0]
}

func TestParseActivation(t *testing.T) {
	for name, want := range map[string]Activation{
		"gelu_new": ActGELUTanh, "gelu_pytorch_tanh": ActGELUTanh, "gelu": ActGELU,
		"relu": ActReLU, "silu": ActSiLU, "swish": ActSiLU, "tanh": ActTanh, "linear": ActIdentity,
	} {
		if got, err := ParseActivation(name); err != nil || got != want {
			t.Errorf("ParseActivation(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	if _, err := ParseActivation("quick_gelu"); err == nil {
		t.Error("quick_gelu was accepted")
	}
}

func TestBiasActRejectsBadShapes(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 8), G.WithName("x"))
	b := G.NewVector(g, tensor.Float64, G.WithShape(7), G.WithName("b"))
	gate := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("gate"))
	if _, err := BiasAct(x, b, ActReLU, nil, 0); err == nil {
		t.Error("a (7) bias for (2, 8) x was accepted")
	}
	if _, err := BiasAct(x, nil, ActReLU, gate, 4); err == nil {
		t.Error("a (2, 3) gate with groups of 4 for (2, 8) x was accepted")
	}
	if _, err := BiasAct(x, nil, Activation(99), nil, 0); err == nil {
		t.Error("activation 99 was accepted")
	}
}

func BenchmarkBiasAct(b *testing.B) {
	const n, f, group = 1024, 1024, 64
	x, bias, dy := benchTensor(1, 1, n, f), benchTensor(2, 0.1, f), benchTensor(3, 1, n, f)
	gate := benchTensor(4, 1, n, f/group)
	for _, c := range []struct {
		act   Activation
		gated bool
	}{{ActGELUTanh, false}, {ActGELUTanh, true}, {ActGELU, false}, {ActSiLU, false}, {ActReLU, false}} {
		fwd := &biasAct{base: newBase("bench"), act: c.act, hasBias: true, hasGate: c.gated, group: group}
		in := []G.Value{x, bias}
		if c.gated {
			in = append(in, gate)
		}
		bwd := &biasActGrad{base: newBase("bench"), fwd: fwd}
		y, _ := fwd.Do(in...)
		bin := append(append([]G.Value{}, in...), y, dy)
		name := fmt.Sprintf("%v/gated=%v/N=%d,F=%d", c.act, c.gated, n, f)
		b.Run(name+"/fwd", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(2 * 4 * n * f)
			for b.Loop() {
				fwd.Do(in...)
			}
		})
		b.Run(name+"/bwd", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(3 * 4 * n * f)
			for b.Loop() {
				bwd.Do(bin...)
			}
		})
	}
}
