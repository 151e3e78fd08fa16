package ops

import (
	"fmt"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/gradcheck"
)

// linearCase is x (N, K), W (K, M) or (M, K) with transW, and b (M).
func linearCase(n, k, m int, transW bool) []gradcheck.Input {
	ws := []int{k, m}
	if transW {
		ws = []int{m, k}
	}
	return []gradcheck.Input{
		{Name: "x", Value: gradcheck.Rand(1, 1, n, k), Check: true},
		{Name: "w", Value: gradcheck.Rand(2, 0.5, ws...), Check: true},
		{Name: "b", Value: gradcheck.Rand(3, 0.5, m), Check: true},
	}
}

// TestMatMulBiasGradients: finite differences in float64 for x, W and b,
// in both weight layouts.
func TestMatMulBiasGradients(t *testing.T) {
	for _, transW := range []bool{false, true} {
		t.Run(fmt.Sprintf("transW=%v", transW), func(t *testing.T) {
			err := gradcheck.Check(linearCase(5, 4, 3, transW), func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				return MatMulBias(in[0], in[1], in[2], transW)
			}, gradcheck.Options{})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestMatMulBiasEqualsMatMulThenBias: the fused layer equals MatMul
// followed by BiasAct's identity, forward and backward, in float32.
func TestMatMulBiasEqualsMatMulThenBias(t *testing.T) {
	for _, transW := range []bool{false, true} {
		ins := linearCase(16, 24, 8, transW)
		fused := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return MatMulBias(in[0], in[1], in[2], transW) }
		twoOps := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			y, err := MatMul(in[0], in[1], transW)
			if err != nil {
				return nil, err
			}
			return BiasAct(y, in[2], ActIdentity, nil, 0)
		}
		checkSameOps(t, ins, fused, twoOps, 1e-5)
	}
}

// TestMatMulBiasRejectsBadShapes: a bias of the wrong width is an error.
func TestMatMulBiasRejectsBadShapes(t *testing.T) {
	g := G.NewGraph()
	ins := linearCase(5, 4, 3, false)
	var n []*G.Node
	for _, in := range ins {
		n = append(n, G.NewTensor(g, in.Value.Dtype(), in.Value.Dims(), G.WithShape(in.Value.Shape()...), G.WithValue(in.Value)))
	}
	if _, err := MatMulBias(n[0], n[1], n[0], false); err == nil {
		t.Error("2-D bias accepted")
	}
	if _, err := MatMulBias(n[0], n[1], n[2], true); err == nil {
		t.Error("W of the wrong layout accepted")
	}
}

// checkSameOps compares two builds of one function in float32: outputs and
// the gradients of every checked input agree within tol.
func checkSameOps(t *testing.T, ins []gradcheck.Input, a, b gradcheck.BuildFunc, tol float64) {
	t.Helper()
	ra, err := evalGraph(t, tensor.Float32, ins, a, 1)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := evalGraph(t, tensor.Float32, ins, b, 1)
	if err != nil {
		t.Fatal(err)
	}
	if msg := closeTo(ra.out, rb.out, tol); msg != "" {
		t.Errorf("output: %s", msg)
	}
	for k := range ra.grads {
		if msg := closeTo(ra.grads[k], rb.grads[k], tol); msg != "" {
			t.Errorf("gradient %d: %s", k, msg)
		}
	}
}
