package sweep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/sparsetune/sparsetune/coreset"
	"github.com/sparsetune/sparsetune/internal/atomicfile"
	"github.com/sparsetune/sparsetune/train"
)

// PlanFile is the sweep's plan inside the sweep directory: what every job
// reads, so a job started on another machine runs exactly what the sweep
// asked for.
const PlanFile = "sweep.json"

// Plan is a sweep: one dense point and one sparse run per target, all with
// the same base configuration, and optionally a frontier computed post hoc
// from one of the runs' routers. With data ratios the runs train on coreset
// subsets of the training data (Base.Coreset chooses them): one dense run
// per ratio, or, with targets too, one sparse run per target and ratio.
type Plan struct {
	Targets  []float64      `json:"targets"`                   // compute targets, one retrained run each
	Ratios   []float64      `json:"ratios,omitempty"`          // coreset ratios (fractions of the training data), one run each (per target)
	DenseRef string         `json:"dense_reference,omitempty"` // a dense fine-tuned model as the dense point; "" trains one (job 0)
	Frontier FrontierPlan   `json:"frontier"`
	Base     coreset.Config `json:"base"` // every run's config; out_dir, target and resume are set per job
}

// FrontierPlan is the one-run frontier of a sweep: the routers of the run
// at From, recalibrated for each of Targets.
type FrontierPlan struct {
	From       float64   `json:"from"`        // the retrained target whose routers give the curve; 0: no frontier
	Targets    []float64 `json:"targets"`     // thresholds are calibrated for these compute targets
	AdaptSteps int       `json:"adapt_steps"` // stage-2 steps per adapted point; 0: post hoc points only
}

// Job is one unit of work of a sweep, run by `sparsetune sweep --index N`.
type Job struct {
	Index  int
	Name   string  // directory under the sweep directory: "dense", "target-0.50", "ratio-0.30" or "target-0.50-ratio-0.30"
	Target float64 // 0 for the dense point and the dense runs on a subset
	Ratio  float64 // the coreset ratio of the job's training data; 0: all of it
}

// DenseJob is the directory of job 0, the dense point.
const DenseJob = "dense"

// Jobs lists the plan's jobs: index 0 is the dense point (on all the
// data), then, in the order given, one job per target, one per ratio, or,
// with both, one per target and ratio (targets outer).
func (p *Plan) Jobs() []Job {
	jobs := []Job{{Index: 0, Name: DenseJob}}
	add := func(t, r float64) {
		jobs = append(jobs, Job{Index: len(jobs), Name: runName(t, r), Target: t, Ratio: r})
	}
	switch {
	case len(p.Ratios) == 0:
		for _, t := range p.Targets {
			add(t, 0)
		}
	case len(p.Targets) == 0:
		for _, r := range p.Ratios {
			add(0, r)
		}
	default:
		for _, t := range p.Targets {
			for _, r := range p.Ratios {
				add(t, r)
			}
		}
	}
	return jobs
}

func jobName(t float64) string   { return fmt.Sprintf("target-%.2f", t) }
func ratioName(r float64) string { return fmt.Sprintf("ratio-%.2f", r) }

// runName is the directory of the run at target t (0: dense) on the
// coreset at ratio r (0: all the data).
func runName(t, r float64) string {
	switch {
	case r == 0:
		return jobName(t)
	case t == 0:
		return ratioName(r)
	}
	return jobName(t) + "-" + ratioName(r)
}

// dynamicsMethods score examples by label dynamics: a run on the true
// labels, which a sweep's dense job can record for every ratio job.
var dynamicsMethods = []string{coreset.MethodCCS, coreset.MethodHardest, coreset.MethodEasiest}

// SharesDynamics reports whether the plan's ratio jobs score their subsets
// with the training dynamics the dense job 0 records: ratios with a method
// that scores by label dynamics (ccs, hardest, easiest), no dynamics
// table given and the base proxy (the dense job fine-tunes the model; a
// scratch proxy is a different run). One dynamics run then serves the
// whole sweep, and job 0 must finish before any ratio job starts.
func (p *Plan) SharesDynamics() bool {
	return len(p.Ratios) > 0 && p.Base.CoresetDynamics == "" && slices.Contains(dynamicsMethods, p.Base.Coreset) &&
		p.Base.CoresetProxy != coreset.ProxyScratch
}

