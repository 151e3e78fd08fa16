package harden

import (
	"errors"
	"fmt"
	"math"

	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
)

// calibTol is how close to the target the measured compute of a
// calibration must come before the bisection stops: a tenth of the
// smallest budget tolerance a run is held to (0.01), so that the
// calibration error is negligible beside the spread between data sets.
const calibTol = 0.001

// CalibrateTau sets one threshold for every layer of e so that the
// measured compute on seqs is within calibTol of target, or as close as
// bisection over τ gets in 20 halvings (τ to 1e-6), and returns that
// compute. start, a guess in (0, 1) such as the threshold the model was
// trained with (0: none), is tried first and brackets the search: most
// calibrations then take a few forward passes instead of twenty.
func CalibrateTau(e *infer.Engine, seqs [][]int, target, start float64) (float64, error) {
	return bisect(func(tau float64) (float64, error) {
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

// bisect finds the τ in (0, 1) at which measure (a compute that falls as τ
// rises) comes within calibTol of target, or the closest of 20 halvings;
// it leaves measure's last call at that τ and returns its value. start, in
// (0, 1), is tried first with start ± 0.02 (0: none).
func bisect(measure func(tau float64) (float64, error), target, start float64) (float64, error) {
	lo, hi := 0.0, 1.0 // compute falls as τ rises
	best, bestGap := 0.5, math.Inf(1)
	try := func(tau float64) (bool, error) {
		c, err := measure(tau)
		if err != nil {
			return false, err
		}
		if gap := math.Abs(c - target); gap < bestGap {
			best, bestGap = tau, gap
		}
		if c > target {
			lo = max(lo, tau)
		} else {
			hi = min(hi, tau)
		}
		return bestGap < calibTol, nil
	}
	if start > 0 && start < 1 {
		for _, tau := range []float64{start, start - 0.02, start + 0.02} {
			if tau <= lo || tau >= hi {
				continue
			}
			if done, err := try(tau); err != nil || done {
				c, err2 := measure(best)
				return c, errors.Join(err, err2)
			}
		}
	}
	for range 20 {
		if done, err := try((lo + hi) / 2); err != nil {
			return 0, err
		} else if done {
			break
		}
	}
	return measure(best)
}

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
		if _, err := bisect(func(t float64) (float64, error) {
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

// Refit calibrates the one τ that layers share again (bisection from
// their current τ, the first's) so that e's compute on seqs is target,
// leaving the other layers' τ as they are. It returns that compute; with
// no layers it only measures.
func Refit(e *infer.Engine, seqs [][]int, target float64, layers []int) (float64, error) {
	if len(layers) == 0 {
		return e.MeasureCompute(seqs)
	}
	return bisect(func(t float64) (float64, error) {
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
