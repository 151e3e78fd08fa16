package sweep

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/train"
)

// TestSweepRunsResumesAndCollects runs a two-target sweep two jobs at a
// time, checks the table and plots, then interrupts one run (its latest
// checkpoint rewound, its result gone, as a kill leaves it) and runs the
// sweep again: only that run is redone, from its checkpoint, and the table
// comes out the same.
func TestSweepRunsResumesAndCollects(t *testing.T) {
	p := tinyPlan(t)
	dir := filepath.Join(t.TempDir(), "sweep")
	must(t, WritePlan(dir, p))
	var log strings.Builder
	must(t, Run(dir, p, 2, &log))
	tab, err := Collect(dir, true)
	must(t, err)

	rows, err := csv.NewReader(strings.NewReader(read(t, filepath.Join(dir, ResultsCSV)))).ReadAll()
	must(t, err)
	kinds := []string{}
	for _, r := range rows[1:] {
		kinds = append(kinds, r[0]+" "+r[2])
	}
	want := "dense 0.00,retrained 0.70,retrained 0.50,frontier 0.30,frontier-adapted 0.30,frontier 0.50,frontier-adapted 0.50,frontier 0.70,frontier-adapted 0.70"
	if got := strings.Join(kinds, ","); got != want {
		t.Fatalf("results.csv rows:\n%s\nwant\n%s", got, want)
	}
	if rows[0][3] != "valid_accuracy" || rows[1][6] != "1.000000" {
		t.Fatalf("header %v, dense row %v", rows[0], rows[1])
	}
	for _, r := range tab.Of(KindRun) {
		if r.Compute >= 1 || r.Compute <= 0 || r.TestMetric == nil {
			t.Errorf("%s: compute %g, test %v", r.Job, r.Compute, r.TestMetric)
		}
	}
	md := read(t, filepath.Join(dir, ResultsMarkdown))
	for _, s := range []string{"| dense | dense |", "| 1.00× |", "| target-0.50 | 0.50 |", "What the shortcut costs", "Frontier from the routers of target-0.50"} {
		if !strings.Contains(md, s) {
			t.Errorf("results.md lacks %q:\n%s", s, md)
		}
	}
	for _, r := range tab.Rows[:3] {
		if !r.Latency.Measured || r.Latency.ScoreMS <= 0 || r.Latency.ScoreSpeedup <= 0 {
			t.Errorf("%s: latency %+v", r.Job, r.Latency)
		}
	}
	checkPNG(t, filepath.Join(dir, ComputePlot))
	checkPNG(t, filepath.Join(dir, LatencyPlot))
	if !strings.Contains(log.String(), "[target-0.70] ") || !strings.Contains(log.String(), "[dense] ") {
		t.Fatalf("the sweep log does not name its jobs:\n%.2000s", log.String())
	}

	// Interrupt target-0.70: back to its step-18 checkpoint, no result.
	run := filepath.Join(dir, "target-0.70")
	must(t, os.Remove(filepath.Join(run, ResultFile)))
	must(t, checkpoints.SetLatest(run, "checkpoint-18"))
	csvBefore := read(t, filepath.Join(dir, ResultsCSV))
	log.Reset()
	must(t, Run(dir, p, 1, &log))
	_, err = Collect(dir, true)
	must(t, err)
	out := log.String()
	for _, s := range []string{"[dense] finished earlier; skipped", "[target-0.50] finished earlier; skipped", "[target-0.50] frontier finished earlier; skipped",
		"[target-0.70] interrupted earlier; resuming", "[target-0.70] resume: continuing from " + filepath.Join(run, "checkpoint-18") + " at step 18"} {
		if !strings.Contains(out, s) {
			t.Errorf("second run's log lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "step      1/24") {
		t.Errorf("the second run trained from step 1:\n%s", out)
	}
	if after := read(t, filepath.Join(dir, ResultsCSV)); after != csvBefore {
		t.Errorf("the resumed sweep's table differs:\n%s\nbefore:\n%s", after, csvBefore)
	}
}

// TestCollectNamesMissingJobs: collecting an unfinished sweep is an error
// that names the indices still to run.
func TestCollectNamesMissingJobs(t *testing.T) {
	p := tinyPlan(t)
	p.Frontier = FrontierPlan{}
	dir := filepath.Join(t.TempDir(), "sweep")
	must(t, WritePlan(dir, p))
	must(t, RunJob(dir, p, 2, &strings.Builder{}))
	_, err := Collect(dir, true)
	if err == nil || !strings.Contains(err.Error(), "index 0 (dense), 1 (target-0.70)") {
		t.Fatalf("collect of a partial sweep: %v", err)
	}
	if err := RunJob(dir, p, 3, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), "jobs 0 to 2") {
		t.Fatalf("index 3 of a three-job sweep: %v", err)
	}
}

// TestDenseReferenceIsTheDensePoint: with a given dense model the sweep
// trains no dense run; the dense row holds what the sparse runs measured for
// that model.
func TestDenseReferenceIsTheDensePoint(t *testing.T) {
	p := tinyPlan(t)
	p.Frontier, p.Targets = FrontierPlan{}, []float64{0.5}
	dir := t.TempDir()
	dense := filepath.Join(dir, "dense-first")
	must(t, WritePlan(dense, p))
	must(t, RunJob(dense, p, 0, &strings.Builder{}))
	first, err := ReadResult(filepath.Join(dense, "dense"))
	must(t, err)

	p.DenseRef = first.Summary.Checkpoint
	sw := filepath.Join(dir, "sweep")
	must(t, WritePlan(sw, p))
	must(t, Run(sw, p, 1, &strings.Builder{}))
	tab, err := Collect(sw, true)
	must(t, err)
	if _, err := os.Stat(filepath.Join(sw, "dense", "metrics.jsonl")); err == nil {
		t.Fatal("a dense run was trained although a dense model was given")
	}
	d := tab.Dense()
	if d == nil || d.Metric != first.Summary.Metric || *d.TestMetric != *first.Summary.TestMetric {
		t.Fatalf("dense row %+v; the dense run measured %v / %v", d, first.Summary.Metric, *first.Summary.TestMetric)
	}
}

// TestMeasuredLatencyReachesTheTable: collect measures each sparse
// checkpoint once (latency.json caches it), the dense row takes the engine's
// dense timings, and the table and the latency plot show them.
func TestMeasuredLatencyReachesTheTable(t *testing.T) {
	p := tinyPlan(t)
	p.Frontier, p.Targets = FrontierPlan{}, []float64{0.5}
	dir := filepath.Join(t.TempDir(), "sweep")
	must(t, WritePlan(dir, p))
	must(t, Run(dir, p, 1, &strings.Builder{}))
	calls := 0
	defer func(f func(string, int) (Latency, error)) { measureLatency = f }(measureLatency)
	measureLatency = func(ckpt string, seqLen int) (Latency, error) {
		if filepath.Base(ckpt) != "sparse" {
			return Latency{Note: "not measured: not a sparse checkpoint"}, nil
		}
		if seqLen != 32 {
			t.Errorf("measured at seq_len %d, the sweep's is 32", seqLen)
		}
		calls++
		return Latency{Measured: true, ScoreMS: 1.25, DenseScoreMS: 2, ScoreSpeedup: 1.6}, nil
	}
	tab, err := Collect(dir, true)
	must(t, err)
	if _, err := Collect(dir, true); err != nil || calls != 1 {
		t.Fatalf("%d measurements of one sparse checkpoint over two collects (%v); want one, then the cached latency.json", calls, err)
	}
	md := string(tab.Markdown())
	for _, s := range []string{"| 2.00 | 1.00× |", "| 1.25 | 1.60× |"} {
		if !strings.Contains(md, s) {
			t.Errorf("results.md lacks %q:\n%s", s, md)
		}
	}
	if csv := read(t, filepath.Join(dir, ResultsCSV)); !strings.Contains(csv, ",1.250,1.600,,") || !strings.Contains(csv, ",2.000,1.000,,") {
		t.Fatalf("results.csv lacks the measured latency:\n%s", csv)
	}
	checkPNG(t, filepath.Join(dir, LatencyPlot))
}

// TestTablesShowTestCompute: a retrained run's summary gives its sparse
// checkpoint's compute on test, and the tables show it beside the valid
// compute (results.md's test compute column, results.csv's test_compute).
func TestTablesShowTestCompute(t *testing.T) {
	valid, test, acc := 0.4992, 0.5074, 0.97
	s := &train.Summary{Metric: acc, TestMetric: &acc, Compute: &valid, TestCompute: &test, TrainCompute: &valid}
	row := summaryRow(Job{Name: "target-0.50", Target: 0.5}, s, Latency{})
	if row.TestCompute != test || row.SparseCompute != valid {
		t.Fatalf("row %+v: want test compute %g and sparse checkpoint compute %g", row, test, valid)
	}
	tab := &Table{MetricName: "accuracy", Rows: []Row{row}}
	if md := string(tab.Markdown()); !strings.Contains(md, "| 0.4992 | 0.4992 | 0.5074 | not measured |") {
		t.Errorf("results.md lacks the test compute:\n%s", md)
	}
	if csv := string(tab.CSV()); !strings.HasSuffix(strings.TrimSpace(csv), ",0.507400") {
		t.Errorf("results.csv does not end its row with test_compute:\n%s", csv)
	}
}
