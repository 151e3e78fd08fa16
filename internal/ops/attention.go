package ops

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/blas"
	"github.com/sparsetune/sparsetune/internal/parallel"
)

// AttnConfig fixes the geometry of one attention op.
type AttnConfig struct {
	B, T      int         // batch, time
	H, KVH, S int         // query heads, key/value heads (GQA when KVH < H), head size
	Causal    bool        // token t attends to keys ≤ t only
	RoPETheta float64     // rotary embedding base (HF LLaMA rotate_half); 0 disables RoPE
	RoPEScale RoPEScaling // rope_scaling of the rotary frequencies (zero: none)
}

func (c AttnConfig) validate() error {
	switch {
	case c.B <= 0 || c.T <= 0 || c.H <= 0 || c.S <= 0:
		return fmt.Errorf("attention: B, T, H and S must be positive, got %+v", c)
	case c.KVH <= 0 || c.H%c.KVH != 0:
		return fmt.Errorf("attention: %d query heads are not a multiple of %d key/value heads", c.H, c.KVH)
	case c.RoPETheta != 0 && c.S%2 != 0:
		return fmt.Errorf("attention: RoPE needs an even head size, got %d", c.S)
	}
	if err := c.RoPEScale.Validate(); err != nil {
		return fmt.Errorf("attention: %w", err)
	}
	return nil
}

// Attention is multi-head scaled dot-product attention, softmax(QKᵀ/√S)V,
// with optional causal and key-padding masks, RoPE and a per-token, per-head
// gate that scales each head's context vector before the output projection.
//
// q is (B*T, H*S); k and v are (B*T, KVH*S). mask, when not nil, is (B, T)
// holding 1 for real tokens and 0 for padding keys. gate, when not nil, is
// (B*T, H). The result is the concatenated heads' context, (B*T, H*S).
func Attention(q, k, v, mask, gate *G.Node, c AttnConfig) (*G.Node, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	n := c.B * c.T
	for _, chk := range []struct {
		name string
		node *G.Node
		cols int
	}{{"q", q, c.H * c.S}, {"k", k, c.KVH * c.S}, {"v", v, c.KVH * c.S}} {
		if s := chk.node.Shape(); len(s) != 2 || s[0] != n || s[1] != chk.cols {
			return nil, fmt.Errorf("attention: %s is %v, want (%d, %d)", chk.name, s, n, chk.cols)
		}
	}
	op := &attention{base: newBase("Attention"), c: c, hasMask: mask != nil, hasGate: gate != nil}
	op.views = [3]view{{0, 0, c.H * c.S}, {1, 0, c.KVH * c.S}, {2, 0, c.KVH * c.S}}
	return op.apply(G.Nodes{q, k, v}, mask, gate)
}

// AttentionQKV is Attention on a fused (B*T, 3*H*S) projection laid out as
// [Q | K | V], as GPT-2's c_attn produces it. It reads the three parts in
// place, without splitting them.
func AttentionQKV(qkv, mask, gate *G.Node, c AttnConfig) (*G.Node, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.KVH != c.H {
		return nil, fmt.Errorf("attention: a fused QKV input needs KVH == H, got %d and %d", c.KVH, c.H)
	}
	d := c.H * c.S
	if s := qkv.Shape(); len(s) != 2 || s[0] != c.B*c.T || s[1] != 3*d {
		return nil, fmt.Errorf("attention: qkv is %v, want (%d, %d)", s, c.B*c.T, 3*d)
	}
	op := &attention{base: newBase("AttentionQKV"), c: c, hasMask: mask != nil, hasGate: gate != nil, fused: true}
	op.views = [3]view{{0, 0, 3 * d}, {0, d, 3 * d}, {0, 2 * d, 3 * d}}
	return op.apply(G.Nodes{qkv}, mask, gate)
}

// view locates Q, K or V inside an input: columns [off, off+width) of rows
// with the given stride.
type view struct{ input, off, stride int }

type attention struct {
	base
	c                AttnConfig
	views            [3]view
	fused            bool
	hasMask, hasGate bool
	nIn              int // q/k/v inputs: 1 fused or 3

	out        buffer
	qh, kh, vh buffer // (B, H|KVH, T, S) head-major copies, RoPE applied
	probs      buffer // (B, H, T, T) softmax, saved for backward
	ctx        buffer // ungated context (B*T, H*S), kept only with a gate
	cos, sin   []float64
}

