package harden

import (
	"errors"
	"math"

	"github.com/sparsetune/sparsetune/infer"
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
