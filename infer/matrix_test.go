package infer

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
)

// cloneSparse copies sp's tensors, so that quantizing the copy leaves sp
// alone.
func cloneSparse(sp *checkpoints.Sparse) *checkpoints.Sparse {
	c := &checkpoints.Sparse{Config: sp.Config, Manifest: sp.Manifest, Tensors: map[string]*checkpoints.SparseTensor{}}
	for n, t := range sp.Tensors {
		x := *t
		x.Data = slices.Clone(t.Data)
		c.Tensors[n] = &x
	}
	return c
}

// roundedRef is the float32 engine of e's rounded weights: e's checkpoint
// converted back to float32 (checkpoints.Quantize keeps the rounding), then
// every matrix rounded along the engine's rows and widened back, as e
// holds it. A low-precision engine must compute what it computes, up to
// float32 summation order.
func roundedRef(t *testing.T, sp *checkpoints.Sparse, d checkpoints.DType) *Engine {
	t.Helper()
	ref := cloneSparse(sp)
	if err := checkpoints.Quantize(ref, checkpoints.F32); err != nil {
		t.Fatal(err)
	}
	e, err := New(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Quantize(d); err != nil {
		t.Fatal(err)
	}
	if err := e.Quantize(checkpoints.F32); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestEngineDTypes: an engine whose weight matrices are BF16 or INT8,
// read from a quantized checkpoint or quantized in memory, computes what
// the float32 engine computes on the same rounded weights, through the
// per-unit and the dense paths and token by token; the rounding itself
// changes the logits (the test sees it) and the bytes decoding reads
// shrink with the dtype. D = 40: every row has a short last INT8 block.
func TestEngineDTypes(t *testing.T) {
	for _, tc := range []struct {
		f   nn.Family
		cls bool
	}{{nn.GPT2, false}, {nn.LLaMA, false}, {nn.BERT, true}, {nn.GPT2, true}} {
		c := testConfig(tc.f, tc.cls)
		c.D = 40
		const k = 8
		m := &nn.Model{Config: c, Params: nn.InitParams(c, 3, tensor.Float32)}
		set := testRouters(t, c, router.Sigmoid, k)
		seqs := randomSeqs(c, 3, 12, 5)
		sp, err := Build(m, set.Params(), usageManifest(t, m, set, seqs, k))
		if err != nil {
			t.Fatal(err)
		}
		base, err := New(sp)
		if err != nil {
			t.Fatal(err)
		}
		f32 := slices.Clone(engineLogits(t, base, seqs))
		for _, d := range []checkpoints.DType{checkpoints.BF16, checkpoints.Int8} {
			for _, via := range []string{"checkpoint", "memory"} {
				t.Run(fmt.Sprintf("%s-%v/%s/%s", tc.f, tc.cls, d, via), func(t *testing.T) {
					var e, ref *Engine
					if via == "checkpoint" {
						q := cloneSparse(sp)
						if err := checkpoints.Quantize(q, d); err != nil {
							t.Fatal(err)
						}
						if e, err = New(q); err != nil {
							t.Fatal(err)
						}
						ref = roundedRef(t, q, d)
					} else {
						if e, err = New(cloneSparse(sp)); err != nil {
							t.Fatal(err)
						}
						if err := e.Quantize(d); err != nil {
							t.Fatal(err)
						}
						ref = roundedRef(t, sp, d)
					}
					if e.DType() != d || ref.DType() != checkpoints.F32 {
						t.Fatalf("engine dtype %s, reference %s", e.DType(), ref.DType())
					}
					if e.WeightBytes() >= base.WeightBytes() {
						t.Errorf("%s weights take %.0f bytes, float32 %.0f", d, e.WeightBytes(), base.WeightBytes())
					}
					checkAgainstRef(t, e, ref, seqs, f32)
				})
			}
		}
	}
}

// checkAgainstRef compares e with the float32 engine ref on seqs through
// both scoring paths and, for language models, decoding, and checks that
// e's logits differ from the unrounded f32 ones.
func checkAgainstRef(t *testing.T, e, ref *Engine, seqs [][]int, f32 []float32) {
	t.Helper()
	want := slices.Clone(engineLogits(t, ref, seqs))
	tol := 1e-4 * math.Max(1, maxAbsDiff(want, make([]float32, len(want))))
	for _, above := range []float64{1, 0} { // per-unit products, then dense with the mask
		e.DenseAbove, ref.DenseAbove = above, above
		got := engineLogits(t, e, seqs)
		if d := maxAbsDiff(got, want); d > tol {
			t.Fatalf("dense-above %g: max |%s engine − float32 engine of its weights| = %.3g > %.3g", above, e.DType(), d, tol)
		}
		if above == 1 {
			delta := maxAbsDiff(got, f32)
			scale := maxAbsDiff(f32, make([]float32, len(f32)))
			if delta == 0 || delta > 0.05*scale {
				t.Fatalf("%s logits differ from the float32 ones by %.3g (logits up to %.3g): rounding should show, by a few per mille", e.DType(), delta, scale)
			}
			t.Logf("max |Δ logit| vs float32: %.3g (logits up to %.3g)", delta, maxAbsDiff(f32, make([]float32, len(f32))))
		}
	}
	if e.Config.Task != nn.CausalLM {
		return
	}
	seq := seqs[0]
	want = slices.Clone(engineLogits(t, ref, [][]int{seq}))
	for _, dense := range []bool{false, true} {
		e.Dense, ref.Dense = dense, dense
		if dense {
			want = slices.Clone(engineLogits(t, ref, [][]int{seq}))
		}
		e.ResetStats()
		if d, _ := decodeDiff(t, e, seq, want); d > tol {
			t.Fatalf("dense %v: decoding differs from the float32 engine of its weights by %.3g > %.3g", dense, d, tol)
		}
		ref.ResetStats()
		decodeDiff(t, ref, seq, want)
		if e.Stats.Read >= ref.Stats.Read {
			t.Errorf("dense %v: %s decoding read %.0f bytes, float32 %.0f", dense, e.DType(), e.Stats.Read, ref.Stats.Read)
		}
	}
	e.Dense, ref.Dense = false, false
}

// TestQuantizeRejectsUnknownDType: Engine.Quantize names what it takes.
func TestQuantizeRejectsUnknownDType(t *testing.T) {
	c := testConfig(nn.GPT2, false)
	m := &nn.Model{Config: c, Params: nn.InitParams(c, 3, tensor.Float32)}
	set := testRouters(t, c, router.Sigmoid, 8)
	sp, err := Build(m, set.Params(), usageManifest(t, m, set, randomSeqs(c, 2, 8, 1), 8))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(sp)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Quantize("q4"); err == nil {
		t.Fatal("Quantize accepted q4")
	}
	if e.DType() != checkpoints.F32 {
		t.Fatalf("a refused Quantize changed the dtype to %s", e.DType())
	}
}

// TestQuantizeCompared reports the largest logit change quantizing caused,
// the same as comparing the logits before and after by hand.
func TestQuantizeCompared(t *testing.T) {
	for _, cls := range []bool{false, true} {
		c := testConfig(nn.GPT2, cls)
		m := &nn.Model{Config: c, Params: nn.InitParams(c, 3, tensor.Float32)}
		set := testRouters(t, c, router.Sigmoid, 8)
		seqs := randomSeqs(c, 2, 10, 4)
		sp, err := Build(m, set.Params(), usageManifest(t, m, set, seqs, 8))
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(sp)
		if err != nil {
			t.Fatal(err)
		}
		e.DenseAbove = 1 // one path throughout: the sums are the same
		before := slices.Clone(engineLogits(t, e, seqs))
		e.Dense = true
		beforeDense := slices.Clone(engineLogits(t, e, seqs))
		e.Dense = false
		got, err := e.QuantizeCompared(checkpoints.Int8, seqs)
		if err != nil {
			t.Fatal(err)
		}
		want := maxAbsDiff(engineLogits(t, e, seqs), before)
		if got.Routed != want || got.Routed == 0 || e.DType() != checkpoints.Int8 || e.Dense {
			t.Errorf("cls %v: QuantizeCompared %g, by hand %g, dtype %s, dense left %v", cls, got.Routed, want, e.DType(), e.Dense)
		}
		e.Dense = true
		if want := maxAbsDiff(engineLogits(t, e, seqs), beforeDense); got.Dense != want || got.Dense == 0 {
			t.Errorf("cls %v: dense delta %g, by hand %g", cls, got.Dense, want)
		}
		if s := maxAbsDiff(before, make([]float32, len(before))); got.Scale != s {
			t.Errorf("cls %v: scale %g, want the largest |logit| %g", cls, got.Scale, s)
		}
	}
}
