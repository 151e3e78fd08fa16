package sweep

import (
	"bytes"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// ratioPlan is a sweep of the tiny model over data ratios only, the
// subsets chosen by method.
func ratioPlan(t testing.TB, method string, ratios ...float64) *Plan {
	t.Helper()
	p := tinyPlan(t)
	p.Targets, p.Frontier, p.Ratios = nil, FrontierPlan{}, ratios
	p.Base.Valid, p.Base.Coreset = p.Base.Train, method // coreset runs need a valid file
	must(t, p.Validate())
	return p
}

// TestRatioPlanValidate: every way a ratio sweep cannot run is refused with
// one line that names the setting and what to do.
func TestRatioPlanValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(*Plan)
		want string
	}{
		"neither":               {func(p *Plan) { p.Targets, p.Ratios = nil, nil }, "at least one compute target"},
		"ratio above one":       {func(p *Plan) { p.Ratios = []float64{0.5, 1.5} }, "ratios: 1.5 is not in (0, 1]"},
		"ratio zero":            {func(p *Plan) { p.Ratios = []float64{0} }, "ratios: 0 is not in (0, 1]"},
		"same ratio twice":      {func(p *Plan) { p.Ratios = []float64{0.3, 0.301} }, "ratios: 0.301 appears twice"},
		"no method":             {func(p *Plan) { p.Base.Coreset = "" }, "--coreset ccs, elfs, random, hardest or easiest"},
		"method without ratios": {func(p *Plan) { p.Ratios = nil; p.Targets = []float64{0.5} }, "give --ratios"},
		"base coreset ratio":    {func(p *Plan) { p.Base.CoresetRatio = 0.2 }, "leave coreset_ratio unset"},
		"unknown method":        {func(p *Plan) { p.Base.Coreset = "best" }, "ratio-0.50: method \"best\""},
		"frontier": {func(p *Plan) {
			p.Targets, p.Frontier = []float64{0.5}, FrontierPlan{From: 0.5, Targets: []float64{0.5}}
		}, "no one-run frontier"},
		"dense reference": {func(p *Plan) { p.Base.Coreset, p.DenseRef = "ccs", "/models/dense" }, "give --coreset-dynamics"},
		"no valid file":   {func(p *Plan) { p.Base.Valid = "" }, "ratio-0.50: coreset: give a valid file"},
	} {
		p := ratioPlan(t, "random", 0.5)
		tc.edit(p)
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line mentioning %q", name, err, tc.want)
		}
	}
	// A random or elfs sweep with a dense reference records nothing, and a
	// given dynamics table replaces the dense job's.
	for _, edit := range []func(*Plan){
		func(p *Plan) { p.DenseRef = "/models/dense" },
		func(p *Plan) { p.Base.Coreset, p.DenseRef = "elfs", "/models/dense" },
		func(p *Plan) {
			p.Base.Coreset, p.Base.CoresetDynamics, p.DenseRef = "ccs", "/runs/dyn", "/models/dense"
		},
	} {
		p := ratioPlan(t, "random", 0.5)
		edit(p)
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", p.Base.Coreset, err)
		}
	}
}

