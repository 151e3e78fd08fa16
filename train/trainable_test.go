package train

import (
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/internal/jsonfile"
	"github.com/sparsetune/sparsetune/internal/safetensors"
	"github.com/sparsetune/sparsetune/nn"
)

// routersRun is sparseRun with only the routers (and the new classifier
// head) trained. The FFN neurons are not regrouped, so that the saved base
// weights can be compared with the model directory's byte for byte.
func routersRun(t *testing.T, dir string) Config {
	c := sparseRun(t, dir)
	c.Trainable, c.noGrouping = TrainRouters, true
	return c
}

// TestRoutersRunFreezesBase: after a routers run, every base weight in the
// checkpoint is bit-identical to the base model's, while the routers and
// the new classifier head have moved from their initial values, and the
// optimizer state holds moments for exactly those.
func TestRoutersRunFreezesBase(t *testing.T) {
	dir := t.TempDir()
	c := routersRun(t, dir)
	var log strings.Builder
	if _, err := Run(c, &log); err != nil {
		t.Fatal(err)
	}
	ckpt, err := checkpoints.Latest(c.OutDir)
	if err != nil || ckpt == "" {
		t.Fatalf("latest checkpoint: %q, %v", ckpt, err)
	}
	base, err := nn.Load(c.Model, nn.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	saved, err := nn.Load(ckpt, nn.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	head := saved.Config.HeadNames()
	trained := 0
	for _, p := range saved.Params.List {
		if slices.Contains(head, p.Name) {
			trained += p.Numel()
			continue
		}
		b := base.Params.Get(p.Name)
		if b == nil {
			t.Fatalf("%s: not in the base model", p.Name)
		}
		if !slices.Equal(p.Value.Data().([]float32), b.Value.Data().([]float32)) {
			t.Errorf("%s changed in a routers run", p.Name)
		}
	}
	if len(head) == 0 || trained == 0 {
		t.Fatalf("the classification run has no new head (%v)", head)
	}

	// The routers moved from their initialisation (same seed, same model).
	fresh, err := newSparsity(&c, base)
	if err != nil {
		t.Fatal(err)
	}
	rf, err := safetensors.Read(filepath.Join(ckpt, routerFile))
	if err != nil {
		t.Fatal(err)
	}
	moved := false
	for _, p := range fresh.params() {
		trained += p.Numel()
		rt, ok := rf.Tensors[p.Name]
		if !ok {
			t.Fatalf("router tensor %s missing from the checkpoint", p.Name)
		}
		if !slices.Equal(rt.Data, p.Value.Data().([]float32)) {
			moved = true
		}
	}
	if !moved {
		t.Error("no router parameter changed in training")
	}

	// optimizer.bin: the step count, then two moments per trained scalar.
	ob, err := checkpoints.ReadOptimizer(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	if want := 8 + 8*trained; len(ob) != want {
		t.Errorf("optimizer state is %d bytes, want %d (head and routers only, %d scalars)", len(ob), want, trained)
	}
	if !strings.Contains(log.String(), `"trainable":"routers"`) || !strings.Contains(log.String(), `"distill":-1`) {
		t.Errorf("the printed config does not show trainable routers with distillation on:\n%s", log.String())
	}
}

// TestRoutersResumeContinuesExactly interrupts a routers-only causal-LM
// run (nothing but the routers trains) in stage 1 and compares the resumed
// losses with an uninterrupted run's: they are equal.
func TestRoutersResumeContinuesExactly(t *testing.T) {
	dir := t.TempDir()
	full := routersRun(t, dir)
	full.Task, full.noGrouping = "", false // the base's own LM head, frozen; grouped FFN
	if _, err := Run(full, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	cut := full
	cut.OutDir = filepath.Join(dir, "cut")
	runCut(t, cut, 8)
	cut.Resume = true
	var log strings.Builder
	if _, err := Run(cut, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "resume: continuing from") {
		t.Fatalf("did not resume:\n%s", log.String())
	}
	a, b := readLosses(t, full.OutDir), readLosses(t, cut.OutDir)
	for s := 1; s <= full.Steps; s++ {
		if a[s] != b[s] || a[s] == 0 {
			t.Errorf("step %d: resumed loss %.9g, uninterrupted %.9g", s, b[s], a[s])
		}
	}
	ckpt, err := checkpoints.Latest(cut.OutDir)
	if err != nil {
		t.Fatal(err)
	}
	var saved Config
	if err := jsonfile.Read(filepath.Join(ckpt, checkpoints.ConfigFile), &saved); err != nil {
		t.Fatal(err)
	}
	if saved.Trainable != TrainRouters || saved.DistillWeight() != 1 {
		t.Errorf("saved config: trainable %q, distill weight %g; want routers, 1", saved.Trainable, saved.DistillWeight())
	}
}

// TestTrainableSettings: routers need a sparse run; distillation is on by
// default for a routers run only, and an explicit distill (0 included)
// wins.
func TestTrainableSettings(t *testing.T) {
	c := DefaultConfig()
	c.Model, c.Train = "m", "d"
	c.Trainable = TrainRouters
	var se *SettingError
	if err := c.Validate(); !errors.As(err, &se) || se.Key != "trainable" || !strings.Contains(se.Msg, "sparse runs") {
		t.Errorf("routers without a target: %v", err)
	}
	c.Target = 0.5
	if err := c.Validate(); err != nil {
		t.Errorf("routers at target 0.5: %v", err)
	}
	c.Trainable = "everything"
	if err := c.Validate(); !errors.As(err, &se) || se.Key != "trainable" {
		t.Errorf("trainable everything: %v", err)
	}
	for _, tc := range []struct {
		trainable string
		distill   float64
		want      float64
	}{
		{TrainRouters, -1, 1}, {TrainAll, -1, 0}, {TrainRouters, 0, 0}, {TrainAll, 0.5, 0.5}, {TrainRouters, 2, 2},
	} {
		c := DefaultConfig()
		c.Trainable, c.Distill = tc.trainable, tc.distill
		if got := c.DistillWeight(); got != tc.want {
			t.Errorf("trainable %s, distill %g: weight %g, want %g", tc.trainable, tc.distill, got, tc.want)
		}
	}
	if DefaultConfig().Distill >= 0 {
		t.Error("the default distill is not the automatic choice")
	}
}

// TestRoutersTeacherSharesTheBase: a routers run distils by default, from
// a teacher that uses the model's own weight tensors (no second copy of
// the base); with distill 0 there is no teacher; a full run's teacher
// keeps its own copy, since the model's weights move.
func TestRoutersTeacherSharesTheBase(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name      string
		trainable string
		distill   float64
		teacher   bool
		shared    bool
	}{
		{"routers, default", TrainRouters, -1, true, true},
		{"routers, distill 0", TrainRouters, 0, false, false},
		{"all, distill 1", TrainAll, 1, true, false},
		{"all, default", TrainAll, -1, false, false},
	} {
		c := routersRun(t, dir)
		c.Trainable, c.Distill, c.SeqLen = tc.trainable, tc.distill, 32
		m, err := nn.Load(c.Model, nn.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sp, err := newSparsity(&c, m)
		if err != nil {
			t.Fatal(err)
		}
		if got := sp.teacher != nil; got != tc.teacher {
			t.Errorf("%s: teacher %v, want %v", tc.name, got, tc.teacher)
			continue
		}
		if sp.teacher == nil {
			continue
		}
		for i, n := range sp.teacher.Params {
			shared := n.Value().(*tensor.Dense) == m.Params.List[i].Value
			if shared != tc.shared {
				t.Errorf("%s: teacher tensor %s shared %v, want %v", tc.name, n.Name(), shared, tc.shared)
				break
			}
		}
	}
}

// TestNewOptimizerTrainsOnlyTheUnfrozen: AdamW's parameters are the
// model's unfrozen ones, then the routers, and nothing frozen gets state.
func TestNewOptimizerTrainsOnlyTheUnfrozen(t *testing.T) {
	dir := t.TempDir()
	c := routersRun(t, dir)
	c.SeqLen = 32
	m, err := nn.Load(c.Model, nn.LoadOptions{Task: nn.Classification, Labels: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	freezeAllBut(m, true)
	sp, err := newSparsity(&c, m)
	if err != nil {
		t.Fatal(err)
	}
	opt, err := newOptimizer(&c, m, sp)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range opt.params {
		if p.Frozen {
			t.Errorf("frozen %s in the optimizer", p.Name)
		}
		names = append(names, p.Name)
	}
	want := append(m.Config.HeadNames(), func() []string {
		var r []string
		for _, p := range sp.params() {
			r = append(r, p.Name)
		}
		return r
	}()...)
	if !slices.Equal(names, want) {
		t.Errorf("optimizer params %v, want %v", names, want)
	}
	freezeAllBut(m, false)
	for _, p := range m.Params.List {
		if !p.Frozen {
			t.Errorf("%s not frozen when the head is not new", p.Name)
		}
	}
}

// TestResumeComparesDistillByEffect: a run saved before distill had an
// automatic default (distill 0, no trainable key) resumes with today's
// defaults; a routers run's automatic distillation turned off on resume is
// a refused change.
func TestResumeComparesDistillByEffect(t *testing.T) {
	old := resumeBase()
	old.Distill = 0
	ckpt := savedCheckpoint(t, old, "trainable")
	cfg := resumeBase()
	cfg.Resume = true
	if err := checkResumeConfig(&cfg, ckpt, 6, io.Discard); err != nil {
		t.Errorf("an older dense run: %v", err)
	}
	routers := resumeBase()
	routers.Target, routers.Trainable = 0.5, TrainRouters
	ckpt = savedCheckpoint(t, routers)
	cfg = routers
	cfg.Resume, cfg.Distill = true, 0
	if err := checkResumeConfig(&cfg, ckpt, 6, io.Discard); err == nil || !strings.Contains(err.Error(), "distill 1 -> 0") {
		t.Errorf("distillation turned off on resume: %v", err)
	}
}

// TestDistillOffIsNotFlagged: distill 0 (a dense run's saved value) or the
// automatic default in a dense run ignores nothing; a positive weight does.
func TestDistillOffIsNotFlagged(t *testing.T) {
	c := resumeBase()
	for _, d := range []float64{0, -1} {
		c.Distill = d
		if err := c.Unused(map[string]bool{"distill": true}); err != nil {
			t.Errorf("distill %g in a dense run: %v", d, err)
		}
	}
	c.Distill = 0.5
	if err := c.Unused(map[string]bool{"distill": true}); err == nil {
		t.Error("distill 0.5 in a dense run is not flagged")
	}
}
