package coreset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/internal/testmodel"
	"github.com/sparsetune/sparsetune/train"
)

// dynamicsRun is tinyRun on the topic data with dynamics recorded every
// 4 of 12 steps; the data is its own validation file, so every example is
// in the training split.
func dynamicsRun(t *testing.T, model, data, out string) Config {
	c := tinyRun(t, model, data, out)
	c.Valid, c.RecordDynamics, c.DynamicsEvery, c.Task = data, true, 4, "classification"
	return c
}

func TestRecordDynamicsAndResume(t *testing.T) {
	model := testmodel.Dir(t, true)
	dir := t.TempDir()
	data := testmodel.Topic(t, dir, 12)
	full := dynamicsRun(t, model, data, filepath.Join(dir, "full"))
	if _, err := Train(full, io.Discard); err != nil {
		t.Fatal(err)
	}
	want, err := LoadDynamicsOf(full.OutDir)
	if err != nil {
		t.Fatal(err)
	}
	if want.Len() != 12 || want.NumClasses() != 2 {
		t.Fatalf("table of %d examples, %d classes; want 12 and 2", want.Len(), want.NumClasses())
	}
	// Three recordings (steps 4, 8, 12): EL2N over 3 epochs works, over 4 not.
	if _, err := want.Scores(EL2N, 3); err != nil {
		t.Errorf("EL2N over 3 recordings: %v", err)
	}
	if _, err := want.Scores(EL2N, 4); err == nil {
		t.Error("EL2N over 4 recordings of 3: no error")
	}

	// Cut at step 8, just after recording 2 and two steps after the last
	// checkpoint (step 6); resume: recording 2 is dropped and made again,
	// and the table matches the uninterrupted run's exactly.
	cut := dynamicsRun(t, model, data, filepath.Join(dir, "cut"))
	trainCut(t, cut, 8)
	cut.Resume = true
	if _, err := Train(cut, io.Discard); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(full.OutDir, DynamicsFile))
	b, _ := os.ReadFile(filepath.Join(cut.OutDir, DynamicsFile))
	if !bytes.Equal(a, b) {
		t.Errorf("resumed run's table differs from the uninterrupted one:\n%s\nvs\n%s", b, a)
	}
}