// DynamicsTable is the training-dynamics table the ratio jobs of the sweep
// in dir score with when the plan shares one (SharesDynamics): the one job
// 0 records in its run directory.
func DynamicsTable(dir string) string {
	return filepath.Join(dir, DenseJob, coreset.DynamicsFile)
}

// Validate reports the first thing in the plan that cannot run.
func (p *Plan) Validate() error {
	if len(p.Targets) == 0 && len(p.Ratios) == 0 {
		return fmt.Errorf("targets: give at least one compute target (e.g. 0.9,0.7,0.5,0.3) or data ratio (e.g. 0.1,0.3,0.5 with a coreset method)")
	}
	seen := map[string]bool{}
	for _, t := range p.Targets {
		if !(t > 0 && t <= 1) {
			return fmt.Errorf("targets: %g is not in (0, 1]", t)
		}
		if seen[jobName(t)] {
			return fmt.Errorf("targets: %g appears twice (targets are told apart to two decimals)", t)
		}
		seen[jobName(t)] = true
	}
	for _, r := range p.Ratios {
		if !(r > 0 && r <= 1) {
			return fmt.Errorf("ratios: %g is not in (0, 1]", r)
		}
		if seen[ratioName(r)] {
			return fmt.Errorf("ratios: %g appears twice (ratios are told apart to two decimals)", r)
		}
		seen[ratioName(r)] = true
	}
	if p.Base.Target != 0 {
		return fmt.Errorf("target: a sweep sets each run's target from its targets list; leave target unset")
	}
	if p.Base.CoresetRatio != 0 {
		return fmt.Errorf("coreset_ratio: a sweep sets each run's coreset ratio from its ratios list; leave coreset_ratio unset and give ratios (e.g. --ratios 0.1,0.3,0.5)")
	}
	switch {
	case len(p.Ratios) > 0 && p.Base.Coreset == "":
		return fmt.Errorf("ratios: say how each ratio's subset is chosen with a coreset method (--coreset ccs, elfs, random, hardest or easiest)")
	case len(p.Ratios) == 0 && p.Base.Coreset != "":
		return fmt.Errorf("coreset %s: a sweep trains on coresets only at its ratios: give --ratios (e.g. 0.1,0.3,0.5; one ratio, e.g. --ratios 0.3, trains every target on that subset), or leave --coreset unset", p.Base.Coreset)
	case len(p.Ratios) > 0 && p.Frontier.From != 0:
		return fmt.Errorf("frontier_from: a sweep with ratios has no one-run frontier; leave --frontier-from at auto or none")
	case p.SharesDynamics() && p.DenseRef != "":
		return fmt.Errorf("ratios: coreset %s scores by the training dynamics the sweep's dense run records, and with a dense reference there is none: give --coreset-dynamics (a dynamics table or run directory), or drop --dense-reference", p.Base.Coreset)
	}
	if f := p.Frontier; f.From != 0 {
		if !slices.Contains(p.Targets, f.From) {
			return fmt.Errorf("frontier_from %g is not one of the targets %v", f.From, p.Targets)
		}
		if len(f.Targets) == 0 {
			return fmt.Errorf("frontier_targets: give at least one target for the frontier")
		}
		for _, t := range f.Targets {
			if !(t > 0 && t <= 1) {
				return fmt.Errorf("frontier_targets: %g is not in (0, 1]", t)
			}
		}
		if f.AdaptSteps < 0 {
			return fmt.Errorf("frontier_adapt_steps must be ≥ 0, got %d", f.AdaptSteps)
		}
	}
	for _, j := range p.Jobs() {
		c := p.Config("", j)
		if err := c.Validate(); err != nil {
			return fmt.Errorf("%s: %w", j.Name, err)
		}
	}
	return nil
}

