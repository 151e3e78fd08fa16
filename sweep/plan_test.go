package sweep

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestPlanValidate: every way a plan cannot run is refused with a line that
// names the setting.
func TestPlanValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(*Plan)
		want string
	}{
		"no targets":           {func(p *Plan) { p.Targets = nil }, "at least one"},
		"target above one":     {func(p *Plan) { p.Targets = []float64{1.2} }, "not in (0, 1]"},
		"same job twice":       {func(p *Plan) { p.Targets = []float64{0.5, 0.501} }, "appears twice"},
		"base target":          {func(p *Plan) { p.Base.Target = 0.5 }, "leave target unset"},
		"frontier from where":  {func(p *Plan) { p.Frontier.From = 0.6 }, "not one of the targets"},
		"frontier no targets":  {func(p *Plan) { p.Frontier.Targets = nil }, "frontier_targets"},
		"negative adaptation":  {func(p *Plan) { p.Frontier.AdaptSteps = -1 }, "adapt_steps"},
		"training config":      {func(p *Plan) { p.Base.LR = -1 }, "dense: lr must be"},
		"sparse-only settings": {func(p *Plan) { p.Base.Stage2Steps = p.Base.Steps }, "target-0.70: stage2_steps"},
	} {
		p := tinyPlan(t)
		tc.edit(p)
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error mentioning %q", name, err, tc.want)
		}
	}
}

// TestWritePlanGuardsTheSweep: the same plan may be written again (a resumed
// sweep, an array task); a different one is refused with the first setting
// that differs, and the saved plan reads back as written.
func TestWritePlanGuardsTheSweep(t *testing.T) {
	p := tinyPlan(t)
	dir := filepath.Join(t.TempDir(), "sweep")
	must(t, WritePlan(dir, p))
	must(t, WritePlan(dir, p))
	q, err := ReadPlan(dir)
	must(t, err)
	if !reflect.DeepEqual(p, q) {
		t.Fatalf("read back %+v, wrote %+v", q, p)
	}
	q.Base.Steps++
	if err := WritePlan(dir, q); err == nil || !strings.Contains(err.Error(), "base.steps was 24, now 25") {
		t.Fatalf("a changed plan: %v", err)
	}
	if _, err := ReadPlan(t.TempDir()); err == nil || !strings.Contains(err.Error(), "holds no sweep") {
		t.Fatalf("reading a plan from an empty directory: %v", err)
	}

	// A plan saved before a setting existed: the setting counts as its
	// default, so the sweep resumes; named with another value, it differs.
	b := read(t, filepath.Join(dir, PlanFile))
	old := strings.Replace(b, "\"schedule\": \"cosine\",", "", 1)
	if old == b {
		t.Fatal("the saved plan names no schedule")
	}
	must(t, os.WriteFile(filepath.Join(dir, PlanFile), []byte(old), 0o644))
	must(t, WritePlan(dir, p))
	q = tinyPlan(t)
	q.Base = p.Base
	q.Base.Schedule = "linear"
	if err := WritePlan(dir, q); err == nil || !strings.Contains(err.Error(), `base.schedule was "cosine", now "linear"`) {
		t.Fatalf("a changed schedule: %v", err)
	}
}

// TestJobsAndConfigs: job 0 is the dense point, the others one target each
// in the given order, every job with its own directory and the shared
// cache.
func TestJobsAndConfigs(t *testing.T) {
	p := tinyPlan(t)
	p.DenseRef = "/models/dense"
	jobs := p.Jobs()
	if len(jobs) != 3 || jobs[0].Name != "dense" || jobs[1].Name != "target-0.70" || jobs[2].Index != 2 || jobs[2].Target != 0.5 {
		t.Fatalf("jobs %+v", jobs)
	}
	d, s := p.Config("/sw", jobs[0]), p.Config("/sw", jobs[2])
	if d.Target != 0 || d.OutDir != "/sw/dense" || d.DenseRef != "" || s.Target != 0.5 || s.OutDir != "/sw/target-0.50" || s.DenseRef != "/models/dense" {
		t.Fatalf("dense config %+v\nsparse config %+v", d, s)
	}
	if d.CacheDir != "/sw/cache" || s.CacheDir != d.CacheDir {
		t.Fatalf("cache dirs %q and %q, want one shared /sw/cache", d.CacheDir, s.CacheDir)
	}
	if got := DefaultFrontierTargets([]float64{0.45, 0.5}); !reflect.DeepEqual(got, []float64{0.2, 0.3, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1}) {
		t.Fatalf("default frontier targets %v", got)
	}
	if NearestTarget([]float64{0.9, 0.7, 0.3}) != 0.7 {
		t.Fatal("the target nearest 0.5 of 0.9, 0.7, 0.3 is 0.7")
	}
}
