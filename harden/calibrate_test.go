package harden

import (
	"math"
	"slices"
	"testing"

	"github.com/sparsetune/sparsetune/infer"
)

// repeated returns n sequences of T copies of token tok: data on which a
// router sees one input per position, so that two tokens give two very
// different per-layer computes.
func repeated(tok, n, T int) [][]int {
	out := make([][]int, n)
	for i := range out {
		out[i] = slices.Repeat([]int{tok}, T)
	}
	return out
}

// band returns n sequences of T tokens drawn from [lo, hi): two bands of
// the vocabulary are two data sets whose routers spend differently.
func band(lo, hi, n, T int, seed uint64) [][]int {
	out := infer.RandomTokens(hi-lo, n, T, seed)
	for _, s := range out {
		for i := range s {
			s[i] += lo
		}
	}
	return out
}

// fullEngine is tinyInput's model keeping every unit, at τ 0.5.
func fullEngine(t *testing.T, L int) *infer.Engine {
	t.Helper()
	in := tinyInputL(t, L)
	man := in.manifest(0.5, Options{})
	sp, err := Prune(in.Model, in.Routers, man)
	if err != nil {
		t.Fatal(err)
	}
	e, err := infer.New(sp)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestMeasure: one sequence at a time, Measure gives the batched
// MeasureCompute's figure, layers whose dense-weighted mean is the total,
// and the ratio estimator's standard error, which is 0 on identical
// sequences and positive on random ones.
func TestMeasure(t *testing.T) {
	e := fullEngine(t, 2)
	seqs := infer.RandomTokens(e.Config.Vocab, 12, 16, 9)
	m, err := Measure(e, seqs)
	if err != nil {
		t.Fatal(err)
	}
	batched, err := e.MeasureCompute(seqs)
	if err != nil {
		t.Fatal(err)
	}
	mean := 0.0
	for _, c := range m.Layers {
		mean += c / float64(len(m.Layers))
	}
	if math.Abs(m.Compute-batched) > 1e-12 || math.Abs(mean-m.Compute) > 1e-12 || m.Tokens != 12*16 {
		t.Fatalf("Measure %.6f (layers' mean %.6f, %d tokens), MeasureCompute %.6f", m.Compute, mean, m.Tokens, batched)
	}
	if m.SE <= 0 || m.SE > 0.5 {
		t.Fatalf("standard error %.4g on random sequences", m.SE)
	}
	same, err := Measure(e, repeated(3, 5, 16))
	if err != nil {
		t.Fatal(err)
	}
	if same.SE > 1e-12 {
		t.Fatalf("standard error %.4g over identical sequences, want 0", same.SE)
	}
}

// TestRatioSE against the formula worked by hand: a = (1, 3), d = (2, 2),
// r = 1: residuals 1 − 2 = −1 and 3 − 2 = 1, √(2 / (2·1)) / 2 = 0.5.
func TestRatioSE(t *testing.T) {
	if got := ratioSE([]float64{1, 3}, []float64{2, 2}, 1); math.Abs(got-0.5) > 1e-15 {
		t.Fatalf("ratioSE = %g, want 0.5", got)
	}
	if got := ratioSE([]float64{1}, []float64{2}, 0.5); got != 0 {
		t.Fatalf("one pair: %g, want 0", got)
	}
}

// TestCalibrateLayersRestoresTheAllocation: calibrated on sequences of one
// token, with the allocation learned on sequences of another, the layers
// whose compute drifts by more than layerTol get their allocation back,
// the others keep one τ between them, and the total stays on the target.
// The control: with the calibration set as its own reference no layer
// drifts and every layer keeps the global τ.
func TestCalibrateLayersRestoresTheAllocation(t *testing.T) {
	const target = 0.5
	calib, ref := band(0, 20, 16, 16, 1), band(20, 50, 16, 16, 2)
	e := fullEngine(t, 6)
	if _, err := CalibrateTau(e, calib, target, 0); err != nil {
		t.Fatal(err)
	}
	global := e.Manifest.Layers[0].Tau
	ctl, err := CalibrateLayers(e, calib, calib, target)
	if err != nil {
		t.Fatal(err)
	}
	for l, ml := range e.Manifest.Layers {
		if ml.Tau != global {
			t.Fatalf("control: layer %d τ %.4f, global %.4f", l, ml.Tau, global)
		}
	}
	if len(ctl) != 0 {
		t.Fatalf("control: layers %v corrected against themselves", ctl)
	}
	alloc, err := Allocation(e, ref, target)
	if err != nil {
		t.Fatal(err)
	}
	before, err := Measure(e, calib)
	if err != nil {
		t.Fatal(err)
	}
	fixed, err := CalibrateLayers(e, calib, ref, target)
	if err != nil {
		t.Fatal(err)
	}
	after, err := Measure(e, calib)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("allocation %.3f; on calib before %.3f, after %.3f; corrected %v", alloc, before.Layers, after.Layers, fixed)
	if len(fixed) == 0 {
		t.Fatal("no layer drifted: the test data do not separate the layers")
	}
	for l := range alloc {
		drifted := math.Abs(before.Layers[l]-alloc[l]) > layerTol
		if drifted != slices.Contains(fixed, l) {
			t.Errorf("layer %d: drift %.3f, corrected %v", l, before.Layers[l]-alloc[l], slices.Contains(fixed, l))
		}
		if drifted && math.Abs(after.Layers[l]-alloc[l]) > 0.01 {
			t.Errorf("layer %d: compute %.4f after correction, allocation %.4f", l, after.Layers[l], alloc[l])
		}
	}
	free := uncorrected(len(alloc), fixed)
	for _, l := range free {
		if e.Manifest.Layers[l].Tau != e.Manifest.Layers[free[0]].Tau {
			t.Errorf("uncorrected layers %v have different τ", free)
		}
	}
	if len(free) == 0 || math.Abs(after.Compute-target) > 0.005 {
		t.Errorf("total compute %.4f after the corrections, target %g", after.Compute, target)
	}
}

// TestSolveTau drives the τ search with a smooth compute curve whose answer
// lies at a saturated τ (0.002), in the middle (0.5) and near 1 (0.94):
// from no start, from the middle and from a start off by 0.3% (a
// recalibration), it lands within calibTol and leaves the last measurement
// at the τ it returns; from the near start it takes at most 8 passes (the
// bisection in τ took 9 or 10). A curve that jumps over the target gives
// the closer side.
func TestSolveTau(t *testing.T) {
	for _, want := range []float64{0.002, 0.5, 0.94} {
		w := math.Log(want / (1 - want))
		// compute(τ) = 1 − σ(2(logit τ − logit want)): falls with τ, 0.5 at
		// τ = want.
		curve := func(tau float64) float64 { return 1 - sigmoid(2*(math.Log(tau/(1-tau))-w)) }
		for _, start := range []float64{0, want * 1.003, 0.5} {
			calls, last := 0, 0.0
			c, err := solveTau(func(tau float64) (float64, error) {
				calls++
				last = tau
				return curve(tau), nil
			}, 0.5, start)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(c-0.5) > calibTol || curve(last) != c {
				t.Fatalf("τ %g from start %g: compute %.5f at last τ %g (curve there %.5f), want 0.5 ± %g", want, start, c, last, curve(last), calibTol)
			}
			if start == want*1.003 && calls > 8 {
				t.Errorf("τ %g from start %g: %d passes, want at most 8", want, start, calls)
			}
			if calls > 30 {
				t.Errorf("τ %g from start %g: %d passes", want, start, calls)
			}
		}
	}
	step := func(tau float64) (float64, error) { // 0.8 below τ 0.3, 0.45 from there
		if tau < 0.3 {
			return 0.8, nil
		}
		return 0.45, nil
	}
	if c, err := solveTau(step, 0.5, 0.9); err != nil || c != 0.45 {
		t.Fatalf("step curve: %v, %v; want the closer side 0.45", c, err)
	}
	// Whole units (static routers): 80 gates with on-probabilities spread
	// over [0.93, 0.95]; 0.253 lies between two levels, so the search runs
	// until the bracket is closed, and from the trained τ in a dozen passes.
	ps := make([]float64, 80)
	for i := range ps {
		ps[i] = 0.93 + 0.02*float64(i)/79
	}
	calls := 0
	stairs := func(tau float64) (float64, error) {
		calls++
		n := 0
		for _, p := range ps {
			if p > tau {
				n++
			}
		}
		return float64(n) / 80, nil
	}
	if c, err := solveTau(stairs, 0.253, 0.944); err != nil || c != 0.25 || calls > 14 {
		t.Fatalf("stairs: compute %v (%v) in %d passes; want 0.25 in at most 14", c, err, calls)
	}
}