// TestRecordDynamicsShortRun: a run shorter than one recording interval
// (here about one epoch, 6 steps) records once at its last step, so that a
// selection has a table to score with; it used to leave none.
func TestRecordDynamicsShortRun(t *testing.T) {
	model := testmodel.Dir(t, true)
	dir := t.TempDir()
	data := testmodel.Topic(t, dir, 24)
	c := dynamicsRun(t, model, data, filepath.Join(dir, "run"))
	c.Steps, c.DynamicsEvery, c.EvalEvery = 4, 0, 2
	if _, err := Train(c, io.Discard); err != nil {
		t.Fatal(err)
	}
	table, err := LoadDynamicsOf(c.OutDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := table.Scores(EL2N, 1); err != nil || table.Len() != 24 {
		t.Errorf("table of %d examples: EL2N over one recording: %v", table.Len(), err)
	}
}

func TestRecordDynamicsNeedsClassification(t *testing.T) {
	model := testmodel.Dir(t, true)
	dir := t.TempDir()
	c := tinyRun(t, model, testmodel.Topic(t, dir, 12), filepath.Join(dir, "run"))
	c.Task, c.RecordDynamics = "causal-lm", true
	if _, err := Train(c, io.Discard); err == nil || !strings.Contains(err.Error(), "need a classification task") {
		t.Errorf("causal LM with dynamics: error %v", err)
	}
}

// subsetConfig selects from data with a dynamics run like dynamicsRun's.
func subsetConfig(t *testing.T, model, data, work, method string, ratio float64) SubsetConfig {
	run := tinyRun(t, model, data, "").Config
	run.CacheDir = filepath.Join(work, "cache")
	return SubsetConfig{Run: run, DynamicsEvery: 4, Method: method, Ratio: ratio, Beta: -1, Seed: 3, WorkDir: work}
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// TestSelectSubsetMethods runs every method on 24 examples at ratio 0.25:
// each writes 6 input lines, the label methods share one dynamics run, and
// the report adds up.
func TestSelectSubsetMethods(t *testing.T) {
	model := testmodel.Dir(t, true)
	dir := t.TempDir()
	data := testmodel.Topic(t, dir, 24)
	input := lines(t, data)
	work := filepath.Join(dir, "work")
	for _, method := range []string{MethodRandom, MethodHardest, MethodEasiest, MethodCCS, MethodELFS} {
		var log bytes.Buffer
		res, err := SelectSubset(subsetConfig(t, model, data, work, method, 0.25), &log)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		got := lines(t, res.Out)
		if res.Selected != 6 || len(got) != 6 || res.Examples != 24 || res.IDs != "file" {
			t.Errorf("%s: selected %d, file has %d lines, %d examples, ids %q", method, res.Selected, len(got), res.Examples, res.IDs)
		}
		for _, l := range got {
			if !slices.Contains(input, l) {
				t.Errorf("%s: output line %q is not an input line", method, l)
			}
		}
		taken := 0
		for _, c := range res.Classes {
			taken += c.Taken
		}
		if taken != 6 || len(res.Classes) != 2 {
			t.Errorf("%s: class counts %+v do not add up to 6", method, res.Classes)
		}
		switch method {
		case MethodCCS:
			// Ratio 0.25 → default β 0.1: 2 of 24 dropped, 22 strata.
			sum := 0
			for _, s := range res.Strata {
				sum += s.Taken
			}
			if res.Beta == nil || *res.Beta != 0.1 || res.Dropped != 2 || len(res.Strata) != 22 || sum != 6 {
				t.Errorf("ccs: β %v dropped %d, %d strata taking %d", res.Beta, res.Dropped, len(res.Strata), sum)
			}
			if !strings.Contains(log.String(), "reusing the dynamics table") {
				t.Errorf("ccs did not reuse the table of the earlier label methods:\n%s", log.String())
			}
		case MethodELFS:
			if len(res.ClusterSizes) != 2 || res.ClusterSizes[0]+res.ClusterSizes[1] != 24 || res.Purity == nil {
				t.Errorf("elfs: cluster sizes %v purity %v", res.ClusterSizes, res.Purity)
			}
			if !strings.HasSuffix(res.Dynamics, "dynamics-pseudo.jsonl") {
				t.Errorf("elfs scored %s, want the pseudo-label table", res.Dynamics)
			}
		}
	}
}

func TestSelectSubsetBadInput(t *testing.T) {
	model := testmodel.Dir(t, true)
	dir := t.TempDir()
	data := testmodel.Topic(t, dir, 24)
	for _, tc := range []struct {
		name string
		edit func(*SubsetConfig)
		want string
	}{
		{"ratio 0", func(c *SubsetConfig) { c.Ratio = 0 }, "ratio 0 outside (0, 1]"},
		{"ratio over 1", func(c *SubsetConfig) { c.Ratio = 1.5 }, "ratio 1.5 outside (0, 1]"},
		{"method", func(c *SubsetConfig) { c.Method = "best" }, `method "best"`},
		{"score", func(c *SubsetConfig) { c.Score = "loss" }, `unknown score "loss"`},
		{"beta", func(c *SubsetConfig) { c.Beta = 1 }, "β = 1"},
		{"one cluster", func(c *SubsetConfig) { c.Clusters = 1 }, "at least 2 pseudo-classes"},
		{"no model", func(c *SubsetConfig) { c.Run.Model = "" }, "give a model"},
		{"more strata than examples", func(c *SubsetConfig) { c.Strata = 25 }, "25 strata for 22 examples"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := subsetConfig(t, model, data, filepath.Join(dir, "work"), MethodCCS, 0.25)
			tc.edit(&c)
			_, err := SelectSubset(c, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestSelectSubsetDerivesIDs: without ids, and with duplicate ids, every id
// is derived from file and line and the result says so.
func TestSelectSubsetDerivesIDs(t *testing.T) {
	dir := t.TempDir()
	var none, dup strings.Builder
	for i := range 10 {
		fmt.Fprintf(&none, "{\"text\": \"example %d\", \"label\": \"%d\"}\n", i, i%2)
		fmt.Fprintf(&dup, "{\"id\": \"%d\", \"text\": \"example %d\", \"label\": \"%d\"}\n", i/2, i, i%2)
	}
	for name, body := range map[string]string{"none.jsonl": none.String(), "dup.jsonl": dup.String()} {
		data := filepath.Join(dir, name)
		os.WriteFile(data, []byte(body), 0o644)
		c := SubsetConfig{Run: train.Config{Train: data}, Method: MethodRandom, Ratio: 0.5, Seed: 1, WorkDir: filepath.Join(dir, "w")}
		res, err := SelectSubset(c, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := "derived"
		if name == "dup.jsonl" {
			want = `derived: ` + data + `:2: duplicate id "0"`
		}
		if !strings.HasPrefix(res.IDs, want) || res.DerivedIDs != 10 || len(lines(t, res.Out)) != 5 {
			t.Errorf("%s: ids %q, %d derived, %d lines; want %q…, 10, 5", name, res.IDs, res.DerivedIDs, len(lines(t, res.Out)), want)
		}
	}
}

func TestCoresetConfigValidation(t *testing.T) {
	base := DefaultConfig()
	base.Model, base.Train, base.Valid = "m", "t.jsonl", "v.jsonl"
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no valid", func(c *Config) { c.Valid = "" }, "give a valid file"},
		{"ratio", func(c *Config) { c.CoresetRatio = 2 }, "ratio 2 outside (0, 1]"},
		{"method", func(c *Config) { c.Coreset = "all" }, `method "all"`},
		{"causal", func(c *Config) { c.Task = "causal-lm" }, "causal-lm"},
		{"dynamics every", func(c *Config) { c.Coreset, c.DynamicsEvery = "", -1 }, "dynamics_every"},
	} {
		c := base
		c.Coreset, c.CoresetRatio = MethodCCS, 0.5
		tc.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	ok := base
	ok.Coreset, ok.CoresetRatio = MethodELFS, 0.3
	if err := ok.Validate(); err != nil {
		t.Errorf("valid coreset config: %v", err)
	}
}

// TestTrainOnCoreset: Run with a coreset trains on the chosen subset and
// keeps it, with its report, in <out_dir>/coreset.
func TestTrainOnCoreset(t *testing.T) {
	model := testmodel.Dir(t, true)
	dir := t.TempDir()
	data := testmodel.Topic(t, dir, 24)
	c := tinyRun(t, model, data, filepath.Join(dir, "run"))
	c.Valid, c.Task, c.Coreset, c.CoresetRatio = data, "classification", MethodRandom, 0.5
	if _, err := Train(c, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got := lines(t, filepath.Join(c.OutDir, "coreset", "subset.jsonl")); len(got) != 12 {
		t.Errorf("subset has %d lines, want 12", len(got))
	}
	var rep SubsetResult
	b, err := os.ReadFile(filepath.Join(c.OutDir, "coreset", "report.json"))
	if err != nil || json.Unmarshal(b, &rep) != nil || rep.Selected != 12 {
		t.Errorf("report %s (%v)", b, err)
	}
	var saved Config
	b, _ = os.ReadFile(filepath.Join(c.OutDir, "best", "train_config.json"))
	if json.Unmarshal(b, &saved); saved.Train != filepath.Join(c.OutDir, "coreset", "subset.jsonl") {
		t.Errorf("the run trained on %q, want the subset", saved.Train)
	}
}

// TestSelectSubsetByClass: CCS by class keeps the classes' proportions
// (12 cat, 12 dog → 3 and 3 of 6).
func TestSelectSubsetByClass(t *testing.T) {
	model := testmodel.Dir(t, true)
	dir := t.TempDir()
	c := subsetConfig(t, model, testmodel.Topic(t, dir, 24), filepath.Join(dir, "work"), MethodCCS, 0.25)
	c.ByClass = true
	res, err := SelectSubset(c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []ClassCount{{Label: "cat", Available: 12, Taken: 3}, {Label: "dog", Available: 12, Taken: 3}}
	if !slices.Equal(res.Classes, want) || res.Strata[0].Class != "cat" {
		t.Errorf("classes %+v, first stratum %+v; want %+v and cat's strata first", res.Classes, res.Strata[0], want)
	}
	c.Method = MethodHardest
	if _, err := SelectSubset(c, io.Discard); err == nil || !strings.Contains(err.Error(), "variant of ccs and elfs") {
		t.Errorf("by class with hardest: error %v", err)
	}
}

// TestSelectSubsetELFSByClassScratch: ELFS with a proxy trained from
// random weights records its own table beside the fine-tuned proxy's, and
// by class takes each pseudo-class's share of the budget (2 clusters of 12
// → 3 and 3 of 6).
func TestSelectSubsetELFSByClassScratch(t *testing.T) {
	model := testmodel.Dir(t, true)
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	c := subsetConfig(t, model, testmodel.Topic(t, dir, 24), work, MethodELFS, 0.25)
	c.ByClass, c.Proxy = true, ProxyScratch
	var log bytes.Buffer
	res, err := SelectSubset(c, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(res.Dynamics, "dynamics-pseudo-scratch.jsonl") || res.Proxy != ProxyScratch ||
		!strings.Contains(log.String(), "from random weights") {
		t.Errorf("scored %s with proxy %q; log:\n%s", res.Dynamics, res.Proxy, log.String())
	}
	if !slices.Equal(res.ClusterSizes, []int{12, 12}) || !slices.Equal(res.ClusterTaken, []int{3, 3}) || res.Selected != 6 {
		t.Errorf("clusters %v, taken %v, selected %d; want 3 of each 12", res.ClusterSizes, res.ClusterTaken, res.Selected)
	}
	var saved Config
	if b, err := os.ReadFile(filepath.Join(work, "dynamics-pseudo-scratch-run", "best", "train_config.json")); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(b, &saved); err != nil || !saved.FromScratch {
		t.Errorf("the proxy run's config: from_scratch %v (%v)", saved.FromScratch, err)
	}
	// The fine-tuned proxy's table is another file: a base selection records it anew.
	c.Proxy, c.ByClass = ProxyBase, false
	c.Out = filepath.Join(dir, "base.jsonl")
	res2, err := SelectSubset(c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(res2.Dynamics, "dynamics-pseudo.jsonl") || res2.Proxy != ProxyBase {
		t.Errorf("base proxy scored %s (%q)", res2.Dynamics, res2.Proxy)
	}
	c.Proxy = "pretrained"
	if _, err := SelectSubset(c, io.Discard); err == nil || !strings.Contains(err.Error(), `proxy "pretrained"`) {
		t.Errorf("unknown proxy: error %v", err)
	}
	c.Proxy, c.Dynamics = ProxyScratch, res2.Dynamics
	if _, err := SelectSubset(c, io.Discard); err == nil || !strings.Contains(err.Error(), "a given dynamics table replaces it") {
		t.Errorf("scratch proxy and a given table: error %v", err)
	}
	c.Method, c.Dynamics = MethodRandom, ""
	if _, err := SelectSubset(c, io.Discard); err == nil || !strings.Contains(err.Error(), "random selection records none") {
		t.Errorf("scratch proxy with random: error %v", err)
	}
}

// TestSelectSubsetBetaSearch: every candidate β that leaves room for the
// budget gets a run, and the chosen β is the one with the best valid metric.
func TestSelectSubsetBetaSearch(t *testing.T) {
	model := testmodel.Dir(t, true)
	dir := t.TempDir()
	data := testmodel.Topic(t, dir, 24)
	c := subsetConfig(t, model, data, filepath.Join(dir, "work"), MethodCCS, 0.5)
	c.Run.Valid, c.BetaSearch = data, true
	defer func(saved []float64) { BetaCandidates = saved }(BetaCandidates)
	BetaCandidates = []float64{0, 0.3, 0.6} // three runs keep the test short
	res, err := SelectSubset(c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// Budget 12 of 24: β 0.6 leaves 10, too few; 0 and 0.3 run.
	if len(res.BetaSearch) != 2 || res.Beta == nil || res.Dropped != dropCount(*res.Beta, 24) {
		t.Fatalf("β search %v, chose %v", res.BetaSearch, res.Beta)
	}
	best, ok := res.BetaSearch[fmt.Sprint(*res.Beta)]
	if !ok {
		t.Fatalf("chose β %v, not a candidate that ran: %v", *res.Beta, res.BetaSearch)
	}
	for b, m := range res.BetaSearch {
		if m > best {
			t.Errorf("chose β %v (valid %v) but β %s scored %v", *res.Beta, best, b, m)
		}
	}
	c.Run.Valid = ""
	if _, err := SelectSubset(c, io.Discard); err == nil || !strings.Contains(err.Error(), "needs a validation file") {
		t.Errorf("β search without valid: error %v", err)
	}
}

// TestUnusedCoresetSettings: coreset settings without a coreset method,
// and dynamics_every without dynamics, are errors naming the key; train's
// own checks still run first.
func TestUnusedCoresetSettings(t *testing.T) {
	c := DefaultConfig()
	c.Model, c.Train = "m", "t.jsonl"
	for _, k := range coresetOnly {
		if err := c.Unused(map[string]bool{k: true}); err == nil || !strings.HasPrefix(err.Error(), k+" applies only with a coreset") {
			t.Errorf("%s without a coreset: got %v", k, err)
		}
	}
	if err := c.Unused(map[string]bool{"dynamics_every": true}); err == nil || !strings.HasPrefix(err.Error(), "dynamics_every applies only") {
		t.Errorf("dynamics_every alone: got %v", err)
	}
	if err := c.Unused(map[string]bool{"router": true}); err == nil || !strings.HasPrefix(err.Error(), "router applies only to sparse runs") {
		t.Errorf("train's check: got %v", err)
	}
	with := c
	with.Coreset, with.RecordDynamics = MethodCCS, true
	if err := with.Unused(map[string]bool{"coreset_ratio": true, "dynamics_every": true}); err != nil {
		t.Errorf("with a coreset: %v", err)
	}
}
