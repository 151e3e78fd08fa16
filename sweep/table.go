package sweep

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Row kinds.
const (
	KindDense    = "dense"
	KindRun      = "retrained"        // a run trained for its target
	KindFrontier = "frontier"         // the frontier run's routers, τ recalibrated post hoc
	KindAdapted  = "frontier-adapted" // and then a short stage-2 adaptation
	// KindSubset is a dense run on a coreset subset at its ratio (a sweep
	// with ratios and no targets).
	KindSubset = "dense-subset"
)

// Row is one point of the quality/compute frontier.
type Row struct {
	Kind       string
	Job        string   // the job directory (for frontier points, the source run's)
	Target     float64  // compute target; 0 for the dense point
	Ratio      float64  // fraction of the training data the run trained on (its coreset ratio); 1: all of it
	Metric     float64  // metric on valid
	TestMetric *float64 // metric on test, when the runs have test data
	Compute    float64  // measured compute on valid (retrained runs: their summary's compute); 1 for the dense point
	Tau        float64  // frontier points: the calibrated threshold
	AdaptSteps int      // frontier points: stage-2 adaptation steps
	Latency    Latency  // dense and retrained points
	// SparseCompute is the compute of the hardened sparse checkpoint
	// (retrained points), as the engine measured it on valid.
	SparseCompute float64
	// TestCompute is the sparse checkpoint's compute on test, measured by
	// the engine (retrained points of runs with test data); 0 when absent.
	TestCompute float64
	Steps       int     // training steps of the run
	WallS       float64 // training wall time
}

// Quality is the row's metric on test, else on valid.
func (r Row) Quality() float64 {
	if r.TestMetric != nil {
		return *r.TestMetric
	}
	return r.Metric
}

