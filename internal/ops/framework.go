package ops

import (
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The op framework, exported for the ops that live with their concepts in
// other packages (router gates, loss terms). They follow the same rules as
// the ops here: a unique identity, buffers owned by the op, generic kernels.

// Base is embedded by every op: a unique identity (so gorgonia never merges
// two instances) and gorgonia's defaults.
type Base = base

// NewBase returns the Base of a new op instance named name.
func NewBase(name string) Base { return newBase(name) }

// Buffer is an output owned by an op and reused from run to run.
type Buffer = buffer

// Get returns the buffer with the given dtype and shape, reallocating only
// when either changed; its contents are whatever the last run left.
func (b *buffer) Get(dt tensor.Dtype, shape ...int) *tensor.Dense { return b.get(dt, shape...) }

// Zeroed is Get followed by clearing the contents.
func (b *buffer) Zeroed(dt tensor.Dtype, shape ...int) *tensor.Dense { return b.zeroed(dt, shape...) }

// FnType builds the hm type of an op taking tensors of ins dims to a tensor
// of out dims over one element type; 0 dims is a scalar.
func FnType(out int, ins ...int) hm.Type { return fnType(out, ins...) }

// Slice returns the backing slice of a tensor value, without allocating.
func Slice[T Float](v G.Value) []T { return slice[T](v) }

// Scalar reads a float scalar, given as a scalar value or a one-element tensor.
func Scalar(v G.Value) float64 { return scalar(v) }

// ScalarValue wraps x as a gorgonia scalar of dtype dt.
func ScalarValue(dt tensor.Dtype, x float64) G.Value { return scalarValue(dt, x) }

// ID is the op instance's unique number, for naming nodes that belong to it.
func (b *base) ID() uint64 { return b.id }
