package train

import (
	"encoding/binary"
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/parallel"
	"github.com/sparsetune/sparsetune/nn"
)

// AdamWConfig holds the optimizer's hyper-parameters. Defaults follow
// PyTorch's torch.optim.AdamW except the weight decay, which follows the
// usual fine-tuning setting.
type AdamWConfig struct {
	Beta1       float64 // first-moment decay (0.9)
	Beta2       float64 // second-moment decay (0.999)
	Eps         float64 // denominator floor (1e-8)
	WeightDecay float64 // decoupled decay for matrices and embeddings (Loshchilov & Hutter 2019)
	ClipNorm    float64 // global gradient-norm clip; 0 disables
}

// DefaultAdamW is the configuration used when a field is left zero.
var DefaultAdamW = AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01, ClipNorm: 1}

// AdamW updates float32 parameters in place, outside the graph. Gradients
// are accumulated into the optimizer's own buffers (Accumulate) so several
// micro-batches can make one step; Step consumes and zeroes them.
//
// With one micro-batch per step, Borrow uses the graph's gradient tensors
// in place instead, so that no second copy of the gradients is kept: the
// optimizer then holds only the two moments per parameter.
type AdamW struct {
	cfg      AdamWConfig
	params   []*nn.Param
	m, v     [][]float32
	grad     [][]float32 // this step's gradient of each parameter; nil: none yet
	own      [][]float32 // the optimizer's own gradient buffers, allocated on first use, zero when not in use
	borrowed []bool      // grad[i] is a graph's tensor (Borrow), not own[i]
	frozen   []bool
	scale    []float64 // per-parameter learning-rate multiplier (1 unless set)
	steps    int
}

// NewAdamW prepares an optimizer for params.
func NewAdamW(params []*nn.Param, cfg AdamWConfig) (*AdamW, error) {
	o := &AdamW{cfg: cfg, params: params}
	for _, p := range params {
		if _, ok := p.Value.Data().([]float32); !ok {
			return nil, fmt.Errorf("adamw: parameter %s is %v, want float32", p.Name, p.Value.Dtype())
		}
		n := p.Numel()
		o.m = append(o.m, make([]float32, n))
		o.v = append(o.v, make([]float32, n))
	}
	o.grad = make([][]float32, len(params))
	o.own = make([][]float32, len(params))
	o.borrowed = make([]bool, len(params))
	o.frozen = make([]bool, len(params))
	o.scale = make([]float64, len(params))
	for i := range o.scale {
		o.scale[i] = 1
	}
	return o, nil
}

// SetLRScale makes parameter i learn at s times the step's learning rate
// (sparse training gives the routers their own rate this way).
func (o *AdamW) SetLRScale(i int, s float64) { o.scale[i] = s }

// Freeze stops updating parameter i (its moments are kept, its gradient
// ignored): stage 2 of sparse training freezes the routers this way.
func (o *AdamW) Freeze(i int, frozen bool) { o.frozen[i] = frozen }

// Steps is the number of updates made so far.
func (o *AdamW) Steps() int { return o.steps }

// Accumulate adds scale·g to parameter i's gradient buffer.
func (o *AdamW) Accumulate(i int, g *tensor.Dense, scale float32) {
	if o.borrowed[i] { // more than one micro-batch after all: own the sum
		copy(o.buffer(i), o.grad[i])
		o.grad[i], o.borrowed[i] = o.own[i], false
	}
	if o.grad[i] == nil {
		o.grad[i] = o.buffer(i)
	}
	dst, src := o.grad[i], g.Data().([]float32)
	parallel.For(len(dst), 1<<15, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			dst[j] += scale * src[j]
		}
	})
}

// Borrow makes scale·g parameter i's gradient for the next Step without
// copying it: g is scaled in place and used as it is. It is for a step of
// one micro-batch (grad_accum 1), when the graph's gradients are not needed
// again: g must stay unchanged (the graph must not run) until Step or
// ZeroGrad. A later Accumulate before Step copies it first.
func (o *AdamW) Borrow(i int, g *tensor.Dense, scale float32) {
	if o.grad[i] != nil {
		o.Accumulate(i, g, scale)
		return
	}
	src := g.Data().([]float32)
	if scale != 1 {
		parallel.For(len(src), 1<<15, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				src[j] *= scale
			}
		})
	}
	o.grad[i], o.borrowed[i] = src, true
}

