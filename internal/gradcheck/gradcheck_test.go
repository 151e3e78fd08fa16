package gradcheck

import (
	"fmt"
	"hash"
	"strings"
	"testing"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// square is y = x⊙x with a switchable derivative, for the negative control.
type square struct{ wrong bool }

func (s square) Arity() int    { return 1 }
func (s square) Type() hm.Type { a := hm.TypeVariable('a'); return hm.NewFnType(a, a) }
func (s square) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (s square) Do(in ...G.Value) (G.Value, error) {
	x := in[0].Data().([]float64)
	out := make([]float64, len(x))
	for i := range x {
		out[i] = x[i] * x[i]
	}
	return tensor.New(tensor.WithShape(in[0].Shape()...), tensor.WithBacking(out)), nil
}
func (s square) ReturnsPtr() bool      { return false }
func (s square) CallsExtern() bool     { return false }
func (s square) OverwritesInput() int  { return -1 }
func (s square) WriteHash(h hash.Hash) { fmt.Fprintf(h, "square%v", s.wrong) }
func (s square) Hashcode() uint32      { return map[bool]uint32{false: 1, true: 2}[s.wrong] }
func (s square) String() string        { return "square" }
func (s square) DiffWRT(int) []bool    { return []bool{true} }
func (s square) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.HadamardProd(grad, in[0])
	if err != nil {
		return nil, err
	}
	if !s.wrong { // d/dx x² = 2x; the wrong one forgets the 2
		if d, err = G.Add(d, d); err != nil {
			return nil, err
		}
	}
	return G.Nodes{d}, nil
}

func checkSquare(wrong bool) error {
	ins := []Input{{Name: "x", Value: Rand(1, 1, 3, 4), Check: true}}
	return Check(ins, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		return G.ApplyOp(square{wrong}, in[0])
	}, Options{})
}

func TestCheckAcceptsCorrectGradient(t *testing.T) {
	if err := checkSquare(false); err != nil {
		t.Fatal(err)
	}
}

// TestCheckCatchesWrongGradient is the checker's negative control.
func TestCheckCatchesWrongGradient(t *testing.T) {
	err := checkSquare(true)
	if err == nil || !strings.Contains(err.Error(), "gradient mismatch") {
		t.Fatalf("a derivative missing its factor 2 passed the check (err=%v)", err)
	}
}
