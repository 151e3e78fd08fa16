package ops

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/parallel"
)

// Dropout applies inverted dropout (Srivastava et al. 2014, with the
// rescaling at training time that torch.nn.Dropout uses) to x of any shape:
// each element is kept with probability 1-p and scaled by 1/(1-p), or set to
// 0. Every run draws a new mask; the backward pass multiplies by the same
// mask and the same 1/(1-p) (gorgonia's stock Dropout scales by 1/p there and
// seeds from the clock).
//
// The returned state turns dropout off (identity) for evaluation and
// saves and restores the random state for an exact resume. Dropout(x, p,
// seed) is DropoutWith(x, p, NewDropoutState(seed)).
func Dropout(x *G.Node, p float64, seed uint64) (*G.Node, *DropoutState, error) {
	s := NewDropoutState(seed)
	y, err := DropoutWith(x, p, s)
	if err != nil {
		return nil, nil, err
	}
	return y, s, nil
}

// DropoutWith is Dropout drawing from a state that several dropout ops may
// share (one per model keeps one random state to checkpoint). Ops sharing a
// state draw in the order the machine runs them, which is fixed for a graph.
func DropoutWith(x *G.Node, p float64, s *DropoutState) (*G.Node, error) {
	if x.Dims() == 0 {
		return nil, shapeErr("Dropout", "want a tensor, got the scalar %v", x)
	}
	if !(p >= 0 && p < 1) {
		return nil, shapeErr("Dropout", "p %g must be in [0, 1)", p)
	}
	if s == nil {
		return nil, shapeErr("Dropout", "nil DropoutState")
	}
	op := &dropout{base: newBase(fmt.Sprintf("Dropout(p=%g)", p)), p: p, state: s, dims: x.Dims()}
	return G.ApplyOp(op, x)
}

// DropoutState is the training switch and the random source of dropout ops.
// It is not safe for concurrent use; graphs run ops one at a time.
type DropoutState struct {
	training bool
	rng      rand.PCG
}

// dropoutStream is the second PCG seed word: any fixed constant, so that the
// user's seed alone fixes every mask.
const dropoutStream = 0x9e3779b97f4a7c15

// NewDropoutState returns a state in training mode whose random source is a
// PCG seeded with seed.
func NewDropoutState(seed uint64) *DropoutState {
	s := &DropoutState{training: true}
	s.rng.Seed(seed, dropoutStream)
	return s
}

// SetTraining switches dropout on (training) or off (evaluation: the ops
// are the identity and draw no random numbers).
func (s *DropoutState) SetTraining(on bool) { s.training = on }

// Training reports whether dropout is on.
func (s *DropoutState) Training() bool { return s.training }

// State returns the random source's state (PCG.MarshalBinary), to be saved
// in a checkpoint. The training switch is not part of it.
func (s *DropoutState) State() ([]byte, error) { return s.rng.MarshalBinary() }

// Restore sets the random source to a state returned by State, so that a
// resumed run draws the masks the interrupted one would have drawn.
func (s *DropoutState) Restore(b []byte) error {
	if err := s.rng.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("dropout state: %w", err)
	}
	return nil
}

// dropBlock is the number of elements drawn from one per-run PCG stream
// (drawMask).
// Streams are keyed by block index, so masks do not depend on how many
// workers draw them.
const dropBlock = 4096

type dropout struct {
	base
	p       float64
	state   *DropoutState
	dims    int
	out     buffer
	mask    buffer // 1/(1-p) kept, 0 dropped, for the backward pass
	applied bool   // the last forward run applied a mask
}