// buffer returns parameter i's own gradient buffer, allocating it (zeroed)
// on first use.
func (o *AdamW) buffer(i int) []float32 {
	if o.own[i] == nil {
		o.own[i] = make([]float32, o.params[i].Numel())
	}
	return o.own[i]
}

// GradNorm is the global L2 norm of the accumulated gradients.
func (o *AdamW) GradNorm() float64 {
	var s float64
	for _, g := range o.grad {
		for _, x := range g {
			s += float64(x) * float64(x)
		}
	}
	return math.Sqrt(s)
}

// ZeroGrad discards the accumulated gradients (after a skipped step too).
func (o *AdamW) ZeroGrad() {
	for i := range o.grad {
		o.release(i)
	}
}

// release ends parameter i's gradient of this step: its own buffer is
// cleared for the next; a borrowed tensor is let go.
func (o *AdamW) release(i int) {
	if o.grad[i] != nil && !o.borrowed[i] {
		clear(o.grad[i])
	}
	o.grad[i], o.borrowed[i] = nil, false
}

// Step clips the accumulated gradients to the global norm (as
// torch.nn.utils.clip_grad_norm_), applies one AdamW update at learning
// rate lr, zeroes the gradients and returns the norm before clipping.
func (o *AdamW) Step(lr float64) float64 {
	c := o.cfg
	norm := o.GradNorm()
	clip := 1.0
	if c.ClipNorm > 0 && norm+1e-6 > c.ClipNorm {
		clip = c.ClipNorm / (norm + 1e-6)
	}
	o.steps++
	t := float64(o.steps)
	// torch.optim.AdamW: p ← p(1 − lr·wd); m̂ = m/(1−β1ᵗ); v̂ = v/(1−β2ᵗ);
	// p ← p − lr·m̂/(√v̂ + ε), computed as torch does it.
	bc1 := 1 - math.Pow(c.Beta1, t)
	bc2 := math.Sqrt(1 - math.Pow(c.Beta2, t))
	for i, p := range o.params {
		if o.frozen[i] {
			o.release(i)
			continue
		}
		if o.grad[i] == nil { // no gradient this step: a zero one, as torch's zero_grad(set_to_none=False)
			o.grad[i] = o.buffer(i)
		}
		w, m, v, g := p.Value.Data().([]float32), o.m[i], o.v[i], o.grad[i]
		lr := lr * o.scale[i]
		stepSize := lr / bc1
		decay := float32(1)
		if p.Decay() {
			decay = float32(1 - lr*c.WeightDecay)
		}
		b1, b2, eps := float32(c.Beta1), float32(c.Beta2), float32(c.Eps)
		cl, ss, bc := float32(clip), float32(stepSize), float32(bc2)
		parallel.For(len(w), 1<<14, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				gj := g[j] * cl
				m[j] = b1*m[j] + (1-b1)*gj
				v[j] = b2*v[j] + (1-b2)*gj*gj
				denom := float32(math.Sqrt(float64(v[j])))/bc + eps
				w[j] = w[j]*decay - ss*m[j]/denom
			}
		})
		o.release(i)
	}
	return norm
}

// MarshalBinary saves the optimizer state (step count and both moments).
func (o *AdamW) MarshalBinary() ([]byte, error) {
	n := 8
	for _, m := range o.m {
		n += 8 * len(m)
	}
	buf := make([]byte, 0, n)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(o.steps))
	for i := range o.m {
		for _, s := range [][]float32{o.m[i], o.v[i]} {
			for _, x := range s {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
			}
		}
	}
	return buf, nil
}

// UnmarshalBinary restores a state saved by MarshalBinary for the same
// parameter shapes.
func (o *AdamW) UnmarshalBinary(b []byte) error {
	want := 8
	for _, m := range o.m {
		want += 8 * len(m)
	}
	if len(b) != want {
		return fmt.Errorf("adamw state: %d bytes, want %d for these parameters", len(b), want)
	}
	o.steps = int(binary.LittleEndian.Uint64(b))
	b = b[8:]
	for i := range o.m {
		for _, s := range [][]float32{o.m[i], o.v[i]} {
			for j := range s {
				s[j] = math.Float32frombits(binary.LittleEndian.Uint32(b))
				b = b[4:]
			}
		}
	}
	return nil
}
