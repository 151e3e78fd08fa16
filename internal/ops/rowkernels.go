package ops

// Row kernels for code that runs a model outside the graph (the inference
// engine): the same arithmetic as the graph ops' forward passes, so that
// both produce the same numbers.

// LayerNormRow sets y = LayerNorm(x)·w + b over one row (as LayerNorm).
func LayerNormRow(y, x, w, b []float32, eps float64) { layerNormRow(y, x, w, b, eps) }

// RMSNormRow sets y = w·x/rms(x) over one row (as RMSNorm).
func RMSNormRow(y, x, w []float32, eps float64) { rmsNormRow(y, x, w, eps) }

// BiasActRow sets y = act(x + b) (as BiasAct without a gate); a layer
// without a bias passes zeros. scratch must hold len(x) values.
func BiasActRow(act Activation, y, scratch, x, b []float32) { actFwd(act, y, scratch, x, b, 1) }

// SiLUMulRow sets y = silu(a)·c (as SwiGLU without a gate). scratch must
// hold len(a) values.
func SiLUMulRow(y, scratch, a, c []float32) {
	sig := scratch[:len(a)]
	copy(sig, a)
	vsigmoid(sig)
	for j, v := range a {
		y[j] = v * sig[j] * c[j]
	}
}

// SoftmaxRow turns scores into probabilities over the first n entries of
// row (the keys a query sees); the rest become 0. It is attention's
// softmax with exp32s (relative error expMaxRelErr) for the exponentials
// instead of float64 math.Exp, three times faster; the sum stays in
// float64.
func SoftmaxRow(row []float32, n int) {
	r := row[:n]
	mx := r[0]
	for _, v := range r {
		mx = max(mx, v)
	}
	for i := range r {
		r[i] -= mx
	}
	exp32s(r)
	var sum float64
	for _, v := range r {
		sum += float64(v)
	}
	inv := float32(1 / sum)
	for i := range r {
		r[i] *= inv
	}
	clear(row[n:])
}

// RoPE holds rotary-embedding tables (HF LLaMA rotate_half, as attention).
type RoPE struct {
	half     int
	cos, sin []float64
}

// NewRoPE returns the tables for head size s, base theta, scaling sc and
// positions 0..maxPos-1.
func NewRoPE(theta float64, sc RoPEScaling, s, maxPos int) *RoPE {
	op := &attention{c: AttnConfig{T: maxPos, S: s, RoPETheta: theta, RoPEScale: sc}}
	op.ropeTables()
	return &RoPE{half: s / 2, cos: op.cos, sin: op.sin}
}

// Rotate rotates one head's vector x (length s) at position pos.
func (r *RoPE) Rotate(x []float32, pos int) {
	rope(x, r.cos[pos*r.half:][:r.half], r.sin[pos*r.half:][:r.half], 1)
}