func (op *attention) apply(qkv G.Nodes, mask, gate *G.Node) (*G.Node, error) {
	op.nIn = len(qkv)
	in := append(G.Nodes{}, qkv...)
	if mask != nil {
		if s := mask.Shape(); len(s) != 2 || s[0] != op.c.B || s[1] != op.c.T {
			return nil, fmt.Errorf("attention: mask is %v, want (%d, %d)", s, op.c.B, op.c.T)
		}
		in = append(in, mask)
	}
	if gate != nil {
		if s := gate.Shape(); len(s) != 2 || s[0] != op.c.B*op.c.T || s[1] != op.c.H {
			return nil, fmt.Errorf("attention: head gate is %v, want (%d, %d)", s, op.c.B*op.c.T, op.c.H)
		}
		in = append(in, gate)
	}
	return G.ApplyOp(op, in...)
}

func (op *attention) Arity() int { return op.nIn + b2i(op.hasMask) + b2i(op.hasGate) }
func (op *attention) Type() hm.Type {
	dims := make([]int, op.Arity())
	for i := range dims {
		dims[i] = 2
	}
	return fnType(2, dims...)
}
func (op *attention) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.c.B * op.c.T, op.c.H * op.c.S}, nil
}
func (op *attention) DiffWRT(int) []bool {
	d := make([]bool, op.Arity())
	for i := 0; i < op.nIn; i++ {
		d[i] = true
	}
	if op.hasGate {
		d[len(d)-1] = true
	}
	return d
}

// maskIdx and gateIdx locate the optional inputs.
func (op *attention) maskIdx() int { return op.nIn }
func (op *attention) gateIdx() int { return op.nIn + b2i(op.hasMask) }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (op *attention) Do(in ...G.Value) (G.Value, error) {
	if in[0].Dtype() == tensor.Float32 {
		return attnForward[float32](op, in), nil
	}
	return attnForward[float64](op, in), nil
}

// AttentionHeadsInParallel selects how the per-head GEMMs run: true splits
// heads across goroutines (each GEMM small), false runs heads one after
// another so the BLAS library can use all threads inside each GEMM.
// BenchmarkAttention measures both.
var AttentionHeadsInParallel = true

func headLoop(n int, body func(lo, hi int)) {
	if AttentionHeadsInParallel {
		blas.Serial(func() { parallel.For(n, 1, body) })
	} else {
		body(0, n)
	}
}

// ropeTables fills cos/sin of position p and frequency i at [p*S/2+i],
// with the frequencies of ropeInvFreq as in HF LlamaRotaryEmbedding.
func (op *attention) ropeTables() {
	c := op.c
	half := c.S / 2
	if len(op.cos) == c.T*half {
		return
	}
	op.cos, op.sin = make([]float64, c.T*half), make([]float64, c.T*half)
	invFreq := ropeInvFreq(c.RoPETheta, c.S, c.RoPEScale)
	for p := 0; p < c.T; p++ {
		for i := 0; i < half; i++ {
			// HF computes inv_freq and the angle in float32; so do we, so that
			// long contexts round the same way.
			ang := float64(float32(p) * invFreq[i])
			op.cos[p*half+i], op.sin[p*half+i] = math.Cos(ang), math.Sin(ang)
		}
	}
}

// rope rotates x (S) at position p by +angle (sign 1) or −angle (sign −1).
func rope[T Float](x []T, cos, sin []float64, sign float64) {
	half := len(x) / 2
	for i := 0; i < half; i++ {
		a, b := float64(x[i]), float64(x[i+half])
		cs, sn := cos[i], sign*sin[i]
		x[i] = T(a*cs - b*sn)
		x[i+half] = T(b*cs + a*sn)
	}
}

// gatherHeads copies one of Q/K/V from its input view into head-major layout
// (B, heads, T, S), applying RoPE when configured.
func gatherHeads[T Float](op *attention, dst, src []T, vw view, heads int, withRope bool) {
	c := op.c
	half := c.S / 2
	parallel.For(c.B*heads, 1, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/heads, bh%heads
			for t := 0; t < c.T; t++ {
				row := src[(b*c.T+t)*vw.stride+vw.off+h*c.S:][:c.S]
				d := dst[(bh*c.T+t)*c.S:][:c.S]
				copy(d, row)
				if withRope {
					rope(d, op.cos[t*half:][:half], op.sin[t*half:][:half], 1)
				}
			}
		}
	})
}