// TestRatioJobs: the job names and configs of the three shapes of sweep,
// and which of them share job 0's dynamics.
func TestRatioJobs(t *testing.T) {
	names := func(p *Plan) string {
		var s []string
		for i, j := range p.Jobs() {
			if j.Index != i {
				t.Errorf("job %s has index %d at %d", j.Name, j.Index, i)
			}
			s = append(s, j.Name)
		}
		return strings.Join(s, ",")
	}
	p := ratioPlan(t, "ccs", 0.1, 0.3)
	if got := names(p); got != "dense,ratio-0.10,ratio-0.30" {
		t.Fatalf("ratio jobs %s", got)
	}
	p.Targets = []float64{0.7, 0.5}
	must(t, p.Validate())
	if got := names(p); got != "dense,target-0.70-ratio-0.10,target-0.70-ratio-0.30,target-0.50-ratio-0.10,target-0.50-ratio-0.30" {
		t.Fatalf("grid jobs %s", got)
	}
	if j := p.Jobs()[2]; j.Target != 0.7 || j.Ratio != 0.3 {
		t.Fatalf("job 2 %+v", j)
	}
	if got := names(tinyPlan(t)); got != "dense,target-0.70,target-0.50" {
		t.Fatalf("target jobs %s", got)
	}

	// ccs: job 0 on all the data records the dynamics, every ratio job
	// scores with them.
	if !p.SharesDynamics() {
		t.Fatal("a ccs sweep does not share job 0's dynamics")
	}
	jobs := p.Jobs()
	d, r := p.Config("/sw", jobs[0]), p.Config("/sw", jobs[4])
	if d.Coreset != "" || d.CoresetRatio != 0 || !d.RecordDynamics || d.Target != 0 {
		t.Fatalf("dense config: coreset %q ratio %g record %v target %g", d.Coreset, d.CoresetRatio, d.RecordDynamics, d.Target)
	}
	if r.Coreset != "ccs" || r.CoresetRatio != 0.3 || r.CoresetDynamics != "/sw/dense" || r.RecordDynamics || r.Target != 0.5 || r.OutDir != "/sw/target-0.50-ratio-0.30" {
		t.Fatalf("ratio config: coreset %q ratio %g dynamics %q record %v target %g out %s", r.Coreset, r.CoresetRatio, r.CoresetDynamics, r.RecordDynamics, r.Target, r.OutDir)
	}
	// random and elfs: nothing shared; a given table is every job's.
	for _, m := range []string{"random", "elfs"} {
		q := ratioPlan(t, m, 0.3)
		if q.SharesDynamics() || q.Config("/sw", q.Jobs()[0]).RecordDynamics || q.Config("/sw", q.Jobs()[1]).CoresetDynamics != "" {
			t.Errorf("%s: the sweep shares dynamics", m)
		}
	}
	q := ratioPlan(t, "hardest", 0.3)
	q.Base.CoresetDynamics = "/runs/dyn"
	if q.SharesDynamics() || q.Config("/sw", q.Jobs()[1]).CoresetDynamics != "/runs/dyn" {
		t.Error("a given dynamics table is not the ratio jobs'")
	}
	// A proxy trained from random weights is not the dense job's run.
	q = ratioPlan(t, "ccs", 0.3)
	q.Base.CoresetProxy = "scratch"
	if q.SharesDynamics() || q.Config("/sw", q.Jobs()[0]).RecordDynamics {
		t.Error("a scratch-proxy sweep shares the dense job's dynamics")
	}

	// The saved plan of a target sweep names no ratios, and reads back
	// equal; a ratio sweep's reads back with them.
	dir := t.TempDir()
	must(t, WritePlan(filepath.Join(dir, "t"), tinyPlan(t)))
	if strings.Contains(read(t, filepath.Join(dir, "t", PlanFile)), "ratios") {
		t.Error("a target sweep's plan names ratios")
	}
	must(t, WritePlan(filepath.Join(dir, "r"), p))
	back, err := ReadPlan(filepath.Join(dir, "r"))
	must(t, err)
	if !reflect.DeepEqual(back, p) {
		t.Fatalf("read back %+v, wrote %+v", back, p)
	}
}

