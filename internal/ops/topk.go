package ops

import (
	"fmt"
	"math"
	"slices"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/parallel"
)

// TopKMask returns the hard top-k mask of logits z (N, U): per row, 1 for
// the k largest logits and 0 elsewhere, ties broken by the lower index and
// NaN ranking below every number (TopKRow), so that exactly k units are on
// for every row.
//
// With straightThrough set the mask has the straight-through gradient of
// Bengio, Léonard & Courville (2013, arXiv:1308.3432, §3): the backward
// pass treats the mask as if it were σ(z), dz = dy·σ(z)(1 − σ(z)), as
// Q-Sparse (Wang et al. 2024, arXiv:2407.10969, §2.2) does for its top-k
// activation sparsity. Without it the mask is constant in z (DiffWRT is
// false), so gorgonia builds no backward pass through it: the gates of a
// frozen router.
func TopKMask(z *G.Node, k int, straightThrough bool) (*G.Node, error) {
	return topKMaskNode(z, k, straightThrough, false)
}

// topKMaskNode builds the op; surrogate makes the forward pass σ(z), the
// function whose derivative the straight-through backward pass is, so that
// a finite-difference check can test that backward pass.
func topKMaskNode(z *G.Node, k int, ste, surrogate bool) (*G.Node, error) {
	s := z.Shape()
	if len(s) != 2 {
		return nil, shapeErr("TopKMask", "logits %v, want (N, U)", s)
	}
	if k < 0 || k > s[1] {
		return nil, shapeErr("TopKMask", "k = %d outside [0, %d]", k, s[1])
	}
	name := fmt.Sprintf("TopKMask(k=%d,ste=%v,surrogate=%v)", k, ste, surrogate)
	return G.ApplyOp(&topKMask{base: newBase(name), k: k, ste: ste, surrogate: surrogate}, z)
}

type topKMask struct {
	base
	k         int
	ste       bool
	surrogate bool
	out       buffer
}

func (op *topKMask) Arity() int    { return 1 }
func (op *topKMask) Type() hm.Type { return fnType(2, 2) }
func (op *topKMask) DiffWRT(n int) []bool {
	return []bool{op.ste}
}
func (op *topKMask) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *topKMask) Do(in ...G.Value) (G.Value, error) {
	s := in[0].Shape()
	out := op.out.get(in[0].Dtype(), s...)
	if in[0].Dtype() == tensor.Float32 {
		topKMaskFwd(op, slice[float32](out), slice[float32](in[0]), s[0], s[1])
	} else {
		topKMaskFwd(op, slice[float64](out), slice[float64](in[0]), s[0], s[1])
	}
	return out, nil
}

func topKMaskFwd[T Float](op *topKMask, y, z []T, n, u int) {
	parallel.For(n, 64, func(lo, hi int) {
		row := make([]float64, u)
		idx := make([]int, u)
		for r := lo; r < hi; r++ {
			zr, yr := z[r*u:(r+1)*u], y[r*u:(r+1)*u]
			if op.surrogate {
				for j, v := range zr {
					yr[j] = T(1 / (1 + math.Exp(-float64(v))))
				}
				continue
			}
			for j, v := range zr {
				row[j] = float64(v)
			}
			clear(yr)
			for _, j := range TopKRow(idx, row, op.k) {
				yr[j] = 1
			}
		}
	})
}

// SymDiff: the straight-through gradient dz = dy·σ(z)(1 − σ(z)).
func (op *topKMask) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if !op.ste {
		return nil, fmt.Errorf("%s: a frozen top-k mask has no gradient", op)
	}
	dz, err := G.ApplyOp(&topKSTEGrad{base: newBase("TopKMaskSTEGrad")}, in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dz}, nil
}

// topKSTEGrad takes (z, dy) and returns dy·σ(z)(1 − σ(z)).
type topKSTEGrad struct {
	base
	out buffer
}

func (op *topKSTEGrad) Arity() int    { return 2 }
func (op *topKSTEGrad) Type() hm.Type { return fnType(2, 2, 2) }
func (op *topKSTEGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *topKSTEGrad) Do(in ...G.Value) (G.Value, error) {
	out := op.out.get(in[0].Dtype(), in[0].Shape()...)
	if in[0].Dtype() == tensor.Float32 {
		steGradKernel(slice[float32](out), slice[float32](in[0]), slice[float32](in[1]))
	} else {
		steGradKernel(slice[float64](out), slice[float64](in[0]), slice[float64](in[1]))
	}
	return out, nil
}

func steGradKernel[T Float](dz, z, dy []T) {
	for i, v := range z {
		p := 1 / (1 + math.Exp(-float64(v)))
		dz[i] = dy[i] * T(p*(1-p))
	}
}

// TopKRow returns the indices of the k largest values of z, in descending
// order of value, ties broken by the lower index; NaN ranks below every
// number (and NaNs among themselves by index). idx is scratch of len(z)
// (reallocated when shorter); the result aliases it. This one order is
// used by training (TopKMask) and by the inference engine, so that both
// choose the same units for the same logits.
func TopKRow(idx []int, z []float64, k int) []int {
	if cap(idx) < len(z) {
		idx = make([]int, len(z))
	}
	idx = idx[:len(z)]
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if before(z, a, b) {
			return -1
		}
		return 1
	})
	return idx[:k]
}

// before reports whether unit a ranks before unit b in TopKRow's order:
// a larger value, NaN last, then the lower index.
func before(z []float64, a, b int) bool {
	na, nb := math.IsNaN(z[a]), math.IsNaN(z[b])
	switch {
	case na != nb:
		return nb
	case !na && z[a] != z[b]:
		return z[a] > z[b]
	}
	return a < b
}

// topKRowNaive is TopKRow's definition, for tests: unit i is on when fewer
// than k units rank before it (a larger key, or an equal key and a lower
// index). It returns on flags.
func topKRowNaive(z []float64, k int) []bool {
	on := make([]bool, len(z))
	for i := range z {
		ahead := 0
		for j := range z {
			nj, ni := math.IsNaN(z[j]), math.IsNaN(z[i])
			if (!nj && ni) || (!nj && !ni && z[j] > z[i]) || (nj == ni && (nj || z[j] == z[i]) && j < i) {
				ahead++
			}
		}
		on[i] = ahead < k
	}
	return on
}
