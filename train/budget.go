package train

import "math"

// budget decides which evaluations of a sparse run compete for the best
// checkpoint: one whose measured hard-mask compute is within tol of the
// target is on budget, and an on-budget evaluation always beats an
// off-budget one. Among on-budget evaluations the metric decides; while
// none has been on budget, the evaluation closest to the target is kept
// (then the better metric), so a run that never meets its budget still
// delivers its cheapest-to-fix checkpoint and says so (Summary.BudgetMet).
// A dense run has no budget (nil): the metric alone decides.
type budget struct {
	target, tol float64
}

// newBudget is the run's budget, nil for a dense run.
func newBudget(cfg *Config) *budget {
	if cfg.Target == 0 {
		return nil
	}
	return &budget{target: cfg.Target, tol: cfg.BudgetTol}
}

// met reports whether compute is within the tolerance of the target.
func (b *budget) met(compute float64) bool {
	return b == nil || math.Abs(compute-b.target) <= b.tol
}

// improves reports whether an evaluation with metric and compute should
// replace the best one recorded in st. The best's on-budget status is
// derived from st.BestCompute, so a resumed run (budget_tol cannot change
// on resume) and an older trainer_state.json carry on exactly.
func (b *budget) improves(metric, compute float64, st *State, lower bool) bool {
	if st.BestStep < 0 {
		return true
	}
	if b == nil {
		return better(metric, st.BestMetric, lower)
	}
	now, was := b.met(compute), b.met(st.BestCompute)
	switch {
	case now && was:
		return better(metric, st.BestMetric, lower)
	case now != was:
		return now
	}
	d, bd := math.Abs(compute-b.target), math.Abs(st.BestCompute-b.target)
	if d != bd {
		return d < bd
	}
	return better(metric, st.BestMetric, lower)
}