// TestRatioSweep runs two tiny ratio sweeps: random (each job draws its
// own subset) and ccs (job 0 records the training dynamics, the ratio job
// scores with them and runs no dynamics run of its own). Both tables have
// the ratio column, and collect writes the ratio plot.
func TestRatioSweep(t *testing.T) {
	for _, method := range []string{"random", "ccs"} {
		p := ratioPlan(t, method, 0.5)
		dir := filepath.Join(t.TempDir(), "sweep")
		must(t, WritePlan(dir, p))
		var log strings.Builder
		must(t, Run(dir, p, 1, &log))
		tab, err := Collect(dir, false)
		must(t, err)

		rows, err := csv.NewReader(strings.NewReader(read(t, filepath.Join(dir, ResultsCSV)))).ReadAll()
		must(t, err)
		if strings.Join(rows[0][:5], ",") != "kind,job,target,ratio,valid_accuracy" || len(rows) != 3 {
			t.Fatalf("%s: results.csv\n%v", method, rows)
		}
		if got := rows[1][0] + " " + rows[1][1] + " " + rows[1][3] + "," + rows[2][0] + " " + rows[2][1] + " " + rows[2][3]; got != "dense dense 1.00,dense-subset ratio-0.50 0.50" {
			t.Fatalf("%s: rows %s", method, got)
		}
		md := read(t, filepath.Join(dir, ResultsMarkdown))
		for _, s := range []string{"| run | target | data ratio | valid accuracy (%) |", "| dense | dense | 1.00 |", "| ratio-0.50 | dense | 0.50 |"} {
			if !strings.Contains(md, s) {
				t.Errorf("%s: results.md lacks %q:\n%s", method, s, md)
			}
		}
		if len(tab.Of(KindSubset)) != 1 || tab.Of(KindSubset)[0].Ratio != 0.5 {
			t.Errorf("%s: subset rows %+v", method, tab.Of(KindSubset))
		}
		for _, f := range []string{ComputePlot, LatencyPlot, RatioPlot} {
			checkPNG(t, filepath.Join(dir, f))
		}
		r, err := ReadResult(filepath.Join(dir, "ratio-0.50"))
		must(t, err)
		if r.Ratio != 0.5 {
			t.Errorf("%s: result ratio %g", method, r.Ratio)
		}
		report := read(t, filepath.Join(dir, "ratio-0.50", "coreset", "report.json"))
		if !strings.Contains(report, `"selected": 20`) {
			t.Errorf("%s: the subset is not half of the 40 examples:\n%s", method, report)
		}

		_, dense := os.Stat(DynamicsTable(dir))
		_, ownRun := os.Stat(filepath.Join(dir, "ratio-0.50", "coreset", "dynamics-run"))
		switch method {
		case "random":
			if dense == nil || ownRun == nil {
				t.Errorf("random: dynamics recorded (dense %v, own run %v)", dense, ownRun)
			}
		case "ccs":
			if dense != nil || ownRun == nil {
				t.Errorf("ccs: dense table %v; own dynamics run %v (want the dense table and no run of its own)", dense, ownRun)
			}
			if !strings.Contains(report, `"dynamics": "`+filepath.Join(dir, DenseJob)+`"`) {
				t.Errorf("ccs: the subset was not scored with job 0's table:\n%s", report)
			}
			if strings.Contains(log.String(), "recording training dynamics") {
				t.Errorf("ccs: a dynamics run was recorded:\n%s", log.String())
			}
		}

		path, err := Report(dir, "")
		must(t, err)
		if md := read(t, path); !strings.Contains(md, "![quality vs data ratio]("+RatioPlot+")") || !strings.Contains(md, "Data ratios 0.50") {
			t.Errorf("%s: the report lacks the ratio plot:\n%s", method, md)
		}
		checkImages(t, path, 4)
	}
}

// TestRatioJobBeforeDense: a ratio job that shares job 0's dynamics and
// starts before job 0 has finished fails with one line naming the table and
// job 0; once job 0 has run it trains.
func TestRatioJobBeforeDense(t *testing.T) {
	p := ratioPlan(t, "ccs", 0.5)
	dir := filepath.Join(t.TempDir(), "sweep")
	must(t, WritePlan(dir, p))
	err := RunJob(dir, p, 1, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "ratio-0.50: the training-dynamics table "+DynamicsTable(dir)) ||
		!strings.Contains(err.Error(), "job 0 must finish first") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("a ratio job before job 0: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ratio-0.50", "coreset")); err == nil {
		t.Fatal("the early ratio job started a selection")
	}
	must(t, RunJob(dir, p, 0, &strings.Builder{}))
	must(t, RunJob(dir, p, 1, &strings.Builder{}))
}

