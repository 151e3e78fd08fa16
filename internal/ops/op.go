package ops

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"
	"unsafe"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Float is the set of element types the kernels are written for.
type Float interface{ float32 | float64 }

// nextID numbers op instances. Gorgonia merges nodes whose ops hash equal, and
// two layers applying "the same" op to different weights must never merge, so
// every instance hashes its own id.
var nextID atomic.Uint64

// base carries what every op here shares: a unique identity and the defaults
// gorgonia asks for (no extern calls, never overwrites inputs).
type base struct {
	id   uint64
	name string
}

func newBase(name string) base { return base{id: nextID.Add(1), name: name} }

func (b *base) ReturnsPtr() bool      { return false }
func (b *base) CallsExtern() bool     { return false }
func (b *base) OverwritesInput() int  { return -1 }
func (b *base) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s#%d", b.name, b.id) }
func (b *base) String() string        { return b.name }
func (b *base) Hashcode() uint32 {
	h := fnv.New32a()
	b.WriteHash(h)
	return h.Sum32()
}

// fnType builds the hm type "tensor(ins[0]) -> ... -> out" over one element
// type variable; a dims of 0 stands for a scalar.
func fnType(out int, ins ...int) hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, 0, len(ins)+1)
	for _, d := range append(ins, out) {
		if d == 0 {
			ts = append(ts, a)
		} else {
			ts = append(ts, G.TensorType{Dims: d, Of: a})
		}
	}
	return hm.NewFnType(ts...)
}

// buffer is an output owned by an op and reused from run to run.
type buffer struct{ t *tensor.Dense }

// get returns the buffer with the given dtype and shape, reallocating only
// when either changed. Its contents are whatever the last run left.
func (b *buffer) get(dt tensor.Dtype, shape ...int) *tensor.Dense {
	if b.t == nil || b.t.Dtype() != dt || !b.t.Shape().Eq(tensor.Shape(shape)) {
		b.t = tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	}
	return b.t
}

// zeroed is get followed by clearing the contents.
func (b *buffer) zeroed(dt tensor.Dtype, shape ...int) *tensor.Dense {
	t := b.get(dt, shape...)
	t.Zero()
	return t
}

// slice returns the backing slice of a tensor value. For *tensor.Dense it
// avoids Data(), which goes through reflection and allocates on every call
// (twice per op input per step adds up to megabytes of garbage a minute).
func slice[T Float](v G.Value) []T {
	if d, ok := v.(*tensor.Dense); ok {
		var z T
		if unsafe.Sizeof(z) == 4 {
			f := d.Float32s()
			return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(f))), len(f))
		}
		f := d.Float64s()
		return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(f))), len(f))
	}
	return v.Data().([]T)
}

// scalar reads a scalar value, whether gorgonia passes it as a scalar type or
// as a one-element tensor.
func scalar(v G.Value) float64 {
	switch d := v.Data().(type) {
	case float32:
		return float64(d)
	case float64:
		return d
	case []float32:
		return float64(d[0])
	case []float64:
		return d[0]
	}
	panic(fmt.Sprintf("ops: not a float scalar: %T", v.Data()))
}

// scalarValue wraps x as a gorgonia scalar of dtype dt.
func scalarValue(dt tensor.Dtype, x float64) G.Value {
	if dt == tensor.Float64 {
		return G.NewF64(x)
	}
	return G.NewF32(float32(x))
}

// dtypeOf returns the element type of a value.
func dtypeOf(v G.Value) tensor.Dtype { return v.Dtype() }

// shapeErr formats the error returned by InferShape and the constructors.
func shapeErr(op string, format string, args ...any) error {
	return fmt.Errorf("%s: %s", op, fmt.Sprintf(format, args...))
}

// take exposes one of several outputs computed together by a multi-output
// op. It has the producing node as its only input, which orders it after the
// producer on the tape, and returns the producer's i-th buffer without work.
type take struct {
	base
	src   multi
	i     int
	shape tensor.Shape
	dims  int
	pdims int
}

// multi is implemented by ops that compute several outputs in one pass.
type multi interface {
	output(i int) G.Value
}

func newTake(src multi, i int, shape tensor.Shape, pdims int) *take {
	return &take{base: newBase(fmt.Sprintf("take%d", i)), src: src, i: i, shape: shape.Clone(), dims: len(shape), pdims: pdims}
}

func (t *take) Arity() int { return 1 }
func (t *take) Type() hm.Type {
	return fnType(t.dims, t.pdims)
}
func (t *take) InferShape(...G.DimSizer) (tensor.Shape, error) { return t.shape.Clone(), nil }
func (t *take) Do(...G.Value) (G.Value, error)                 { return t.src.output(t.i), nil }

// takeNode applies take to the node that produced src's outputs.
func takeNode(src multi, producer *G.Node, i int, shape tensor.Shape) (*G.Node, error) {
	return G.ApplyOp(newTake(src, i, shape, producer.Dims()), producer)
}

// gradOp is a backward op that computes several gradients in one pass.
type gradOp interface {
	G.Op
	multi
}

// output names output i of a gradOp and its shape (that of the input whose
// gradient it is).
type output struct {
	i     int
	shape tensor.Shape
}

// applyGrad applies g to args and returns the gradient nodes in order: the
// node g produces (its output 0), then a take of each of more.
func applyGrad(g gradOp, args G.Nodes, more ...output) (G.Nodes, error) {
	d0, err := G.ApplyOp(g, args...)
	if err != nil {
		return nil, err
	}
	res := G.Nodes{d0}
	for _, o := range more {
		d, err := takeNode(g, d0, o.i, o.shape)
		if err != nil {
			return nil, err
		}
		res = append(res, d)
	}
	return res, nil
}
