package infer

import (
	"fmt"
	"math"
	"slices"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/internal/parallel"
	"github.com/sparsetune/sparsetune/internal/vec"
	"github.com/sparsetune/sparsetune/nn"
)

// mat is one of the engine's weight matrices: rows of cols weights,
// row-major, stored as float32, BF16 or INT8 (internal/vec's low-precision
// rows: blocks of vec.Q8Block weights with one scale each, restarting at
// every row). Decoding's products read it in its stored form through vec's
// dtype kernels; batched forward passes widen the rows they need to
// float32 (f32) and run the float32 kernels, whose cost the widening adds
// to once per matrix and batch. A float32 mat runs exactly the float32
// code of before dtypes existed.
type mat struct {
	dtype      checkpoints.DType // checkpoints.F32, BF16 or Int8
	rows, cols int
	f          []float32 // F32: (rows, cols)
	h          []uint16  // BF16: (rows, cols)
	q          []int8    // Int8: (rows, cols)
	s          []float32 // Int8: (rows, vec.Q8Blocks(cols)) scales
}

// f32Mat is a float32 mat over w, which it shares.
func f32Mat(w []float32, cols int) mat {
	return mat{dtype: checkpoints.F32, rows: len(w) / max(cols, 1), cols: cols, f: w}
}

// len is the number of weights.
func (m *mat) len() int { return m.rows * m.cols }

// rowBytes is the bytes one row occupies, scales included.
func (m *mat) rowBytes() float64 {
	switch m.dtype {
	case checkpoints.BF16:
		return 2 * float64(m.cols)
	case checkpoints.Int8:
		return float64(m.cols + 4*vec.Q8Blocks(m.cols))
	}
	return 4 * float64(m.cols)
}

// bytes is the bytes of the whole matrix.
func (m *mat) bytes() float64 { return float64(m.rows) * m.rowBytes() }

// sub is the view of rows lo..hi-1.
func (m *mat) sub(lo, hi int) mat {
	v := mat{dtype: m.dtype, rows: hi - lo, cols: m.cols}
	switch m.dtype {
	case checkpoints.BF16:
		v.h = m.h[lo*m.cols : hi*m.cols]
	case checkpoints.Int8:
		nb := vec.Q8Blocks(m.cols)
		v.q, v.s = m.q[lo*m.cols:hi*m.cols], m.s[lo*nb:hi*nb]
	default:
		v.f = m.f[lo*m.cols : hi*m.cols]
	}
	return v
}

// f32 returns rows lo..hi-1 as float32: the rows themselves for a float32
// mat, else widened into *buf (grown as needed; the result is valid until
// buf's next use). Large widenings are spread over the workers.
func (m *mat) f32(lo, hi int, buf *[]float32) []float32 {
	c := m.cols
	if m.dtype == checkpoints.F32 || m.dtype == "" {
		return m.f[lo*c : hi*c]
	}
	out := grow(buf, (hi-lo)*c)
	widen := func(a, b int) {
		for r := a; r < b; r++ {
			m.widenRow(out[(r-lo)*c:(r-lo+1)*c], r)
		}
	}
	if (hi-lo)*c < 1<<16 {
		widen(lo, hi)
	} else {
		parallel.For(hi-lo, 16, func(a, b int) { widen(lo+a, lo+b) })
	}
	return out
}

// widenRow writes row r as float32 into dst (cols).
func (m *mat) widenRow(dst []float32, r int) {
	c := m.cols
	switch m.dtype {
	case checkpoints.BF16:
		vec.WidenBF16(dst, m.h[r*c:(r+1)*c])
	case checkpoints.Int8:
		nb := vec.Q8Blocks(c)
		vec.DequantizeQ8(dst, m.q[r*c:(r+1)*c], m.s[r*nb:(r+1)*nb])
	default:
		copy(dst, m.f[r*c:(r+1)*c])
	}
}

// dot returns row r · x (len cols).
func (m *mat) dot(r int, x []float32) float32 {
	c := m.cols
	switch m.dtype {
	case checkpoints.BF16:
		return vec.DotBF16(x, m.h[r*c:(r+1)*c])
	case checkpoints.Int8:
		nb := vec.Q8Blocks(c)
		return vec.DotQ8(x, m.q[r*c:(r+1)*c], m.s[r*nb:(r+1)*nb])
	}
	return vec.Dot(x, m.f[r*c:(r+1)*c])
}

