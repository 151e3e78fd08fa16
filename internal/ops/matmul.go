package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/blas"
)

// MatMul returns x·W for a Conv1D-layout weight W (K, M) (GPT-2 stores its
// projections this way), or x·Wᵀ when transW is set for an nn.Linear-layout
// weight W (M, K) (BERT, LLaMA). x is (N, K); the result is (N, M).
func MatMul(x, w *G.Node, transW bool) (*G.Node, error) {
	if err := checkGemm("MatMul", x.Shape(), w.Shape(), transW); err != nil {
		return nil, err
	}
	return G.ApplyOp(&matMul{base: newBase(fmt.Sprintf("MatMul(transW=%v)", transW)), transW: transW}, x, w)
}

// checkGemm checks that x (N, K) and W ((K, M), or (M, K) with transW)
// make a product.
func checkGemm(op string, xs, ws tensor.Shape, transW bool) error {
	if len(xs) != 2 || len(ws) != 2 {
		return shapeErr(op, "want 2-D x and W, got x %v and W %v", xs, ws)
	}
	if _, k, _ := gemmDims(xs, ws, transW); xs[1] != k {
		return shapeErr(op, "x %v does not match W %v (transW=%v)", xs, ws, transW)
	}
	return nil
}

// gemmDims returns N, K and M of x (N, K) · W (K, M), or of x · Wᵀ for
// W (M, K) with transW.
func gemmDims(xs, ws tensor.Shape, transW bool) (n, k, m int) {
	if transW {
		return xs[0], ws[1], ws[0]
	}
	return xs[0], ws[0], ws[1]
}

// gemmShape is the (N, M) shape of MatMul's and MatMulBias's result.
func gemmShape(in []G.DimSizer, transW bool) tensor.Shape {
	n, _, m := gemmDims(in[0].(tensor.Shape), in[1].(tensor.Shape), transW)
	return tensor.Shape{n, m}
}

// matMulGrads returns dx and dW of x·W (or x·Wᵀ) for the gradient dy.
func matMulGrads(x, w, dy *G.Node, transW bool) (dx, dw *G.Node, err error) {
	if dx, err = G.ApplyOp(&matMulGrad{base: newBase("MatMulGradX"), transW: transW, wrtW: false}, x, w, dy); err != nil {
		return nil, nil, err
	}
	dw, err = G.ApplyOp(&matMulGrad{base: newBase("MatMulGradW"), transW: transW, wrtW: true}, x, w, dy)
	return dx, dw, err
}

type matMul struct {
	base
	transW bool
	out    buffer
}

func (op *matMul) Arity() int         { return 2 }
func (op *matMul) Type() hm.Type      { return fnType(2, 2, 2) }
func (op *matMul) DiffWRT(int) []bool { return []bool{true, true} }
func (op *matMul) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return gemmShape(in, op.transW), nil
}

func (op *matMul) Do(in ...G.Value) (G.Value, error) {
	ws := in[1].Shape()
	n, k, m := gemmDims(in[0].Shape(), ws, op.transW)
	out := op.out.get(in[0].Dtype(), n, m)
	switch in[0].Dtype() {
	case tensor.Float32:
		blas.Gemm(false, op.transW, n, m, k, 1, slice[float32](in[0]), k, slice[float32](in[1]), ws[1], 0, slice[float32](out), m)
	case tensor.Float64:
		blas.Gemm(false, op.transW, n, m, k, 1, slice[float64](in[0]), k, slice[float64](in[1]), ws[1], 0, slice[float64](out), m)
	}
	return out, nil
}

// SymDiff: for y = x·W, dx = dy·Wᵀ and dW = xᵀ·dy; for y = x·Wᵀ, dx = dy·W
// and dW = dyᵀ·x. Each is one GEMM, so each gradient is its own op.
func (op *matMul) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, dw, err := matMulGrads(in[0], in[1], grad, op.transW)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw}, nil
}

// matMulGrad computes one of the two gradients of matMul from (x, W, dy).
type matMulGrad struct {
	base
	transW bool
	wrtW   bool
	out    buffer
}

func (op *matMulGrad) Arity() int    { return 3 }
func (op *matMulGrad) Type() hm.Type { return fnType(2, 2, 2, 2) }
func (op *matMulGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if op.wrtW {
		return in[1].(tensor.Shape).Clone(), nil
	}
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *matMulGrad) Do(in ...G.Value) (G.Value, error) {
	switch in[0].Dtype() {
	case tensor.Float32:
		return matMulGradDo[float32](op, in), nil
	default:
		return matMulGradDo[float64](op, in), nil
	}
}

func matMulGradDo[T Float](op *matMulGrad, in []G.Value) G.Value {
	x, w, dy := slice[T](in[0]), slice[T](in[1]), slice[T](in[2])
	xs, ws := in[0].Shape(), in[1].Shape()
	n, k := xs[0], xs[1]
	m := in[2].Shape()[1]
	if op.wrtW {
		out := op.out.get(in[1].Dtype(), ws...)
		if op.transW { // dW (M, K) = dyᵀ (M, N) · x (N, K)
			blas.Gemm(true, false, m, k, n, 1, dy, m, x, k, 0, slice[T](out), k)
		} else { // dW (K, M) = xᵀ (K, N) · dy (N, M)
			blas.Gemm(true, false, k, m, n, 1, x, k, dy, m, 0, slice[T](out), m)
		}
		return out
	}
	out := op.out.get(in[0].Dtype(), xs...)
	if op.transW { // dx (N, K) = dy (N, M) · W (M, K)
		blas.Gemm(false, false, n, k, m, 1, dy, m, w, k, 0, slice[T](out), k)
	} else { // dx (N, K) = dy (N, M) · Wᵀ, W is (K, M)
		blas.Gemm(false, true, n, k, m, 1, dy, m, w, m, 0, slice[T](out), k)
	}
	return out
}

// Transient is an op whose output only the ops that read it within the
// same run need, never a reader after the run: a caller that knows the
// order of the run may give such outputs one shared buffer when their
// lifetimes do not overlap (ShareOutput, before the first run).
type Transient interface {
	Transient() bool             // whether this instance's output is transient
	ShareOutput(t *tensor.Dense) // use t, of the output's dtype and shape, as the output
}

// Transient: dx is consumed by the backward pass of the op below; dW is
// read by the optimizer after the run.
func (op *matMulGrad) Transient() bool { return !op.wrtW }

// ShareOutput makes t the output buffer.
func (op *matMulGrad) ShareOutput(t *tensor.Dense) { op.out.t = t }

// A ScratchSharer keeps working buffers that it uses only inside Do: the
// ops of one machine, which runs one op at a time, may share them.
type ScratchSharer interface {
	// ShareScratch makes the op use other's working buffers, when other is
	// of the same kind, and reports whether it did.
	ShareScratch(other G.Op) bool
}

// Owned reports whether op is one of this package's ops (or one built on
// its framework), which never write into their inputs: unlike gorgonia's
// own ops, whose machine may compute them in place over an input.
func Owned(op G.Op) bool {
	_, ok := op.(interface{ ID() uint64 })
	return ok
}