func attnForward[T Float](op *attention, in []G.Value) G.Value {
	c := op.c
	dt := in[0].Dtype()
	if c.RoPETheta != 0 {
		op.ropeTables()
	}
	qh := slice[T](op.qh.get(dt, c.B, c.H, c.T, c.S))
	kh := slice[T](op.kh.get(dt, c.B, c.KVH, c.T, c.S))
	vh := slice[T](op.vh.get(dt, c.B, c.KVH, c.T, c.S))
	gatherHeads(op, qh, slice[T](in[op.views[0].input]), op.views[0], c.H, c.RoPETheta != 0)
	gatherHeads(op, kh, slice[T](in[op.views[1].input]), op.views[1], c.KVH, c.RoPETheta != 0)
	gatherHeads(op, vh, slice[T](in[op.views[2].input]), op.views[2], c.KVH, false)
	var mask, gate []T
	if op.hasMask {
		mask = slice[T](in[op.maskIdx()])
	}
	if op.hasGate {
		gate = slice[T](in[op.gateIdx()])
	}
	probs := slice[T](op.probs.get(dt, c.B, c.H, c.T, c.T))
	out := op.out.get(dt, c.B*c.T, c.H*c.S)
	ctx := slice[T](out)
	if op.hasGate {
		ctx = slice[T](op.ctx.get(dt, c.B*c.T, c.H*c.S))
	}
	scale := T(1 / math.Sqrt(float64(c.S)))
	hd := c.H * c.S
	group := c.H / c.KVH
	headLoop(c.B*c.H, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/c.H, bh%c.H
			kv := b*c.KVH + h/group
			p := probs[bh*c.T*c.T:][:c.T*c.T]
			q := qh[bh*c.T*c.S:][:c.T*c.S]
			k := kh[kv*c.T*c.S:][:c.T*c.S]
			vv := vh[kv*c.T*c.S:][:c.T*c.S]
			blas.Gemm(false, true, c.T, c.T, c.S, scale, q, c.S, k, c.S, 0, p, c.T) // (T, T) = Q Kᵀ/√S
			var m []T
			if mask != nil {
				m = mask[b*c.T:][:c.T]
			}
			for t := 0; t < c.T; t++ {
				softmaxRow(p[t*c.T:][:c.T], m, c.Causal, t)
			}
			blas.Gemm(false, false, c.T, c.S, c.T, 1, p, c.T, vv, c.S, 0, ctx[b*c.T*hd+h*c.S:], hd) // (T, S) = P V
		}
	})
	if op.hasGate {
		o := slice[T](out)
		parallel.For(c.B*c.T, 64, func(lo, hi int) {
			for n := lo; n < hi; n++ {
				for h := 0; h < c.H; h++ {
					g := gate[n*c.H+h]
					src, dst := ctx[n*hd+h*c.S:][:c.S], o[n*hd+h*c.S:][:c.S]
					for s := range dst {
						dst[s] = g * src[s]
					}
				}
			}
		})
	}
	return out
}

// softmaxRow turns the scores of query t into probabilities over the keys it
// may see: keys after t under a causal mask and padding keys get exactly 0.
// A row with no visible key (only possible with padding) is all zeros.
func softmaxRow[T Float](row, mask []T, causal bool, t int) {
	end := len(row)
	if causal {
		end = t + 1
	}
	mx := math.Inf(-1)
	for j := 0; j < end; j++ {
		if mask != nil && mask[j] == 0 {
			continue
		}
		if v := float64(row[j]); v > mx {
			mx = v
		}
	}
	if math.IsInf(mx, -1) {
		clear(row)
		return
	}
	var sum float64
	for j := 0; j < end; j++ {
		if mask != nil && mask[j] == 0 {
			row[j] = 0
			continue
		}
		e := math.Exp(float64(row[j]) - mx)
		row[j] = T(e)
		sum += e
	}
	inv := 1 / sum
	for j := 0; j < end; j++ {
		row[j] = T(float64(row[j]) * inv)
	}
	clear(row[end:])
}
