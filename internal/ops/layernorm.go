package ops

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/parallel"
)

// LayerNorm normalises each row of x (N, D) and applies the affine weight w
// (D) and bias b (D), as torch.nn.LayerNorm over the last dimension (Ba et
// al. 2016, "Layer Normalization", eq. 4):
//
//	y = (x - mean) / sqrt(var + eps) * w + b
//
// with the biased variance (divided by D). eps is added inside the square
// root, as in PyTorch (GPT-2 uses 1e-5, BERT 1e-12).
func LayerNorm(x, w, b *G.Node, eps float64) (*G.Node, error) {
	if err := checkNorm("LayerNorm", x, w, eps); err != nil {
		return nil, err
	}
	if bs := b.Shape(); len(bs) != 1 || bs[0] != x.Shape()[1] {
		return nil, shapeErr("LayerNorm", "bias %v does not match x %v: want (%d)", bs, x.Shape(), x.Shape()[1])
	}
	return G.ApplyOp(&layerNorm{base: newBase(fmt.Sprintf("LayerNorm(eps=%g)", eps)), eps: eps}, x, w, b)
}

// checkNorm validates the shapes and eps shared by LayerNorm and RMSNorm.
func checkNorm(op string, x, w *G.Node, eps float64) error {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 2 {
		return shapeErr(op, "want 2-D x (N, D), got %v", xs)
	}
	if len(ws) != 1 || ws[0] != xs[1] {
		return shapeErr(op, "weight %v does not match x %v: want (%d)", ws, xs, xs[1])
	}
	if !(eps >= 0) || math.IsInf(eps, 1) {
		return shapeErr(op, "eps %g must be finite and ≥ 0", eps)
	}
	return nil
}

// layerNorm saves each row's mean and reciprocal standard deviation for
// the backward pass, in float64 whatever the element type.
type layerNorm struct {
	base
	eps        float64
	out        buffer
	mean, rstd []float64 // (N)
}

func (op *layerNorm) Arity() int         { return 3 }
func (op *layerNorm) Type() hm.Type      { return fnType(2, 2, 1, 1) }
func (op *layerNorm) DiffWRT(int) []bool { return []bool{true, true, true} }
func (op *layerNorm) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *layerNorm) Do(in ...G.Value) (G.Value, error) {
	s := in[0].Shape()
	n, d := s[0], s[1]
	out := op.out.get(in[0].Dtype(), n, d)
	op.mean, op.rstd = grow(op.mean, n), grow(op.rstd, n)
	switch in[0].Dtype() {
	case tensor.Float32:
		layerNormFwd(op, slice[float32](out), slice[float32](in[0]), slice[float32](in[1]), slice[float32](in[2]), n, d)
	default:
		layerNormFwd(op, slice[float64](out), slice[float64](in[0]), slice[float64](in[1]), slice[float64](in[2]), n, d)
	}
	return out, nil
}

func layerNormFwd[T Float](op *layerNorm, y, x, w, b []T, n, d int) {
	parallel.For(n, rowGrain(d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			op.mean[r], op.rstd[r] = layerNormRow(y[r*d:(r+1)*d], x[r*d:(r+1)*d], w, b, op.eps)
		}
	})
}

// layerNormRow normalises one row x into y and returns its mean and 1/σ.
func layerNormRow[T Float](yr, xr, w, b []T, eps float64) (mean, rstd float64) {
	d := len(xr)
	m := sum64(xr) / float64(d)
	var v0, v1 float64 // two-pass variance: no cancellation
	j := 0
	for ; j+1 < d; j += 2 {
		c0, c1 := float64(xr[j])-m, float64(xr[j+1])-m
		v0 += c0 * c0
		v1 += c1 * c1
	}
	if j < d {
		c := float64(xr[j]) - m
		v0 += c * c
	}
	rs := 1 / math.Sqrt((v0+v1)/float64(d)+eps)
	mt, rt := T(m), T(rs)
	for j, v := range xr {
		yr[j] = (v-mt)*rt*w[j] + b[j]
	}
	return m, rs
}

