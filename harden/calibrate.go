package harden

import (
	"fmt"
	"math"

	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
)

// calibTol is how close to the target the measured compute of a
// calibration must come before the search stops: a tenth of the
// smallest budget tolerance a run is held to (0.01), so that the
// calibration error is negligible beside the spread between data sets.
const calibTol = 0.001

// CalibrateTau sets one threshold for every layer of e so that the
// measured compute on seqs is within calibTol of target, or as close as
// the search over τ gets (solveTau: τ's logit to 1e-4), and returns
// that compute. start, a guess in (0, 1) such as the threshold the model
// was trained with (0: none), is tried first and the search steps out from
// it: most calibrations then take a few forward passes.
func CalibrateTau(e *infer.Engine, seqs [][]int, target, start float64) (float64, error) {
	return solveTau(func(tau float64) (float64, error) {
		for l := range e.Manifest.Layers {
			e.SetTau(l, tau)
		}
		return e.MeasureCompute(seqs)
	}, target, start)
}

// CalibrateRouters returns the one threshold τ at which the hard masks of
// m's routers (router.Set.Params(), of configuration rc) spend target on
// seqs as the inference engine measures them, keeping every unit
// (CalibrateTau, starting from rc.Tau), and that compute. It is the
// calibration that a run's stage switch and the one-run frontier need to
// agree with the hardening that follows: the masks are measured
// themselves, with each layer's input what the earlier layers' masks leave
// it. Gate probabilities read from a soft pass, in which every unit runs a
// little, do not predict that once the gates saturate (a SpamAssassin run
// at target 0.5 calibrated τ 0.0012 from them and trained stage 2 at
// compute 0.55; the masks themselves gave τ 0.33). Static routers are
// calibrated as the contextual routers with zero weights that have their
// gates.
func CalibrateRouters(m *nn.Model, routers []*nn.Param, rc router.Config, seqs [][]int, target float64) (tau, compute float64, err error) {
	if len(seqs) == 0 {
		return 0, 0, ErrNoSequences
	}
	in := Input{Model: m, Routers: routers, Router: rc}
	routers, man := in.calibrationRouters(in.manifest(target, Options{}))
	full, err := Prune(m, routers, man)
	if err != nil {
		return 0, 0, err
	}
	e, err := infer.New(full)
	if err != nil {
		return 0, 0, err
	}
	if compute, err = CalibrateTau(e, seqs, target, rc.Tau); err != nil {
		return 0, 0, fmt.Errorf("calibrating τ: %w", err)
	}
	return e.Manifest.Layers[0].Tau, compute, nil
}

// solveTau finds the τ in (0, 1) at which measure (a compute that falls as τ
// rises) comes within calibTol of target, or the closest it gets; it leaves
// measure's last call at that τ and returns its value.
//
// It searches the gate's logit u = ln(τ/(1−τ)), over |u| ≤ logitLim: a
// trained router's τ is as often 0.002 as 0.5 (saturated gates), and a
// step of a fixed size in u moves the odds of the gate by a fixed factor
// wherever τ lies. start, in (0, 1) (0: none), is tried first; the search
// then steps away from it by logitStep, four times further each time,
// until the target is bracketed, and closes the bracket by false position
// (the Illinois variant, which halves the weight of an end that stays put),
// bisecting instead while an end is unmeasured and after a step that did
// not halve the bracket (a jump in the compute: routers with whole units).
// It stops within calibTol or once the bracket is narrower than logitRes.
// A recalibration whose τ has barely moved takes a few passes.
func solveTau(measure func(tau float64) (float64, error), target, start float64) (float64, error) {
	lo, hi := -logitLim, logitLim // compute falls as u rises
	var flo, fhi float64          // compute − target at lo and hi, once measured
	haveLo, haveHi := false, false
	best, bestGap := 0.0, math.Inf(1)
	last, lastC := math.NaN(), 0.0 // measure's last call
	// try measures at u and narrows the bracket; above reports that the
	// compute there is above target (τ must rise).
	try := func(u float64) (done, above bool, err error) {
		c, err := measure(sigmoid(u))
		if err != nil {
			return false, false, err
		}
		last, lastC = u, c
		if gap := math.Abs(c - target); gap < bestGap {
			best, bestGap = u, gap
		}
		if above = c > target; above {
			lo, flo, haveLo = max(lo, u), c-target, true
		} else {
			hi, fhi, haveHi = min(hi, u), c-target, true
		}
		return bestGap < calibTol, above, nil
	}
	finish := func(err error) (float64, error) {
		switch {
		case err != nil:
			return 0, err
		case last == best: // measure is already at the best τ
			return lastC, nil
		}
		return measure(sigmoid(best))
	}
	if start > 0 && start < 1 {
		u := math.Max(-logitLim, math.Min(logitLim, math.Log(start/(1-start))))
		done, above, err := try(u)
		if err != nil || done {
			return finish(err)
		}
		for step := logitStep; ; step *= 4 { // bracket: step away until the side changes
			if above {
				u += step
			} else {
				u -= step
			}
			if u <= lo || u >= hi {
				break // past the other end of the bracket
			}
			var now bool
			if done, now, err = try(u); err != nil || done {
				return finish(err)
			}
			if now != above {
				break
			}
		}
	}
	// Close the bracket by false position; a step that fails to halve it
	// (a jump in the compute, or a curved end) is followed by a bisection.
	side := 0 // the end false position moved last: -1 lo, +1 hi
	falsePos := true
	for range 30 {
		width := hi - lo
		u := (lo + hi) / 2
		fp := falsePos && haveLo && haveHi && flo != fhi
		if fp {
			u = lo + width*flo/(flo-fhi)
		}
		if width < logitRes || !(u > lo && u < hi) { // a jump in the compute (whole units): the closer side stands
			break
		}
		done, above, err := try(u)
		if err != nil || done {
			return finish(err)
		}
		falsePos = !fp || hi-lo <= width/2
		// Illinois: an end that stays put twice in a row counts half.
		switch {
		case above && side == -1:
			fhi /= 2
		case !above && side == 1:
			flo /= 2
		}
		if above {
			side = -1
		} else {
			side = 1
		}
	}
	return finish(nil)
}

