package ops

import (
	"errors"
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/parallel"
)

// SoftmaxCrossEntropy returns the mean over counted rows of
// -log softmax(logits)[target], as torch.nn.functional.cross_entropy with
// ignore_index and reduction="mean". logits is (N, V); targets is (N), class
// ids in [0, V) coded as floats, or ignoreIndex (Hugging Face uses -100) for
// rows that do not count (padding, prompt tokens). When every row is ignored
// the loss and its gradient are 0, never NaN.
//
// Each row is computed as log-sum-exp after subtracting the row's own max,
// so rows like [100, 0, 0] are exact (gorgonia's SoftMax subtracts the first
// element of the tensor instead and returns NaN there). A target that is
// neither ignoreIndex nor an integer in [0, V) makes the run fail with an
// error naming the row.
//
// The backward pass writes d logits over the forward pass's saved
// exponentials, so the gradient node's value is valid until the next
// forward run. CrossEntropyCount reads
// how many rows counted in the last run.
func SoftmaxCrossEntropy(logits, targets *G.Node, ignoreIndex int) (*G.Node, error) {
	ls, ts := logits.Shape(), targets.Shape()
	if len(ls) != 2 || ls[1] < 1 {
		return nil, shapeErr("SoftmaxCrossEntropy", "want 2-D logits (N, V) with V ≥ 1, got %v", ls)
	}
	if len(ts) != 1 || ts[0] != ls[0] {
		return nil, shapeErr("SoftmaxCrossEntropy", "targets %v do not match logits %v: want (%d)", ts, ls, ls[0])
	}
	op := &softmaxCE{base: newBase(fmt.Sprintf("SoftmaxCrossEntropy(ignore=%d)", ignoreIndex)), ignore: ignoreIndex}
	return G.ApplyOp(op, logits, targets)
}

// CrossEntropyCount returns how many rows of the last run of n counted
// (targets not equal to the ignore index): the denominator of the mean, which
// a training loop needs to weight losses by tokens. It panics if n was not
// made by SoftmaxCrossEntropy.
func CrossEntropyCount(n *G.Node) int {
	op, ok := n.Op().(*softmaxCE)
	if !ok {
		panic(fmt.Sprintf("ops: CrossEntropyCount of %v, which SoftmaxCrossEntropy did not make", n))
	}
	return op.count
}

type softmaxCE struct {
	base
	ignore  int
	e       buffer    // (N, V) exp(l - max) of counted rows, for the backward pass
	invSum  []float64 // (N) 1/Σ e: softmax = e·invSum, normalised in the backward pass
	rowLoss []float64 // (N) -log softmax[target], 0 for ignored rows
	count   int
	fresh   bool // e holds this run's exponentials (the backward pass consumes them)
	f32     G.F32
	f64     G.F64
}

func (op *softmaxCE) Arity() int         { return 2 }
func (op *softmaxCE) Type() hm.Type      { return fnType(0, 2, 1) }
func (op *softmaxCE) DiffWRT(int) []bool { return []bool{true, false} }
func (op *softmaxCE) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}

func (op *softmaxCE) Do(in ...G.Value) (G.Value, error) {
	s, dt := in[0].Shape(), in[0].Dtype()
	n, v := s[0], s[1]
	op.fresh = false // until the exponentials below are complete
	p := op.e.get(dt, n, v)
	op.rowLoss, op.invSum = grow(op.rowLoss, n), grow(op.invSum, n)
	var err error
	if dt == tensor.Float32 {
		err = ceForward(op, slice[float32](p), slice[float32](in[0]), slice[float32](in[1]), n, v)
	} else {
		err = ceForward(op, slice[float64](p), slice[float64](in[0]), slice[float64](in[1]), n, v)
	}
	if err != nil {
		return nil, err
	}
	op.fresh = true
	var sum float64
	for _, l := range op.rowLoss { // in row order: deterministic
		sum += l
	}
	if op.count > 0 {
		sum /= float64(op.count)
	}
	if dt == tensor.Float32 {
		op.f32 = G.F32(sum)
		return &op.f32, nil
	}
	op.f64 = G.F64(sum)
	return &op.f64, nil
}

// checkTargets counts the rows whose target is not ignore and returns an
// error naming the first target that is not an integer in [0, v).
func checkTargets[T Float](targets []T, ignore, v int) (int, error) {
	count := 0
	for i, t := range targets {
		f := float64(t)
		if f == float64(ignore) {
			continue
		}
		if f != math.Trunc(f) || f < 0 || f >= float64(v) {
			return 0, fmt.Errorf("SoftmaxCrossEntropy: target %v at row %d is not a class id in [0, %d) nor the ignore index %d", f, i, v, ignore)
		}
		count++
	}
	return count, nil
}

