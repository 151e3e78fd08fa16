package train

import (
	"fmt"
	"path/filepath"
)

// finish delivers the run: the summary of its best checkpoint, tested once
// on the test data; a sparse run's best checkpoint hardened into the
// engine's sparse checkpoint (harden.go), whose metric and compute the
// engine measures on valid and test (evaluate.go); and the dense
// reference's metrics beside them. WallS and TokensPerS are the caller's.
func (r *run) finish() (*Summary, error) {
	c, st := &r.cfg, r.st
	sum := &Summary{RunDir: c.OutDir, Checkpoint: filepath.Join(c.OutDir, "best"), MetricName: metricName(r.lower),
		Metric: st.BestMetric, Steps: st.Step, StoppedEarly: r.stoppedEarly}
	if r.sp != nil {
		met := r.bud.met(st.BestCompute)
		target := c.Target
		sum.Target, sum.TrainBudgetMet = &target, &met
		sum.TrainMetric, sum.TrainCompute = &st.BestMetric, &st.BestCompute
		if !met {
			fmt.Fprintf(r.log, "training graph: no evaluation's compute was within %g of target %.2f; best is the closest, step %d at compute %.4f (hardening calibrates the delivered checkpoint)\n",
				c.BudgetTol, c.Target, st.BestStep, st.BestCompute)
		}
	}
	if r.ds.Test != nil {
		if err := r.test(sum); err != nil {
			return nil, err
		}
	}
	if r.sp != nil {
		if err := loadCheckpointWeights(sum.Checkpoint, r.model, r.sp); err != nil {
			return nil, err
		}
		hr, err := hardenRun(c, r.model, r.sp, r.ds, r.tok, r.log)
		if err != nil {
			return nil, err
		}
		sum.SparseCheckpoint = hr.SparseCheckpoint
		if err := evaluateDelivered(c, r.ds, sum, r.log); err != nil {
			return nil, err
		}
		met := sum.Compute != nil && r.bud.met(*sum.Compute)
		sum.BudgetMet = &met
		if !met {
			fmt.Fprintf(r.log, "budget not met: the sparse checkpoint's compute on valid is not within %g of target %.2f\n", c.BudgetTol, c.Target)
		}
	}
	if c.DenseRef != "" {
		if err := evaluateDenseRef(c, r.ds, r.tok, sum, r.log); err != nil {
			return nil, err
		}
	}
	return sum, nil
}

// test scores the best checkpoint on the test data, once: the summary's
// test metric of a dense run, the training graph's of a sparse one (whose
// test_metric is the sparse checkpoint's, measured by the engine).
func (r *run) test(sum *Summary) error {
	if err := loadCheckpointWeights(sum.Checkpoint, r.model, r.sp); err != nil {
		return err
	}
	m, err := r.ev.Evaluate(r.ds.Test, r.model.Config, r.tok, 0)
	if err != nil {
		return err
	}
	fmt.Fprintf(r.log, "test  (best, step %d) | %s\n", r.st.BestStep, m)
	r.metrics.write(m.Record(r.st.BestStep, "test"))
	v := m.Main()
	if r.sp != nil {
		sum.TrainTestMetric = &v
	} else {
		sum.TestMetric = &v
	}
	return nil
}