// logitLim bounds the gate logit that solveTau searches (τ within 1.1e-7 of 0
// or 1), and logitStep is its first step away from a starting τ (the odds
// of the gate by 2%).
const (
	logitLim  = 16.0
	logitStep = 0.02
	logitRes  = 1e-4 // the bracket's width at which the search stops: the odds of the gate to 0.01%
)

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// layerTol is how far a layer's compute on the calibration set may drift
// from its learned allocation before its τ is corrected: the default budget
// tolerance of a run (train's budget_tol, 0.02). A layer within it keeps
// the global τ; a drift that large in one layer is as much as a whole run
// is allowed to miss its target by.
const layerTol = 0.02

// Allocation is each layer's share of the target as the routers learned
// it: each layer's compute on the reference sequences (the data the
// routers were trained on) at the engine's current thresholds, scaled so
// that the layers together spend target.
func Allocation(e *infer.Engine, ref [][]int, target float64) ([]float64, error) {
	m, err := Measure(e, ref)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(m.Layers))
	for l, c := range m.Layers {
		if m.Compute > 0 {
			out[l] = c * target / m.Compute
		}
	}
	return out, nil
}

// CalibrateLayers corrects, after CalibrateTau has set one τ for target on
// calib, the layers whose routers spend on calib what they did not learn
// to spend. A layer drifts when its compute on calib is more than layerTol
// from its allocation (Allocation on ref): the routers of that layer fire
// more (or less) often on the calibration data than on the data they were
// trained on. Each drifting layer, first to last (a layer's compute
// depends on its own τ and the layers before it), gets the τ at which its
// compute on calib is its allocation; then the one τ of the other layers is
// calibrated again so that the total on calib is target. The learned
// allocation is kept: no layer is pushed to the same compute as the
// others. It returns the corrected layers (none: every layer is within
// layerTol and the global τ stands).
func CalibrateLayers(e *infer.Engine, calib, ref [][]int, target float64) ([]int, error) {
	tau := e.Manifest.Layers[0].Tau
	alloc, err := Allocation(e, ref, target)
	if err != nil {
		return nil, err
	}
	m, err := Measure(e, calib)
	if err != nil {
		return nil, err
	}
	var drift, free []int
	for l, c := range m.Layers {
		if math.Abs(c-alloc[l]) > layerTol {
			drift = append(drift, l)
		} else {
			free = append(free, l)
		}
	}
	for _, l := range drift {
		if _, err := solveTau(func(t float64) (float64, error) {
			e.SetTau(l, t)
			return layerCompute(e, calib, l)
		}, alloc[l], tau); err != nil {
			return nil, err
		}
	}
	if len(drift) > 0 {
		if _, err := Refit(e, calib, target, free); err != nil {
			return nil, err
		}
	}
	return drift, nil
}

// Refit calibrates the one τ that layers share again (solveTau from
// their current τ, the first's) so that e's compute on seqs is target,
// leaving the other layers' τ as they are. It returns that compute; with
// no layers it only measures.
func Refit(e *infer.Engine, seqs [][]int, target float64, layers []int) (float64, error) {
	if len(layers) == 0 {
		return e.MeasureCompute(seqs)
	}
	return solveTau(func(t float64) (float64, error) {
		for _, l := range layers {
			e.SetTau(l, t)
		}
		return e.MeasureCompute(seqs)
	}, target, e.Manifest.Layers[layers[0]].Tau)
}

// layerCompute measures layer l's compute on seqs.
func layerCompute(e *infer.Engine, seqs [][]int, l int) (float64, error) {
	e.RecordUsage()
	defer func() { e.Usage = nil }()
	if _, err := e.MeasureCompute(seqs); err != nil {
		return 0, err
	}
	if e.Usage.Dense[l] == 0 {
		return 0, nil
	}
	return e.Usage.Active[l] / e.Usage.Dense[l], nil
}