// Table is a sweep's results: the dense point, the retrained runs (by
// target, highest first) and the frontier points, with the jobs that have
// not finished.
type Table struct {
	MetricName string
	Rows       []Row
	Frontier   *FrontierCurve // nil when the plan has none or it has not run
	Missing    []Job
	// Ratios is set for a sweep with data ratios: its tables have a ratio
	// column, and RatioPlot draws quality against the ratio. Coreset is
	// the method that chose the subsets.
	Ratios  bool
	Coreset string
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Dense is the dense point, or nil.
func (t *Table) Dense() *Row { return t.first(KindDense) }

func (t *Table) first(kind string) *Row {
	for i := range t.Rows {
		if t.Rows[i].Kind == kind {
			return &t.Rows[i]
		}
	}
	return nil
}

// Of returns the rows of the kind, in table order.
func (t *Table) Of(kind string) []Row {
	var out []Row
	for _, r := range t.Rows {
		if r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

// hasTest reports whether every row has a test metric.
func (t *Table) hasTest() bool {
	for _, r := range t.Rows {
		if r.TestMetric == nil {
			return false
		}
	}
	return len(t.Rows) > 0
}

// CSV renders every row, one line each, with the metrics as fractions
// (accuracy) or values (perplexity) and empty cells for what was not
// measured.
func (t *Table) CSV() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	m := t.MetricName
	header := []string{"kind", "job", "target", "valid_" + m, "test_" + m, "test_delta_vs_dense", "compute", "tau", "adapt_steps",
		"sparse_checkpoint_compute", "score_ms", "score_speedup", "decode_ms", "decode_speedup", "test_compute"}
	w.Write(t.withRatio(header, "ratio"))
	dense := t.Dense()
	for _, r := range t.Rows {
		rec := []string{r.Kind, r.Job, num(r.Target, 2), num(r.Metric, 6), optNum(r.TestMetric, 6), "", num(r.Compute, 6), "", "", optZero(r.SparseCompute, 6), "", "", "", "", optZero(r.TestCompute, 6)}
		if dense != nil && dense.TestMetric != nil && r.TestMetric != nil {
			rec[5] = num(*r.TestMetric-*dense.TestMetric, 6)
		}
		if r.Kind == KindFrontier || r.Kind == KindAdapted {
			rec[7], rec[8] = num(r.Tau, 6), strconv.Itoa(r.AdaptSteps)
		}
		if l := r.Latency; l.Measured {
			rec[10], rec[11], rec[12], rec[13] = num(l.ScoreMS, 3), num(l.ScoreSpeedup, 3), optZero(l.DecodeMS, 4), optZero(l.DecodeSpeedup, 3)
		}
		w.Write(t.withRatio(rec, optZero(r.Ratio, 2)))
	}
	w.Flush()
	return b.Bytes()
}

// withRatio inserts the ratio cell after the target's when the sweep has
// ratios; a sweep without them keeps its columns.
func (t *Table) withRatio(rec []string, ratio string) []string {
	if !t.Ratios {
		return rec
	}
	return slices.Concat(rec[:3], []string{ratio}, rec[3:])
}

func num(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }

func optNum(v *float64, prec int) string {
	if v == nil {
		return ""
	}
	return num(*v, prec)
}

func optZero(v float64, prec int) string {
	if v == 0 {
		return ""
	}
	return num(v, prec)
}

// fmtMetric shows accuracy in percent and perplexity as it is.
func (t *Table) fmtMetric(v float64) string {
	if t.MetricName == "accuracy" {
		return fmt.Sprintf("%.2f", 100*v)
	}
	return fmt.Sprintf("%.3f", v)
}

func (t *Table) fmtOptMetric(v *float64) string {
	if v == nil {
		return "—"
	}
	return t.fmtMetric(*v)
}

// fmtDelta is a - b in accuracy points or perplexity.
func (t *Table) fmtDelta(a, b *float64) string {
	if a == nil || b == nil {
		return "—"
	}
	d := *a - *b
	if t.MetricName == "accuracy" {
		d *= 100
	}
	return fmt.Sprintf("%+.2f", d)
}

func (t *Table) metricHeader() string {
	if t.MetricName == "accuracy" {
		return "accuracy (%)"
	}
	return t.MetricName
}

// Markdown renders the results table, and the frontier and its comparison
// with the retrained runs when there is a frontier.
func (t *Table) Markdown() []byte {
	var b bytes.Buffer
	mh := t.metricHeader()
	dense := t.Dense()
	var denseTest *float64
	if dense != nil {
		denseTest = dense.TestMetric
	}
	ratioHead, ratioRule := "", ""
	if t.Ratios {
		ratioHead, ratioRule = " data ratio |", "---:|"
	}
	fmt.Fprintf(&b, "| run | target |%s valid %s | test %s | Δ test vs dense | measured compute | sparse checkpoint compute | test compute | scoring latency (ms) | speedup |\n", ratioHead, mh, mh)
	fmt.Fprintf(&b, "|---|---:|%s---:|---:|---:|---:|---:|---:|---:|---:|\n", ratioRule)
	for _, r := range t.Rows {
		if r.Kind != KindDense && r.Kind != KindRun && r.Kind != KindSubset {
			continue
		}
		target := num(r.Target, 2)
		if r.Kind == KindDense || r.Kind == KindSubset {
			target = "dense"
		}
		if t.Ratios {
			target += " | " + num(r.Ratio, 2)
		}
		lat, speed := "not measured", "—"
		if r.Latency.Measured {
			lat, speed = fmt.Sprintf("%.2f", r.Latency.ScoreMS), fmt.Sprintf("%.2f×", r.Latency.ScoreSpeedup)
		}
		spc := "—"
		if r.SparseCompute > 0 {
			spc = fmt.Sprintf("%.4f", r.SparseCompute)
		}
		tc := "—"
		if r.TestCompute > 0 {
			tc = fmt.Sprintf("%.4f", r.TestCompute)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.4f | %s | %s | %s | %s |\n", r.Job, target, t.fmtMetric(r.Metric), t.fmtOptMetric(r.TestMetric),
			t.fmtDelta(r.TestMetric, denseTest), r.Compute, spc, tc, lat, speed)
	}
	if t.Frontier != nil {
		b.WriteString("\n")
		b.Write(t.frontierMarkdown())
	}
	if len(t.Missing) > 0 {
		var names []string
		for _, j := range t.Missing {
			names = append(names, fmt.Sprintf("%s (index %d)", j.Name, j.Index))
		}
		fmt.Fprintf(&b, "\nNot finished: %s.\n", strings.Join(names, ", "))
	}
	return b.Bytes()
}

// frontierMarkdown is the frontier's own table and, at each retrained
// target the frontier also has, the three ways of reaching it side by side.
func (t *Table) frontierMarkdown() []byte {
	var b bytes.Buffer
	mh := t.metricHeader()
	f := t.Frontier
	fmt.Fprintf(&b, "Frontier from the routers of %s (trained for %.2f, τ %.4f), thresholds recalibrated per target:\n\n", jobName(f.SourceTarget), f.SourceTarget, f.SourceTau)
	fmt.Fprintf(&b, "| target | adaptation steps | τ | valid %s | test %s | measured compute |\n", mh, mh)
	b.WriteString("|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range t.Rows {
		if r.Kind == KindFrontier || r.Kind == KindAdapted {
			fmt.Fprintf(&b, "| %.2f | %d | %.4f | %s | %s | %.4f |\n", r.Target, r.AdaptSteps, r.Tau, t.fmtMetric(r.Metric), t.fmtOptMetric(r.TestMetric), r.Compute)
		}
	}
	cmp := t.Shortcut()
	if len(cmp) == 0 {
		return b.Bytes()
	}
	q := "test"
	if !t.hasTest() {
		q = "valid"
	}
	fmt.Fprintf(&b, "\nWhat the shortcut costs (%s %s; Δ against the retrained run):\n\n", q, mh)
	b.WriteString("| target | retrained | compute | frontier | compute | Δ | adapted | compute | Δ |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range cmp {
		fmt.Fprintf(&b, "| %.2f | %s | %.4f | %s | %.4f | %s |", c.Target, t.fmtMetric(c.Run.Quality()), c.Run.Compute,
			t.fmtMetric(c.PostHoc.Quality()), c.PostHoc.Compute, t.fmtDelta(ptr(c.PostHoc.Quality()), ptr(c.Run.Quality())))
		if c.Adapted != nil {
			fmt.Fprintf(&b, " %s | %.4f | %s |\n", t.fmtMetric(c.Adapted.Quality()), c.Adapted.Compute, t.fmtDelta(ptr(c.Adapted.Quality()), ptr(c.Run.Quality())))
		} else {
			b.WriteString(" — | — | — |\n")
		}
	}
	return b.Bytes()
}

func ptr(v float64) *float64 { return &v }

// Comparison sets a retrained run beside the frontier's points for the same
// target.
type Comparison struct {
	Target       float64
	Run, PostHoc Row
	Adapted      *Row    // nil without adaptation
	PostHocDelta float64 // PostHoc.Quality() − Run.Quality()
	AdaptedDelta float64 // Adapted.Quality() − Run.Quality()
}

// Shortcut compares, at every retrained target that the frontier also has,
// the retrained run with the frontier's post hoc and adapted points.
func (t *Table) Shortcut() []Comparison {
	var out []Comparison
	for _, run := range t.Of(KindRun) {
		c := Comparison{Target: run.Target, Run: run}
		found := false
		for _, r := range t.Rows {
			if math.Abs(r.Target-run.Target) > 1e-9 {
				continue
			}
			switch r.Kind {
			case KindFrontier:
				c.PostHoc, found = r, true
			case KindAdapted:
				a := r
				c.Adapted = &a
			}
		}
		if !found {
			continue
		}
		c.PostHocDelta = c.PostHoc.Quality() - run.Quality()
		if c.Adapted != nil {
			c.AdaptedDelta = c.Adapted.Quality() - run.Quality()
		}
		out = append(out, c)
	}
	return out
}
