package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// GatherRows picks rows idx[i] of x (N, D) into a (len(idx), D) result. idx
// is a float-coded index vector fed at run time (for example each
// sequence's last real token, which decoder classifiers score).
func GatherRows(x, idx *G.Node) (*G.Node, error) {
	if x.Dims() != 2 || idx.Dims() != 1 {
		return nil, shapeErr("GatherRows", "want x (N, D) and idx (M), got %v and %v", x.Shape(), idx.Shape())
	}
	return G.ApplyOp(&gatherRows{base: newBase("GatherRows")}, x, idx)
}

type gatherRows struct {
	base
	out buffer
}

func (op *gatherRows) Arity() int         { return 2 }
func (op *gatherRows) Type() hm.Type      { return fnType(2, 2, 1) }
func (op *gatherRows) DiffWRT(int) []bool { return []bool{true, false} }
func (op *gatherRows) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{in[1].(tensor.Shape)[0], in[0].(tensor.Shape)[1]}, nil
}

func (op *gatherRows) Do(in ...G.Value) (G.Value, error) {
	if in[0].Dtype() == tensor.Float32 {
		return gatherRowsDo[float32](op, in)
	}
	return gatherRowsDo[float64](op, in)
}

func gatherRowsDo[T Float](op *gatherRows, in []G.Value) (G.Value, error) {
	n, d := in[0].Shape()[0], in[0].Shape()[1]
	x, idx := slice[T](in[0]), slice[T](in[1])
	out := op.out.get(in[0].Dtype(), len(idx), d)
	o := slice[T](out)
	for i, f := range idx {
		r := int(f)
		if float64(r) != float64(f) || r < 0 || r >= n {
			return nil, fmt.Errorf("GatherRows: index %d is %v, want a row in [0, %d)", i, f, n)
		}
		copy(o[i*d:][:d], x[r*d:][:d])
	}
	return out, nil
}

// SymDiff scatters the rows' gradients back to the rows they came from.
func (op *gatherRows) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&scatterRows{base: newBase("ScatterRows"), shape: in[0].Shape().Clone()}, in[1], grad)
	return G.Nodes{dx, nil}, err
}

// scatterRows adds grad row i into row idx[i] of a zero (N, D) tensor.
type scatterRows struct {
	base
	shape tensor.Shape
	out   buffer
}

func (op *scatterRows) Arity() int    { return 2 }
func (op *scatterRows) Type() hm.Type { return fnType(2, 1, 2) }
func (op *scatterRows) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}

func (op *scatterRows) Do(in ...G.Value) (G.Value, error) {
	out := op.out.zeroed(in[1].Dtype(), op.shape...)
	if in[1].Dtype() == tensor.Float32 {
		scatterRowsDo(slice[float32](out), slice[float32](in[0]), slice[float32](in[1]), op.shape[1])
	} else {
		scatterRowsDo(slice[float64](out), slice[float64](in[0]), slice[float64](in[1]), op.shape[1])
	}
	return out, nil
}

func scatterRowsDo[T Float](dst, idx, grad []T, d int) {
	for i, f := range idx {
		row, src := dst[int(f)*d:][:d], grad[i*d:][:d]
		for j := range row {
			row[j] += src[j]
		}
	}
}
