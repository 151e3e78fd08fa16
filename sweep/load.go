package sweep

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"

	"github.com/sparsetune/sparsetune/internal/jsonfile"
	"github.com/sparsetune/sparsetune/train"
)

// Load reads every finished job of the sweep in dir into a table; jobs
// without a result are listed in Missing. With measure, latency is measured
// for jobs not yet measured (see measureLatency); without, only the
// measurements an earlier collect cached are used.
func Load(dir string, measure bool) (*Table, *Plan, error) {
	p, err := ReadPlan(dir)
	if err != nil {
		return nil, nil, err
	}
	l := &loader{p: p, t: &Table{Ratios: len(p.Ratios) > 0, Coreset: p.Base.Coreset}}
	for _, j := range p.Jobs() {
		if err := l.job(dir, j, measure); err != nil {
			return nil, nil, err
		}
	}
	t := l.t
	if l.givenDense && l.denseFromRuns != nil {
		s := l.denseFromRuns.Summary
		l.dense.Metric, l.dense.TestMetric = *s.DenseMetric, s.DenseTest
	}
	slices.SortStableFunc(t.Rows, func(a, b Row) int {
		if c := -cmpFloat(a.Target, b.Target); c != 0 {
			return c
		}
		return -cmpFloat(a.Ratio, b.Ratio)
	})
	l.placeDense()
	t.appendFrontier()
	return t, p, nil
}

// loader is Load's state while it reads the jobs of plan p into t.
type loader struct {
	p             *Plan
	t             *Table
	dense         *Row
	denseFromRuns *Result // a sparse run that evaluated the given dense model
	givenDense    bool
}

// job reads job j's result (in dir) into the table: a row, the dense point
// or a missing job, and the frontier curve when j is the frontier's run.
func (l *loader) job(dir string, j Job, measure bool) error {
	jdir := filepath.Join(dir, j.Name)
	r, err := ReadResult(jdir)
	if errors.Is(err, fs.ErrNotExist) {
		l.t.Missing = append(l.t.Missing, j)
		return nil
	}
	if err != nil {
		return err
	}
	lat, err := jobLatency(jdir, r, l.p.Base.SeqLen, measure)
	if err != nil {
		return fmt.Errorf("%s: latency: %w", j.Name, err)
	}
	if r.Summary == nil { // a given dense model: its figures come from the sparse runs
		l.dense, l.givenDense = &Row{Kind: KindDense, Job: j.Name, Ratio: 1, Compute: 1}, true
		return nil
	}
	l.t.MetricName = r.Summary.MetricName
	row := summaryRow(j, r.Summary, lat)
	switch {
	case j.Target == 0 && j.Ratio > 0:
		row.Kind = KindSubset
		l.t.Rows = append(l.t.Rows, row)
		return nil
	case j.Target == 0:
		row.Kind = KindDense
		l.dense = &row
		return nil
	}
	if r.Summary.DenseMetric != nil && l.denseFromRuns == nil {
		l.denseFromRuns = r
	}
	l.t.Rows = append(l.t.Rows, row)
	if l.p.Frontier.From == j.Target {
		return l.frontier(j, jdir)
	}
	return nil
}

// summaryRow is the retrained row of job j from its run's summary s.
func summaryRow(j Job, s *train.Summary, lat Latency) Row {
	row := Row{Kind: KindRun, Job: j.Name, Target: j.Target, Ratio: 1, Metric: s.Metric, TestMetric: s.TestMetric, Compute: 1,
		Latency: lat, Steps: s.Steps, WallS: s.WallS}
	if j.Ratio > 0 {
		row.Ratio = j.Ratio
	}
	if s.Compute != nil {
		row.Compute = *s.Compute
	}
	if s.TestCompute != nil {
		row.TestCompute = *s.TestCompute
	}
	switch {
	case s.TrainCompute != nil && s.Compute != nil: // compute is the sparse checkpoint's
		row.SparseCompute = *s.Compute
	case s.SparseCompute != nil: // a summary from before train_compute
		row.SparseCompute = *s.SparseCompute
	}
	return row
}

// frontier reads the frontier curve of job j (in jdir) into the table, or
// lists it as missing when the job has not written it yet.
func (l *loader) frontier(j Job, jdir string) error {
	curve := &FrontierCurve{}
	err := jsonfile.Read(filepath.Join(jdir, FrontierFile), curve)
	switch {
	case err == nil:
		l.t.Frontier = curve
	case !errors.Is(err, fs.ErrNotExist):
		return err
	default:
		l.t.Missing = append(l.t.Missing, Job{Index: j.Index, Name: j.Name + " frontier", Target: j.Target})
	}
	return nil
}

// placeDense gives the dense point (and the dense subsets) their latency
// and puts the dense point first, once it has figures.
func (l *loader) placeDense() {
	t, dense := l.t, l.dense
	if dense == nil {
		return
	}
	dense.Latency = denseLatency(t.Rows) // the engine runs every sparse checkpoint dense too
	for i := range t.Rows {
		if t.Rows[i].Kind == KindSubset { // dense models of the same architecture
			t.Rows[i].Latency = dense.Latency
		}
	}
	if !l.givenDense || l.denseFromRuns != nil { // a given dense model has figures once a run evaluated it
		t.Rows = append([]Row{*dense}, t.Rows...)
	}
}

// appendFrontier appends the frontier curve's points as rows.
func (t *Table) appendFrontier() {
	if t.Frontier == nil {
		return
	}
	for _, pt := range t.Frontier.Points {
		kind := KindFrontier
		if pt.AdaptSteps > 0 {
			kind = KindAdapted
		}
		t.Rows = append(t.Rows, Row{Kind: kind, Job: jobName(t.Frontier.SourceTarget), Target: pt.Target, Metric: pt.Metric,
			TestMetric: pt.TestMetric, Compute: pt.Compute, Tau: pt.Tau, AdaptSteps: pt.AdaptSteps})
	}
}