// SymDiff: with x̂ = (x-mean)·rstd and ĝ = dy·w (Ba et al. 2016; the same
// algebra as PyTorch's layer_norm_backward),
//
//	dx = rstd · (ĝ - mean(ĝ) - x̂ · mean(ĝ·x̂)),  dw = Σ_rows dy·x̂,  db = Σ_rows dy
//
// all three from one op reading the saved mean and rstd.
func (op *layerNorm) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g := &layerNormGrad{base: newBase("LayerNormGrad"), fwd: op}
	// out is an input only to order this op after the forward one.
	return applyGrad(g, G.Nodes{in[0], in[1], out, grad}, output{1, in[1].Shape()}, output{2, in[2].Shape()})
}

// layerNormGrad takes (x, w, y, dy) and outputs dx, dw (output 1), db
// (output 2).
type layerNormGrad struct {
	base
	fwd  *layerNorm
	outs [3]buffer
	acc  []float64 // (2·D) column sums of dw and db
}

func (op *layerNormGrad) Arity() int    { return 4 }
func (op *layerNormGrad) Type() hm.Type { return fnType(2, 2, 1, 2, 2) }
func (op *layerNormGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op *layerNormGrad) output(i int) G.Value { return op.outs[i].t }

func (op *layerNormGrad) Do(in ...G.Value) (G.Value, error) {
	s, dt := in[0].Shape(), in[0].Dtype()
	n, d := s[0], s[1]
	dx, dw, db := op.outs[0].get(dt, n, d), op.outs[1].get(dt, d), op.outs[2].get(dt, d)
	op.acc = grow(op.acc, 2*d)
	switch dt {
	case tensor.Float32:
		layerNormBwd(op, slice[float32](dx), slice[float32](dw), slice[float32](db), slice[float32](in[0]), slice[float32](in[1]), slice[float32](in[3]), n, d)
	default:
		layerNormBwd(op, slice[float64](dx), slice[float64](dw), slice[float64](db), slice[float64](in[0]), slice[float64](in[1]), slice[float64](in[3]), n, d)
	}
	return dx, nil
}

func layerNormBwd[T Float](op *layerNormGrad, dx, dw, db, x, w, dy []T, n, d int) {
	mean, rstd := op.fwd.mean, op.fwd.rstd
	parallel.For(n, rowGrain(d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, gr, dr := x[r*d:(r+1)*d], dy[r*d:(r+1)*d], dx[r*d:(r+1)*d]
			m, rs := T(mean[r]), T(rstd[r])
			sg, sgx := dotRow(gr, w, xr, m, rs)
			a, c := T(sg/float64(d)), T(sgx/float64(d))
			for j, v := range xr {
				xh := (v - m) * rs
				dr[j] = rs * (gr[j]*w[j] - a - xh*c)
			}
		}
	})
	// Column pass: each column is summed in row order, so dw and db do not
	// depend on the worker count.
	aw, ab := op.acc[:d], op.acc[d:2*d]
	parallel.For(d, colGrain(n, d), func(lo, hi int) {
		cw, cb := aw[lo:hi], ab[lo:hi]
		clear(cw)
		clear(cb)
		for r := 0; r < n; r++ {
			m, rs := T(mean[r]), T(rstd[r])
			xr, gr := x[r*d+lo:r*d+hi], dy[r*d+lo:r*d+hi]
			for j, v := range xr {
				cw[j] += float64(gr[j] * (v - m) * rs)
				cb[j] += float64(gr[j])
			}
		}
		for j := range cw {
			dw[lo+j], db[lo+j] = T(cw[j]), T(cb[j])
		}
	})
}

// dotRow returns Σ g·w and Σ g·w·x̂ over a row, x̂ = (x-m)·rs, accumulated in
// float64 over two chains each.
func dotRow[T Float](g, w, x []T, m, rs T) (sg, sgx float64) {
	w, x = w[:len(g)], x[:len(g)]
	var a0, a1, b0, b1 float64
	j := 0
	for ; j+1 < len(g); j += 2 {
		g0, g1 := g[j]*w[j], g[j+1]*w[j+1]
		a0 += float64(g0)
		a1 += float64(g1)
		b0 += float64(g0 * ((x[j] - m) * rs))
		b1 += float64(g1 * ((x[j+1] - m) * rs))
	}
	if j < len(g) {
		g0 := g[j] * w[j]
		a0 += float64(g0)
		b0 += float64(g0 * ((x[j] - m) * rs))
	}
	return a0 + a1, b0 + b1
}