// gemvN sets y[i] = row lo+i · x for rows lo..hi-1 (vec.GemvN for float32).
func (m *mat) gemvN(lo, hi int, x, y []float32) {
	if m.dtype == checkpoints.F32 {
		vec.GemvN(m.f[lo*m.cols:hi*m.cols], x, 0, y)
		return
	}
	for r := lo; r < hi; r++ {
		y[r-lo] = m.dot(r, x)
	}
}

// gemvT sets y += Σ_i h[i]·row lo+i over rows lo..hi-1 (vec.GemvT for
// float32).
func (m *mat) gemvT(lo, hi int, h, y []float32) {
	c := m.cols
	switch m.dtype {
	case checkpoints.BF16:
		for r := lo; r < hi; r++ {
			vec.AxpyBF16(h[r-lo], m.h[r*c:(r+1)*c], y)
		}
	case checkpoints.Int8:
		nb := vec.Q8Blocks(c)
		for r := lo; r < hi; r++ {
			vec.AxpyQ8(h[r-lo], m.q[r*c:(r+1)*c], m.s[r*nb:(r+1)*nb], y)
		}
	default:
		vec.GemvT(m.f[lo*c:hi*c], h, y)
	}
}

// dotRows sets out[i·k+j] = x[toks[i]] · row lo+j for the k = hi-lo rows
// (vec.DotRows for float32; x has rows of cols): each row is read once
// for all the tokens.
func (m *mat) dotRows(out, x []float32, toks []int, lo, hi int) {
	c, k := m.cols, hi-lo
	if m.dtype == checkpoints.F32 {
		vec.DotRows(out, x, toks, m.f[lo*c:hi*c], k)
		return
	}
	for j := 0; j < k; j++ {
		for i, t := range toks {
			out[i*k+j] = m.dot(lo+j, x[t*c:(t+1)*c])
		}
	}
}

// convert re-stores m in dtype d, from its values widened to float32.
func (m *mat) convert(d checkpoints.DType) {
	if m.dtype == d {
		return
	}
	var buf []float32
	w := m.f32(0, m.rows, &buf)
	if m.dtype == checkpoints.F32 {
		w = append([]float32(nil), w...) // f may be shared (a tied LM head)
	}
	*m = quantized(w, m.cols, d)
}

// quantized stores the row-major w of cols columns in dtype d.
func quantized(w []float32, cols int, d checkpoints.DType) mat {
	m := mat{dtype: d, rows: len(w) / max(cols, 1), cols: cols}
	switch d {
	case checkpoints.BF16:
		m.h = make([]uint16, len(w))
		vec.ToBF16(m.h, w)
	case checkpoints.Int8:
		nb := vec.Q8Blocks(cols)
		m.q, m.s = make([]int8, len(w)), make([]float32, m.rows*nb)
		parallel.For(m.rows, 64, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				vec.QuantizeQ8(m.q[r*cols:(r+1)*cols], m.s[r*nb:(r+1)*nb], w[r*cols:(r+1)*cols])
			}
		})
	default:
		m.dtype, m.f = checkpoints.F32, w
	}
	return m
}

// Quantize re-stores the engine's weight matrices (every layer's
// attention and FFN projections, and the LM head) in dtype d, from their
// current values: what harden --dtype writes, done in memory, with the
// blocks along the engine's own rows. The embeddings, norms, biases,
// routers and classification heads stay float32. Quantizing to F32 widens
// back, keeping the rounding.
func (e *Engine) Quantize(d checkpoints.DType) error {
	if _, err := checkpoints.ParseDType(string(d)); err != nil {
		return err
	}
	for _, ly := range e.layers {
		for _, m := range ly.mats() {
			m.convert(d)
		}
	}
	if e.lmHead.rows > 0 {
		e.lmHead.convert(d)
	}
	e.Manifest.DType = d
	e.timers = [2]pathTimer{} // the paths' costs changed: measure them again
	return nil
}

// QuantizeDelta is what quantizing changed in an engine's logits
// (QuantizeCompared).
type QuantizeDelta struct {
	// Routed is the largest |Δ logit| with the routers deciding, as the
	// engine runs: the rounding and the gates it flips.
	Routed float64
	// Dense is the same with every kept unit run (Engine.Dense): the
	// rounding alone.
	Dense float64
	Scale float64 // the largest |logit| before, routed
}

