package ops

import (
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/parallel"
)

// Add returns a + b for two tensors of the same shape (the residual stream).
// Unlike gorgonia's Add it owns its output buffer.
func Add(a, b *G.Node) (*G.Node, error) {
	if !a.Shape().Eq(b.Shape()) {
		return nil, shapeErr("Add", "shapes differ: %v and %v", a.Shape(), b.Shape())
	}
	return G.ApplyOp(&add{base: newBase("Add"), dims: a.Dims()}, a, b)
}

type add struct {
	base
	dims int
	out  buffer
}

func (op *add) Arity() int         { return 2 }
func (op *add) Type() hm.Type      { return fnType(op.dims, op.dims, op.dims) }
func (op *add) DiffWRT(int) []bool { return []bool{true, true} }
func (op *add) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *add) Do(in ...G.Value) (G.Value, error) {
	out := op.out.get(in[0].Dtype(), in[0].Shape()...)
	switch in[0].Dtype() {
	case tensor.Float32:
		addKernel(slice[float32](out), slice[float32](in[0]), slice[float32](in[1]))
	default:
		addKernel(slice[float64](out), slice[float64](in[0]), slice[float64](in[1]))
	}
	return out, nil
}

// SymDiff: the gradient of a sum flows unchanged to both terms.
func (op *add) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return G.Nodes{grad, grad}, nil
}

func addKernel[T Float](dst, a, b []T) {
	parallel.For(len(dst), 1<<15, func(lo, hi int) {
		d, x, y := dst[lo:hi], a[lo:hi], b[lo:hi]
		for i := range d {
			d[i] = x[i] + y[i]
		}
	})
}
