package sweep

import (
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/router"
	"github.com/sparsetune/sparsetune/train"
)

// frontierRun trains the small sparse run the frontier tests start from.
// With test, the run also has test data (its training file); kind is the
// router kind ("" for the default).
func frontierRun(t *testing.T, test bool, kind ...string) (train.Config, *train.Summary) {
	t.Helper()
	c := tinyPlan(t).Base.Config
	c.Target, c.OutDir, c.Test = 0.5, filepath.Join(t.TempDir(), "run"), ""
	if test {
		c.Test = c.Train
	}
	if len(kind) > 0 {
		c.Router = router.Kind(kind[0])
	}
	sum, err := train.Run(c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return c, sum
}

// TestFrontierReloadsTheRunExactly: at the run's own τ, the reloaded
// checkpoint (weights, FFN grouping and routers) measures exactly the
// validation metric and compute the run recorded for its best checkpoint.
func TestFrontierReloadsTheRunExactly(t *testing.T) {
	c, sum := frontierRun(t, false)
	f, curve, err := loadFrontier(FrontierConfig{Run: c.OutDir}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if curve.SourceTarget != 0.5 || curve.SourceTau <= 0 {
		t.Fatalf("source target %g, τ %g", curve.SourceTarget, curve.SourceTau)
	}
	f.run.SetTau(curve.SourceTau)
	m, _, err := f.run.EvaluateHard(f.run.Data.Valid, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Main() != *sum.TrainMetric || m.Compute != *sum.TrainCompute { // the training graph's figures
		t.Fatalf("reloaded at τ %.4f: %s %.6f compute %.6f; the run measured %.6f and %.6f",
			curve.SourceTau, sum.MetricName, m.Main(), m.Compute, *sum.TrainMetric, *sum.TrainCompute)
	}
}

// TestFrontierPostHocIsNested: with the weights fixed, a higher target only
// lowers τ; in a one-layer model the routers read the embeddings, which no
// mask changes, so every token keeps a superset of its units and the
// measured compute cannot fall. With contextual routers (calibrated on the
// engine) each point lands near its target; static ones switch whole units
// for every token (here six of them), so only the order is checked.
func TestFrontierPostHocIsNested(t *testing.T) {
	for _, kind := range []string{"sigmoid", "static"} {
		t.Run(kind, func(t *testing.T) { testFrontierNested(t, kind) })
	}
}

func testFrontierNested(t *testing.T, kind string) {
	c, _ := frontierRun(t, false, kind)
	curve, err := Frontier(FrontierConfig{Run: c.OutDir, Targets: []float64{0.3, 0.5, 0.7, 0.9}}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(curve.Points) != 4 {
		t.Fatalf("%d points, want 4", len(curve.Points))
	}
	for i, p := range curve.Points {
		t.Logf("target %.2f: τ %.4f compute %.4f %s %.4f", p.Target, p.Tau, p.Compute, curve.MetricName, p.Metric)
		if p.AdaptSteps != 0 || p.TestMetric != nil {
			t.Errorf("target %.2f: adapt steps %d, test %v; want a post hoc point without test data", p.Target, p.AdaptSteps, p.TestMetric)
		}
		if d := p.Compute - p.Target; kind != "static" && (d > 0.1 || d < -0.1) {
			t.Errorf("target %.2f: measured compute %.4f", p.Target, p.Compute)
		}
		if i > 0 {
			q := curve.Points[i-1]
			if p.Tau > q.Tau || p.Compute < q.Compute {
				t.Errorf("target %.2f after %.2f: τ %.4f → %.4f, compute %.4f → %.4f; want τ down, compute up", q.Target, p.Target, q.Tau, p.Tau, q.Compute, p.Compute)
			}
		}
	}
}

// TestFrontierCalibratesAsTheHardening: the frontier calibrates each point
// on the sequences the run's sparse checkpoint was calibrated on (the
// valid split by default, up to harden.DefaultSequences of them), as its
// manifest records them: so many sequences, so many tokens, each one of
// the valid split's.
func TestFrontierCalibratesAsTheHardening(t *testing.T) {
	c, sum := frontierRun(t, false)
	f, _, err := loadFrontier(FrontierConfig{Run: c.OutDir}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := checkpoints.ReadSparse(sum.SparseCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	valid := map[*int]bool{}
	for _, s := range f.run.Data.Valid.Seqs {
		valid[&s[0]] = true
	}
	tokens := 0
	for _, s := range f.calib {
		tokens += len(s)
		if !valid[&s[0]] {
			t.Fatalf("a calibration sequence of %d tokens is not one of the valid split's", len(s))
		}
	}
	if cal := sp.Manifest.Calibration; len(f.calib) != cal.Sequences || tokens != cal.Tokens {
		t.Fatalf("frontier calibrates on %d sequences, %d tokens; the sparse checkpoint on %d, %d (%s)", len(f.calib), tokens, cal.Sequences, cal.Tokens, cal.Source)
	}
}

// TestFrontierPointsAreIndependent: adaptation changes the weights, and
// every point starts again from the checkpoint, so a point does not depend
// on the points computed before it.
func TestFrontierPointsAreIndependent(t *testing.T) {
	c, _ := frontierRun(t, true)
	both, err := Frontier(FrontierConfig{Run: c.OutDir, Targets: []float64{0.3, 0.7}, AdaptSteps: 3}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	alone, err := Frontier(FrontierConfig{Run: c.OutDir, Targets: []float64{0.7}, AdaptSteps: 3}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(both.Points) != 4 || len(alone.Points) != 2 {
		t.Fatalf("%d and %d points, want 4 and 2", len(both.Points), len(alone.Points))
	}
	if both.Points[1].AdaptSteps != 3 || both.Points[0].AdaptSteps != 0 {
		t.Fatalf("points: %+v", both.Points)
	}
	for _, p := range both.Points {
		if p.TestMetric == nil {
			t.Fatalf("target %.2f: no test metric though the run had test data", p.Target)
		}
	}
	for i := range alone.Points {
		a, b := alone.Points[i], both.Points[2+i]
		if a.Tau != b.Tau || a.Metric != b.Metric || a.Compute != b.Compute {
			t.Errorf("target 0.7 (%d adaptation steps) alone: %+v, after target 0.3: %+v", a.AdaptSteps, a, b)
		}
	}
}

// TestFrontierAdaptationTrains: the stage-2 adaptation moves the model's
// weights and leaves the routers alone.
func TestFrontierAdaptationTrains(t *testing.T) {
	c, _ := frontierRun(t, false)
	f, _, err := loadFrontier(FrontierConfig{Run: c.OutDir, Targets: []float64{0.5}}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	routers := f.run.Routers()
	before := make([][]float32, len(routers))
	for i, r := range routers {
		before[i] = append([]float32(nil), r.Value.Data().([]float32)...)
	}
	if _, err := f.calibrate(0.5); err != nil {
		t.Fatal(err)
	}
	if _, err := f.run.Adapt(3); err != nil {
		t.Fatal(err)
	}
	moved := 0
	for i, p := range f.run.Model.Params.List {
		w, s := p.Value.Data().([]float32), f.saved.List[i].Value.Data().([]float32)
		for j := range w {
			if w[j] != s[j] {
				moved++
				break
			}
		}
	}
	if moved == 0 {
		t.Fatal("three adaptation steps left every weight where it was")
	}
	for i, r := range f.run.Routers() {
		for j, v := range r.Value.Data().([]float32) {
			if v != before[i][j] {
				t.Fatalf("router tensor %s changed during adaptation", r.Name)
			}
		}
	}
}

// TestFrontierErrors: what cannot give a frontier is refused with a line
// that names the problem.
func TestFrontierErrors(t *testing.T) {
	c, _ := frontierRun(t, false)
	dir := t.TempDir()
	dense := c
	dense.Target, dense.OutDir = 0, filepath.Join(dir, "dense")
	if _, err := train.Run(dense, io.Discard); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		fc   FrontierConfig
		want string
	}{
		"missing run":       {FrontierConfig{Run: filepath.Join(dir, "nothing"), Targets: []float64{0.5}}, "neither a finished run"},
		"dense run":         {FrontierConfig{Run: dense.OutDir, Targets: []float64{0.5}}, "router.safetensors"},
		"target too low":    {FrontierConfig{Run: c.OutDir, Targets: []float64{0.001}}, "outside"},
		"target above one":  {FrontierConfig{Run: c.OutDir, Targets: []float64{1.5}}, "outside"},
		"negative adapting": {FrontierConfig{Run: c.OutDir, Targets: []float64{0.5}, AdaptSteps: -1}, "adapt steps"},
	} {
		_, err := Frontier(tc.fc, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error mentioning %q", name, err, tc.want)
		}
	}
}