func ceForward[T Float](op *softmaxCE, e, logits, targets []T, n, v int) error {
	count, err := checkTargets(targets, op.ignore, v)
	if err != nil {
		return err
	}
	op.count = count
	parallel.For(n, rowGrain(v), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			t := int(targets[r])
			if float64(targets[r]) == float64(op.ignore) {
				op.rowLoss[r] = 0
				continue
			}
			lr := logits[r*v : (r+1)*v]
			m := maxOf(lr)
			sum := expShiftSum(e[r*v:(r+1)*v], lr, m)
			// -log softmax[t] = log Σ exp(l - m) - (l[t] - m)
			op.rowLoss[r] = math.Log(sum) - float64(lr[t]-m)
			op.invSum[r] = 1 / sum
		}
	})
	return nil
}

// SymDiff: d loss / d logits = (softmax - onehot(target)) · g / count for
// counted rows, 0 for ignored ones; targets get no gradient.
func (op *softmaxCE) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	// out is an input only to order this op after the forward one: the
	// gradient of a loss is a constant that does not depend on it.
	d, err := G.ApplyOp(&softmaxCEGrad{base: newBase("SoftmaxCrossEntropyGrad"), fwd: op}, in[0], in[1], out, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, nil}, nil
}

// softmaxCEGrad takes (logits, targets, loss, g) and turns the forward op's
// saved exponentials into d logits in place.
type softmaxCEGrad struct {
	base
	fwd *softmaxCE
}

func (op *softmaxCEGrad) Arity() int    { return 4 }
func (op *softmaxCEGrad) Type() hm.Type { return fnType(2, 2, 1, 0, 0) }
func (op *softmaxCEGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

var errCEStale = errors.New("SoftmaxCrossEntropyGrad: no forward run since the last backward run (Reset the machine before each run)")

func (op *softmaxCEGrad) Do(in ...G.Value) (G.Value, error) {
	f := op.fwd
	if !f.fresh {
		return nil, errCEStale
	}
	f.fresh = false
	s := in[0].Shape()
	n, v := s[0], s[1]
	scale := 0.0
	if f.count > 0 {
		scale = scalar(in[3]) / float64(f.count)
	}
	e := f.e.t
	if in[0].Dtype() == tensor.Float32 {
		ceBackward(f, slice[float32](e), slice[float32](in[1]), scale, n, v)
	} else {
		ceBackward(f, slice[float64](e), slice[float64](in[1]), scale, n, v)
	}
	return e, nil
}

// ceBackward sets each counted row of e to (e·invSum - onehot)·scale and
// each ignored row to 0.
func ceBackward[T Float](f *softmaxCE, e, targets []T, scale float64, n, v int) {
	parallel.For(n, rowGrain(v), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			er := e[r*v : (r+1)*v]
			if float64(targets[r]) == float64(f.ignore) {
				clear(er)
				continue
			}
			c := T(f.invSum[r] * scale)
			for j := range er {
				er[j] *= c
			}
			er[int(targets[r])] -= T(scale)
		}
	})
}

// LogSoftmaxRows sets dst to the log-softmax of each of the n rows of v
// logits (max-subtracted log-sum-exp, accumulated in float64), for scoring
// outside a graph. dst and logits may be the same slice. It panics if either
// holds fewer than n·v elements.
func LogSoftmaxRows[T Float](dst, logits []T, n, v int) {
	if n < 0 || v < 1 || len(dst) < n*v || len(logits) < n*v {
		panic(fmt.Sprintf("ops: LogSoftmaxRows of %d×%d rows with len(dst)=%d, len(logits)=%d", n, v, len(dst), len(logits)))
	}
	parallel.For(n, rowGrain(v), func(lo, hi int) {
		var buf [256]T // exp scratch, a chunk at a time: no allocation
		for r := lo; r < hi; r++ {
			lr, dr := logits[r*v:(r+1)*v], dst[r*v:(r+1)*v]
			m := maxOf(lr)
			var sum float64
			for j := 0; j < v; j += len(buf) {
				c := lr[j:min(j+len(buf), v)]
				sum += expShiftSum(buf[:len(c)], c, m)
			}
			lse := T(math.Log(sum))
			for j, x := range lr {
				dr[j] = x - m - lse
			}
		}
	})
}