// TestEmitRatioSweep: a sweep whose ratio jobs need job 0's dynamics is
// emitted for Slurm as index 0 alone plus a dependent second submission;
// a random one as the usual array.
func TestEmitRatioSweep(t *testing.T) {
	p := ratioPlan(t, "ccs", 0.1, 0.3, 0.5)
	dir := "/data/sweeps/cc"
	var b bytes.Buffer
	must(t, Emit(&b, "slurm", dir, p, EmitOptions{Parallel: 2}))
	script := b.String()
	for _, s := range []string{"#SBATCH --array=0\n", "1-3 one\n# data ratio each", "jid=$(sbatch --parsable /data/sweeps/cc/sweep.slurm) && sbatch --array=1-3%2 --dependency=afterok:${jid%%;*} /data/sweeps/cc/sweep.slurm"} {
		if !strings.Contains(script, s) {
			t.Errorf("script lacks %q:\n%s", s, script)
		}
	}
	path := filepath.Join(t.TempDir(), "sweep.slurm")
	must(t, os.WriteFile(path, b.Bytes(), 0o755))
	if out, err := exec.Command("bash", "-n", path).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	if h := SubmitHint("slurm", "/data/sweeps/cc/sweep.slurm", dir, p, 2); !strings.Contains(script, h) {
		t.Errorf("the submit hint %q is not the script's", h)
	}
	b.Reset()
	must(t, Emit(&b, "k8s", dir, p, EmitOptions{}))
	if !strings.Contains(b.String(), "run index 0 first") || !strings.Contains(b.String(), "sparsetune sweep --out-dir /data/sweeps/cc --index 0") {
		t.Errorf("the manifest does not say job 0 goes first:\n%s", b.String())
	}

	b.Reset()
	must(t, Emit(&b, "slurm", dir, ratioPlan(t, "random", 0.1, 0.3), EmitOptions{}))
	if !strings.Contains(b.String(), "#SBATCH --array=0-2\n") || strings.Contains(b.String(), "dependency") {
		t.Errorf("a random sweep's script:\n%s", b.String())
	}
}

// TestRatioGridSweep: targets and ratios together train one sparse run per
// pair; the table has the ratio column and the sparse rows their latency,
// and the ratio plot has a line per target.
func TestRatioGridSweep(t *testing.T) {
	p := ratioPlan(t, "random", 0.5)
	p.Targets = []float64{0.5}
	must(t, p.Validate())
	dir := filepath.Join(t.TempDir(), "sweep")
	must(t, WritePlan(dir, p))
	must(t, Run(dir, p, 1, &strings.Builder{}))
	tab, err := Collect(dir, true)
	must(t, err)
	runs := tab.Of(KindRun)
	if len(runs) != 1 || runs[0].Job != "target-0.50-ratio-0.50" || runs[0].Target != 0.5 || runs[0].Ratio != 0.5 || runs[0].Compute >= 1 || !runs[0].Latency.Measured {
		t.Fatalf("grid rows %+v", runs)
	}
	csvText := read(t, filepath.Join(dir, ResultsCSV))
	if !strings.Contains(csvText, "retrained,target-0.50-ratio-0.50,0.50,0.50,") || !strings.Contains(csvText, "dense,dense,0.00,1.00,") {
		t.Fatalf("results.csv:\n%s", csvText)
	}
	if md := read(t, filepath.Join(dir, ResultsMarkdown)); !strings.Contains(md, "| target-0.50-ratio-0.50 | 0.50 | 0.50 |") {
		t.Fatalf("results.md:\n%s", md)
	}
	for _, f := range []string{ComputePlot, LatencyPlot, RatioPlot} {
		checkPNG(t, filepath.Join(dir, f))
	}
}