// Config is job j's training configuration in sweep directory dir.
func (p *Plan) Config(dir string, j Job) coreset.Config {
	c := p.Base
	c.OutDir, c.Target, c.Resume = filepath.Join(dir, j.Name), j.Target, false
	c.CoresetRatio = j.Ratio
	switch {
	case j.Ratio == 0:
		c.Coreset = "" // all the data
		if j.Index == 0 && p.SharesDynamics() {
			c.RecordDynamics = true // the dynamics every ratio job scores with
		}
	case p.SharesDynamics():
		c.CoresetDynamics = filepath.Join(dir, DenseJob) // train reads its dynamics.jsonl
	}
	if j.Target == 0 {
		c.Stage2Steps, c.TargetWarmup, c.Distill, c.Trainable = 0, 0, 0, train.TrainAll // sparse-only settings
	} else {
		c.DenseRef = p.DenseRef // the given dense model is evaluated by every sparse run
	}
	if c.CacheDir == "" {
		c.CacheDir = filepath.Join(dir, "cache") // one token cache for every job
	}
	return c
}

// Absolute makes the plan's paths absolute, so that a job started from
// another working directory (a scheduler's) finds the same files.
func (p *Plan) Absolute() error {
	for _, s := range []*string{&p.Base.Model, &p.Base.Train, &p.Base.Valid, &p.Base.Test, &p.Base.CacheDir, &p.Base.CoresetDynamics, &p.DenseRef} {
		if *s == "" {
			continue
		}
		a, err := filepath.Abs(*s)
		if err != nil {
			return err
		}
		*s = a
	}
	return nil
}

// DefaultFrontierTargets are the targets of a frontier when none are given:
// every tenth from 0.2 to 1 and the sweep's own targets, so that the curve
// can be read against every retrained point.
func DefaultFrontierTargets(targets []float64) []float64 {
	var out []float64
	for i := 2; i <= 10; i++ {
		out = append(out, float64(i)/10)
	}
	for _, t := range targets {
		if !slices.ContainsFunc(out, func(u float64) bool { return math.Abs(u-t) < 0.005 }) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// NearestTarget is the target closest to 0.5: by default the frontier's
// source, a run whose routers saw a middle amount of pruning.
func NearestTarget(targets []float64) float64 {
	best := targets[0]
	for _, t := range targets {
		if math.Abs(t-0.5) < math.Abs(best-0.5) {
			best = t
		}
	}
	return best
}

// WritePlan saves p as dir's plan. A directory that already holds a plan
// must hold this one: a sweep is resumed, or run job by job, only with the
// settings it started with. Settings that the saved plan does not name (it
// was written before they existed) count as their defaults.
func WritePlan(dir string, p *Plan) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sweep directory: %w", err)
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	path := filepath.Join(dir, PlanFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return atomicfile.WriteFile(path, b, 0o644)
	}
	saved, err := ReadPlan(dir)
	if err != nil {
		return err
	}
	old, _ := json.MarshalIndent(saved, "", "  ")
	if old = append(old, '\n'); !bytes.Equal(old, b) {
		return fmt.Errorf("%s holds a sweep with other settings (%s); resume it with the same settings, or choose another --out-dir", dir, planDiff(old, b))
	}
	return nil
}

// ReadPlan loads dir's plan.
func ReadPlan(dir string) (*Plan, error) {
	path := filepath.Join(dir, PlanFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s holds no sweep (no %s)", dir, PlanFile)
	}
	if err != nil {
		return nil, err
	}
	p := &Plan{Base: coreset.DefaultConfig()} // settings the file does not name keep their defaults
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return p, nil
}

// planDiff names the first top-level or base setting in which two plans
// differ.
func planDiff(a, b []byte) string {
	var x, y map[string]any
	json.Unmarshal(a, &x)
	json.Unmarshal(b, &y)
	flat := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				for k2, v2 := range sub {
					out[k+"."+k2] = v2
				}
				continue
			}
			out[k] = v
		}
		return out
	}
	fx, fy := flat(x), flat(y)
	keys := make([]string, 0, len(fx)+len(fy))
	for k := range fx {
		keys = append(keys, k)
	}
	for k := range fy {
		if _, ok := fx[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		xa, _ := json.Marshal(fx[k])
		ya, _ := json.Marshal(fy[k])
		if !bytes.Equal(xa, ya) {
			return fmt.Sprintf("%s was %s, now %s", k, xa, ya)
		}
	}
	return "formatting differs"
}
