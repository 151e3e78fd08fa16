package ops

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/parallel"
)

// RMSNorm scales each row of x (N, D) by the reciprocal of its root mean
// square and applies the weight w (D), as Hugging Face's LlamaRMSNorm (Zhang
// & Sennrich 2019, "Root Mean Square Layer Normalization", eq. 4, with eps
// inside the square root):
//
//	y = w · x / sqrt(mean(x²) + eps)
//
// There is no bias and no mean subtraction.
func RMSNorm(x, w *G.Node, eps float64) (*G.Node, error) {
	if err := checkNorm("RMSNorm", x, w, eps); err != nil {
		return nil, err
	}
	return G.ApplyOp(&rmsNorm{base: newBase(fmt.Sprintf("RMSNorm(eps=%g)", eps)), eps: eps}, x, w)
}

// RMSNormHeads is RMSNorm applied to each head of x (N, K·S) separately
// with the one weight w (S) shared by the K heads: HF Qwen3's q_norm and
// k_norm, which normalise every head's query or key vector over head_dim
// before RoPE (Qwen3 technical report §2, "QK-Norm"). It is RMSNorm on x
// viewed as (N·K, S), without copying.
func RMSNormHeads(x, w *G.Node, eps float64) (*G.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 2 || len(ws) != 1 || ws[0] <= 0 || xs[1]%ws[0] != 0 {
		return nil, shapeErr("RMSNormHeads", "want x (N, K·S) and weight (S), got %v and %v", xs, ws)
	}
	if !(eps >= 0) || math.IsInf(eps, 1) {
		return nil, shapeErr("RMSNormHeads", "eps %g must be finite and ≥ 0", eps)
	}
	return G.ApplyOp(&rmsNorm{base: newBase(fmt.Sprintf("RMSNormHeads(eps=%g)", eps)), eps: eps}, x, w)
}

// rmsNorm saves each row's reciprocal RMS for the backward pass. A row is
// len(w) wide: x (N, K·len(w)) is normalised as N·K rows (RMSNormHeads).
type rmsNorm struct {
	base
	eps  float64
	out  buffer
	rstd []float64 // (N)
}

func (op *rmsNorm) Arity() int         { return 2 }
func (op *rmsNorm) Type() hm.Type      { return fnType(2, 2, 1) }
func (op *rmsNorm) DiffWRT(int) []bool { return []bool{true, true} }
func (op *rmsNorm) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *rmsNorm) Do(in ...G.Value) (G.Value, error) {
	s := in[0].Shape()
	d := in[1].Shape()[0]
	n := s[0] * s[1] / d
	out := op.out.get(in[0].Dtype(), s[0], s[1])
	op.rstd = grow(op.rstd, n)
	switch in[0].Dtype() {
	case tensor.Float32:
		rmsNormFwd(op, slice[float32](out), slice[float32](in[0]), slice[float32](in[1]), n, d)
	default:
		rmsNormFwd(op, slice[float64](out), slice[float64](in[0]), slice[float64](in[1]), n, d)
	}
	return out, nil
}

func rmsNormFwd[T Float](op *rmsNorm, y, x, w []T, n, d int) {
	parallel.For(n, rowGrain(d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			op.rstd[r] = rmsNormRow(y[r*d:(r+1)*d], x[r*d:(r+1)*d], w, op.eps)
		}
	})
}

// rmsNormRow normalises one row x into y and returns its 1/rms.
func rmsNormRow[T Float](yr, xr, w []T, eps float64) float64 {
	rs := 1 / math.Sqrt(sumSq64(xr)/float64(len(xr))+eps)
	rt := T(rs)
	for j, v := range xr {
		yr[j] = w[j] * (v * rt)
	}
	return rs
}

// sumSq64 returns Σ v² accumulated in float64 over two chains.
func sumSq64[T Float](v []T) float64 {
	var a0, a1 float64
	j := 0
	for ; j+1 < len(v); j += 2 {
		a0 += float64(v[j]) * float64(v[j])
		a1 += float64(v[j+1]) * float64(v[j+1])
	}
	if j < len(v) {
		a0 += float64(v[j]) * float64(v[j])
	}
	return a0 + a1
}

// SymDiff: with r = rstd, x̂ = x·r and ĝ = dy·w,
//
//	dx = r · (ĝ - x̂ · mean(ĝ·x̂)),  dw = Σ_rows dy·x̂
//
// (d r/d x_k = -r³ x_k / D), both from one op reading the saved rstd.
func (op *rmsNorm) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g := &rmsNormGrad{base: newBase("RMSNormGrad"), fwd: op}
	// out is an input only to order this op after the forward one.
	return applyGrad(g, G.Nodes{in[0], in[1], out, grad}, output{1, in[1].Shape()})
}

// rmsNormGrad takes (x, w, y, dy) and outputs dx and dw (output 1).
type rmsNormGrad struct {
	base
	fwd  *rmsNorm
	outs [2]buffer
	acc  []float64 // (D) column sums of dw
}

func (op *rmsNormGrad) Arity() int    { return 4 }
func (op *rmsNormGrad) Type() hm.Type { return fnType(2, 2, 1, 2, 2) }
func (op *rmsNormGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op *rmsNormGrad) output(i int) G.Value { return op.outs[i].t }

func (op *rmsNormGrad) Do(in ...G.Value) (G.Value, error) {
	s, dt := in[0].Shape(), in[0].Dtype()
	d := in[1].Shape()[0]
	n := s[0] * s[1] / d
	dx, dw := op.outs[0].get(dt, s[0], s[1]), op.outs[1].get(dt, d)
	op.acc = grow(op.acc, d)
	switch dt {
	case tensor.Float32:
		rmsNormBwd(op, slice[float32](dx), slice[float32](dw), slice[float32](in[0]), slice[float32](in[1]), slice[float32](in[3]), n, d)
	default:
		rmsNormBwd(op, slice[float64](dx), slice[float64](dw), slice[float64](in[0]), slice[float64](in[1]), slice[float64](in[3]), n, d)
	}
	return dx, nil
}

func rmsNormBwd[T Float](op *rmsNormGrad, dx, dw, x, w, dy []T, n, d int) {
	rstd := op.fwd.rstd
	parallel.For(n, rowGrain(d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, gr, dr := x[r*d:(r+1)*d], dy[r*d:(r+1)*d], dx[r*d:(r+1)*d]
			rs := T(rstd[r])
			_, sgx := dotRow(gr, w, xr, 0, rs)
			c := T(sgx / float64(d))
			for j, v := range xr {
				dr[j] = rs * (gr[j]*w[j] - v*rs*c)
			}
		}
	})
	parallel.For(d, colGrain(n, d), func(lo, hi int) {
		a := op.acc[lo:hi]
		clear(a)
		for r := 0; r < n; r++ {
			rs := T(rstd[r])
			xr, gr := x[r*d+lo:r*d+hi], dy[r*d+lo:r*d+hi]
			for j, v := range xr {
				a[j] += float64(gr[j] * (v * rs))
			}
		}
		for j, s := range a {
			dw[lo+j] = T(s)
		}
	})
}
