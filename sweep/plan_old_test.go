package sweep

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOldPlanStillLoads: a sweep.json written before the coreset settings
// left train.Config (testdata/old_sweep.json, verbatim: its base holds
// coreset keys) still reads, its coreset keys into the base's settings,
// and the sweep resumes with it: the same plan written again is accepted.
func TestOldPlanStillLoads(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "old_sweep.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, PlanFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := ReadPlan(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.Base.Coreset != "" || p.Base.CoresetScore != "aum" || p.Base.CoresetBeta != -1 || p.Base.Steps != 20 || p.Frontier.From != 0.5 {
		t.Errorf("read %+v", p)
	}
	if err := WritePlan(dir, p); err != nil {
		t.Errorf("the old plan, written again: %v", err)
	}
	q := *p
	q.Base.CoresetScore = "el2n"
	if err := WritePlan(dir, &q); err == nil {
		t.Error("a plan with another coreset setting was accepted")
	}
}
