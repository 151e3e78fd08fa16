package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// SelectRows returns rows 0, stride, 2·stride, … of x (N, D) as an
// (N/stride, D) tensor: with x the (B·T, D) hidden states and stride T, the
// first token of each sequence ([CLS] for BERT, <s> for RoBERTa), which
// sequence classifiers pool. N must be a multiple of stride. The backward
// pass scatters the gradient into those rows of a zero (N, D).
func SelectRows(x *G.Node, stride int) (*G.Node, error) {
	xs := x.Shape()
	if len(xs) != 2 {
		return nil, shapeErr("SelectRows", "want 2-D x (N, D), got %v", xs)
	}
	if stride < 1 || xs[0]%stride != 0 {
		return nil, shapeErr("SelectRows", "stride %d must be ≥ 1 and divide the %d rows of x %v", stride, xs[0], xs)
	}
	return G.ApplyOp(&selectRows{base: newBase(fmt.Sprintf("SelectRows(stride=%d)", stride)), stride: stride}, x)
}

type selectRows struct {
	base
	stride int
	out    buffer
}

func (op *selectRows) Arity() int         { return 1 }
func (op *selectRows) Type() hm.Type      { return fnType(2, 2) }
func (op *selectRows) DiffWRT(int) []bool { return []bool{true} }
func (op *selectRows) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	xs := in[0].(tensor.Shape)
	return tensor.Shape{xs[0] / op.stride, xs[1]}, nil
}

func (op *selectRows) Do(in ...G.Value) (G.Value, error) {
	s, dt := in[0].Shape(), in[0].Dtype()
	m, d := s[0]/op.stride, s[1]
	out := op.out.get(dt, m, d)
	if dt == tensor.Float32 {
		strideRows(slice[float32](out), slice[float32](in[0]), m, d, op.stride, false)
	} else {
		strideRows(slice[float64](out), slice[float64](in[0]), m, d, op.stride, false)
	}
	return out, nil
}

// strideRows copies row i·stride of big (M·stride, D) to row i of small (M,
// D), or back when scatter is set. These are a few rows: no goroutines.
func strideRows[T Float](small, big []T, m, d, stride int, scatter bool) {
	for i := range m {
		s, b := small[i*d:(i+1)*d], big[i*stride*d:(i*stride+1)*d]
		if scatter {
			copy(b, s)
		} else {
			copy(s, b)
		}
	}
}

// SymDiff: dx is dy in the selected rows and 0 elsewhere.
func (op *selectRows) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&selectRowsGrad{base: newBase("SelectRowsGrad"), stride: op.stride, shape: in[0].Shape().Clone()}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

// selectRowsGrad takes dy (N/stride, D) and returns dx (N, D).
type selectRowsGrad struct {
	base
	stride int
	shape  tensor.Shape // (N, D)
	out    buffer
}

func (op *selectRowsGrad) Arity() int    { return 1 }
func (op *selectRowsGrad) Type() hm.Type { return fnType(2, 2) }
func (op *selectRowsGrad) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}

func (op *selectRowsGrad) Do(in ...G.Value) (G.Value, error) {
	dt := in[0].Dtype()
	out := op.out.zeroed(dt, op.shape...)
	m, d := op.shape[0]/op.stride, op.shape[1]
	if dt == tensor.Float32 {
		strideRows(slice[float32](in[0]), slice[float32](out), m, d, op.stride, true)
	} else {
		strideRows(slice[float64](in[0]), slice[float64](out), m, d, op.stride, true)
	}
	return out, nil
}