// QuantizeCompared quantizes e to d as Quantize does and reports the
// largest absolute change that caused in e's logits on seqs (every
// position's next-token logits for a language model, each sequence's
// class logits for a classifier), routed and dense. Stats are reset after.
func (e *Engine) QuantizeCompared(d checkpoints.DType, seqs [][]int) (QuantizeDelta, error) {
	var r QuantizeDelta
	both := func() ([2][]float32, error) {
		var out [2][]float32
		defer func(dense bool) { e.Dense = dense }(e.Dense)
		for i, dense := range []bool{false, true} {
			e.Dense = dense
			l, err := e.logitsOf(seqs)
			if err != nil {
				return out, err
			}
			out[i] = l
		}
		return out, nil
	}
	before, err := both()
	if err != nil {
		return r, err
	}
	if err := e.Quantize(d); err != nil {
		return r, err
	}
	after, err := both()
	e.ResetStats()
	if err != nil {
		return r, err
	}
	for i, v := range after[0] {
		r.Routed = max(r.Routed, math.Abs(float64(v-before[0][i])))
		r.Dense = max(r.Dense, math.Abs(float64(after[1][i]-before[1][i])))
		r.Scale = max(r.Scale, math.Abs(float64(before[0][i])))
	}
	return r, nil
}

// logitsOf returns a copy of e's logits on seqs (see QuantizeCompared).
func (e *Engine) logitsOf(seqs [][]int) ([]float32, error) {
	h, off, err := e.Forward(seqs, nil)
	if err != nil {
		return nil, err
	}
	if e.Config.Task == nn.CausalLM {
		return slices.Clone(e.LMLogits(h, nil)), nil
	}
	return e.ClassLogits(h, off), nil
}

// DType is the dtype the engine's weight matrices are stored in.
func (e *Engine) DType() checkpoints.DType {
	for _, ly := range e.layers {
		for _, m := range ly.mats() {
			if m.rows > 0 {
				return m.dtype
			}
		}
	}
	return e.lmHead.dtype
}

// WeightBytes is the bytes of the engine's weights as stored: the weight
// matrices in their dtype, the embeddings in float32 (a tied LM head
// counts once unless quantized apart from them).
func (e *Engine) WeightBytes() float64 {
	n := 4 * float64(len(e.wte)+len(e.wpe))
	for _, ly := range e.layers {
		for _, m := range ly.mats() {
			n += m.bytes()
		}
	}
	if e.Config.Task == nn.CausalLM && !(e.Config.Tied && e.lmHead.dtype == checkpoints.F32) {
		n += e.lmHead.bytes()
	}
	return n
}

// mats lists the layer's weight matrices.
func (ly *layer) mats() []*mat {
	return []*mat{&ly.q, &ly.k, &ly.v, &ly.o, &ly.up, &ly.gate, &ly.down}
}

// matOf returns the stored tensor name of (rows, cols) as a mat in its
// dtype, or with transposed set its (cols, rows) transpose: exact for
// float32 and BF16; an INT8 tensor is re-quantized along the engine's rows
// from its values (its blocks ran along the other axis), which rounds a
// second time.
func (t *tensors) matOf(name string, rows, cols int, transposed bool) mat {
	x, ok := t.m[name]
	if !ok {
		if t.err == nil {
			t.err = fmt.Errorf("sparse checkpoint: tensor %s is missing", name)
		}
		return mat{dtype: checkpoints.F32}
	}
	if len(x.Data) != rows*cols {
		if t.err == nil {
			t.err = fmt.Errorf("sparse checkpoint: tensor %s has %d values, the engine needs (%d, %d)", name, len(x.Data), rows, cols)
		}
		return mat{dtype: checkpoints.F32}
	}
	d := x.DType
	if d == "" {
		d = checkpoints.F32
	}
	if !transposed {
		return mat{dtype: d, rows: rows, cols: cols, f: x.Data, h: x.BF16, q: x.Q8, s: x.Scales}.only()
	}
	switch d {
	case checkpoints.BF16:
		return mat{dtype: d, rows: cols, cols: rows, h: transposeOf(x.BF16, rows, cols)}
	case checkpoints.Int8:
		return quantized(transposeOf(x.Data, rows, cols), rows, d)
	}
	return f32Mat(transposeOf(x.Data, rows, cols), rows)
}

// only drops the storage m's dtype does not use (a low-precision tensor
// also carries its float32 values).
func (m mat) only() mat {
	switch m.dtype {
	case checkpoints.BF16:
		m.f, m.q, m.s = nil, nil, nil
	case checkpoints.Int8:
		m.f, m.h = nil, nil
	default:
		m.h, m.q, m.s = nil, nil, nil
	}
	return m
}

// transposeOf returns the (cols, rows) transpose of the row-major
// (rows, cols) a.
func transposeOf[T any](a []T, rows, cols int) []T {
	t := make([]T, len(a))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			t[c*rows+r] = a[r*cols+c]
		}
	}
	return t
}
