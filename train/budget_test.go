package train

import (
	"bufio"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/internal/testmodel"
)

// TestBudgetChoosesOnBudgetBest replays an evaluation history in which
// the most accurate evaluation spends 0.70 of the dense compute against a
// target of 0.5: it must not become the best checkpoint, the best on-budget
// one must; before any evaluation is on budget the closest one is kept.
func TestBudgetChoosesOnBudgetBest(t *testing.T) {
	b := newBudget(&Config{Target: 0.5, BudgetTol: 0.02})
	evals := []struct {
		step              int
		accuracy, compute float64
	}{
		{10, 0.80, 0.60},  // off budget, first: kept for now
		{20, 0.70, 0.55},  // off budget but closer: replaces it
		{30, 0.95, 0.70},  // the most accurate, off budget and farther: ignored
		{40, 0.60, 0.515}, // on budget: beats any off-budget one
		{50, 0.75, 0.49},  // on budget and better
		{60, 0.74, 0.50},  // on budget, worse
		{70, 0.99, 0.53},  // off budget: ignored however accurate
	}
	want := []int{10, 20, 20, 40, 50, 50, 50}
	st := &State{BestStep: -1}
	for i, e := range evals {
		if b.improves(e.accuracy, e.compute, st, false) {
			st.BestMetric, st.BestStep, st.BestCompute = e.accuracy, e.step, e.compute
		}
		if st.BestStep != want[i] {
			t.Fatalf("after the evaluation at step %d the best is step %d, want %d", e.step, st.BestStep, want[i])
		}
	}
	if !b.met(st.BestCompute) {
		t.Errorf("the best, at compute %.3f, is not on budget", st.BestCompute)
	}
	// A dense run has no budget: the metric alone decides.
	var dense *budget
	if st := (&State{BestStep: 1, BestMetric: 0.5}); !dense.improves(0.6, 0.9, st, false) || dense.improves(0.4, 0, st, false) {
		t.Error("a dense run's best is not chosen by its metric alone")
	}
	// Perplexity: lower is better among on-budget evaluations.
	if st := (&State{BestStep: 1, BestMetric: 10, BestCompute: 0.5}); !b.improves(9, 0.51, st, true) || b.improves(11, 0.5, st, true) {
		t.Error("among on-budget evaluations a lower perplexity is not preferred")
	}
}

// writeTopicSplit writes n examples of the two-class topic task whose
// texts differ from the training file's (ids from first on).
func writeTopicSplit(t *testing.T, path string, first, n int) string {
	t.Helper()
	p, err := testmodel.TopicSplit(path, first, n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSparseSummaryIsDelivered: a sparse run's summary reports the sparse
// checkpoint it delivers, as the engine measures it on valid and test
// (package evaluate re-measures it), keeps the training graph's
// figures under the train_ keys, and says the budget was met.
func TestSparseSummaryIsDelivered(t *testing.T) {
	dir := t.TempDir()
	c := sparseRun(t, dir)
	c.Valid = writeTopicSplit(t, filepath.Join(dir, "valid.jsonl"), 1000, 12)
	c.Test = writeTopicSplit(t, filepath.Join(dir, "test.jsonl"), 2000, 10)
	c.BudgetTol = 0.5 // any stage-2 evaluation is on budget
	sum, err := Run(c, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Compute == nil || sum.TestCompute == nil || sum.TestMetric == nil || sum.TrainCompute == nil || sum.TrainMetric == nil || sum.TrainTestMetric == nil {
		t.Fatalf("summary lacks a sparse run's figures: %+v", sum)
	}
	if sum.BudgetMet == nil || !*sum.BudgetMet || sum.TrainBudgetMet == nil || !*sum.TrainBudgetMet {
		t.Errorf("budget_met %v, train_budget_met %v with budget_tol 0.5", sum.BudgetMet, sum.TrainBudgetMet)
	}
	if sum.SparseCompute == nil || *sum.SparseCompute != *sum.Compute {
		t.Errorf("sparse_compute %v does not repeat compute %v", sum.SparseCompute, *sum.Compute)
	}
	b, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"test_compute"`, `"train_metric"`, `"train_compute"`, `"budget_met":true`, `"train_budget_met":true`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("summary %s lacks %s", b, k)
		}
	}
}

// TestSparseBudgetNotMet: with a tolerance no evaluation meets, the run
// keeps the stage-2 evaluation closest to the target, says so in one log
// line, and reports budget_met false.
func TestSparseBudgetNotMet(t *testing.T) {
	dir := t.TempDir()
	c := sparseRun(t, dir)
	c.BudgetTol, c.EvalEvery = 1e-12, 2 // stage 2 is steps 19-24: evaluations at 20, 22 and 24
	var log strings.Builder
	sum, err := Run(c, &log)
	if err != nil {
		t.Fatal(err)
	}
	if sum.BudgetMet == nil || *sum.BudgetMet || sum.TrainBudgetMet == nil || *sum.TrainBudgetMet {
		t.Fatalf("budget_met %v, train_budget_met %v with budget_tol 1e-12", sum.BudgetMet, sum.TrainBudgetMet)
	}
	// budget_met is about what the run delivers: the sparse checkpoint's
	// compute on valid against the target.
	if sum.Compute == nil || math.Abs(*sum.Compute-c.Target) <= c.BudgetTol {
		t.Fatalf("compute %v within 1e-12 of %g, yet budget_met false", sum.Compute, c.Target)
	}
	if n := strings.Count(log.String(), "budget not met"); n != 1 {
		t.Errorf("%d log lines say the budget was not met, want 1:\n%s", n, log.String())
	}
	// The best is the stage-2 evaluation closest to the target.
	f, err := os.Open(filepath.Join(c.OutDir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	closest, dist, evals := -1, math.Inf(1), 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct {
			Step    int
			Split   string
			Compute float64
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Split != "valid" || r.Step <= c.Steps-c.Stage2Steps {
			continue
		}
		evals++
		if d := math.Abs(r.Compute - c.Target); d < dist {
			closest, dist = r.Step, d
		}
	}
	if evals < 2 {
		t.Fatalf("%d stage-2 evaluations; the test needs several", evals)
	}
	if math.Abs(*sum.TrainCompute-c.Target) != dist {
		t.Errorf("best checkpoint's compute %.6f is %.6f from the target; the closest stage-2 evaluation (step %d) is %.6f from it",
			*sum.TrainCompute, math.Abs(*sum.TrainCompute-c.Target), closest, dist)
	}
}

// TestResumeKeepsBudgetTol: budget_tol decides which checkpoint is best,
// so a resumed run may not change it; a run saved before the key reads as
// the default.
func TestResumeKeepsBudgetTol(t *testing.T) {
	saved := resumeBase()
	saved.Target = 0.5
	cfg := saved
	cfg.Resume, cfg.BudgetTol = true, 0.05
	err := checkResumeConfig(&cfg, savedCheckpoint(t, saved), 6, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "budget_tol 0.02 -> 0.05") {
		t.Fatalf("resume with another budget_tol: %v", err)
	}
	cfg.BudgetTol = saved.BudgetTol
	if err := checkResumeConfig(&cfg, savedCheckpoint(t, saved, "budget_tol"), 6, io.Discard); err != nil {
		t.Fatalf("resume of a run saved without budget_tol: %v", err)
	}
}
