package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// SelectRows returns rows 0, stride, 2·stride, … of x (N, D) as an
// (N/stride, D) tensor: with x the (B·T, D) hidden states and stride T, the
// first token of each sequence ([CLS] for BERT, <s> for RoBERTa), which
// sequence classifiers pool. N must be a multiple of stride. It is
// GatherRows with a constant index, so the backward pass is GatherRows'
// scatter into a zero (N, D).
func SelectRows(x *G.Node, stride int) (*G.Node, error) {
	xs := x.Shape()
	if len(xs) != 2 {
		return nil, shapeErr("SelectRows", "want 2-D x (N, D), got %v", xs)
	}
	if stride < 1 || xs[0]%stride != 0 {
		return nil, shapeErr("SelectRows", "stride %d must be ≥ 1 and divide the %d rows of x %v", stride, xs[0], xs)
	}
	rows := xs[0] / stride
	idx := tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(rows))
	for i := 0; i < rows; i++ {
		idx.Set(i, castFloat(x.Dtype(), float64(i*stride)))
	}
	// The index is an input node; a unique name keeps gorgonia from merging
	// it with another SelectRows' index of the same shape.
	in := G.NewTensor(x.Graph(), x.Dtype(), 1, G.WithShape(rows), G.WithValue(idx),
		G.WithName(fmt.Sprintf("select_rows_index#%d", nextID.Add(1))))
	return GatherRows(x, in)
}

// castFloat returns v as the Go value of dtype dt.
func castFloat(dt tensor.Dtype, v float64) any {
	if dt == tensor.Float32 {
		return float32(v)
	}
	return v
}