func (op *dropout) Arity() int         { return 1 }
func (op *dropout) Type() hm.Type      { return fnType(op.dims, op.dims) }
func (op *dropout) DiffWRT(int) []bool { return []bool{true} }
func (op *dropout) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *dropout) Do(in ...G.Value) (G.Value, error) {
	out := op.out.get(in[0].Dtype(), in[0].Shape()...)
	op.applied = op.state.training && op.p > 0
	if !op.applied {
		if out.Dtype() == tensor.Float32 {
			copy(slice[float32](out), slice[float32](in[0]))
		} else {
			copy(slice[float64](out), slice[float64](in[0]))
		}
		return out, nil
	}
	mask := op.mask.get(in[0].Dtype(), in[0].Shape()...)
	s1, s2 := op.state.rng.Uint64(), op.state.rng.Uint64()
	if out.Dtype() == tensor.Float32 {
		drawMask(slice[float32](mask), slice[float32](out), slice[float32](in[0]), op.p, s1, s2)
	} else {
		drawMask(slice[float64](mask), slice[float64](out), slice[float64](in[0]), op.p, s1, s2)
	}
	return out, nil
}

// drawMask fills mask with 1/(1-p) (kept) or 0 (dropped) and sets y = x ·
// mask. Block k draws from a PCG seeded with (s1, s2 ^ mix64(k)), two 32-bit
// uniforms per Uint64, and keeps an element when its uniform is below
// (1-p)·2^32. The mask depends only on (p, s1, s2), not on the element type
// or the worker count.
func drawMask[T Float](mask, y, x []T, p float64, s1, s2 uint64) {
	thr := uint64(math.Round((1 - p) * (1 << 32)))
	vals := [2]T{0, T(1 / (1 - p))} // indexed by kept, which avoids a branch or conversion
	nb := (len(mask) + dropBlock - 1) / dropBlock
	parallel.For(nb, max(1, minChunk/dropBlock), func(lo, hi int) {
		var r rand.PCG
		for k := lo; k < hi; k++ {
			r.Seed(s1, s2^mix64(uint64(k)))
			o, e := k*dropBlock, min((k+1)*dropBlock, len(mask))
			m, ys, xs := mask[o:e], y[o:e], x[o:e]
			for j := 0; j < len(m); j += 2 {
				u := r.Uint64()
				// u32 < thr ⇔ u32 - thr wraps to a number with the top bit set.
				m[j] = vals[(u&0xffffffff-thr)>>63]
				ys[j] = xs[j] * m[j]
				if j+1 < len(m) {
					m[j+1] = vals[(u>>32-thr)>>63]
					ys[j+1] = xs[j+1] * m[j+1]
				}
			}
		}
	})
}

// mix64 is SplitMix64's finaliser (Steele et al. 2014): it spreads block
// indices over the seed space so that neighbouring blocks get unrelated
// streams.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// applyMask sets dst = src · mask.
func applyMask[T Float](dst, src, mask []T) {
	parallel.For(len(dst), minChunk, func(lo, hi int) {
		d, s, m := dst[lo:hi], src[lo:hi], mask[lo:hi]
		for j, x := range s {
			d[j] = x * m[j]
		}
	})
}

// SymDiff: dx = dy · mask / (1-p), with the mask of the forward run.
func (op *dropout) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	// out is an input only to order this op after the forward one.
	dx, err := G.ApplyOp(&dropoutGrad{base: newBase("DropoutGrad"), fwd: op}, out, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

// dropoutGrad takes (y, dy) and returns dx.
type dropoutGrad struct {
	base
	fwd *dropout
	out buffer
}

func (op *dropoutGrad) Arity() int    { return 2 }
func (op *dropoutGrad) Type() hm.Type { return fnType(op.fwd.dims, op.fwd.dims, op.fwd.dims) }
func (op *dropoutGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *dropoutGrad) Do(in ...G.Value) (G.Value, error) {
	dy := in[1]
	out := op.out.get(dy.Dtype(), dy.Shape()...)
	f := op.fwd
	switch {
	case !f.applied && dy.Dtype() == tensor.Float32:
		copy(slice[float32](out), slice[float32](dy))
	case !f.applied:
		copy(slice[float64](out), slice[float64](dy))
	case dy.Dtype() == tensor.Float32:
		applyMask(slice[float32](out), slice[float32](dy), slice[float32](f.mask.t))
	default:
		applyMask(slice[float64](out), slice[float64](dy), slice[float64](f.mask.t))
	}
	return out, nil
}
