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

	"github.com/sparsetune/sparsetune/internal/atomicfile"
	"github.com/sparsetune/sparsetune/train"
)

// PlanFile is the sweep's plan inside the sweep directory: what every job
// reads, so a job started on another machine runs exactly what the sweep
// asked for.
const PlanFile = "sweep.json"

// Plan is a sweep: one dense point and one sparse run per target, all with
// the same base configuration, and optionally a frontier computed post hoc
// from one of the runs' routers.
type Plan struct {
	Targets  []float64    `json:"targets"`                   // compute targets, one retrained run each
	DenseRef string       `json:"dense_reference,omitempty"` // a dense fine-tuned model as the dense point; "" trains one (job 0)
	Frontier FrontierPlan `json:"frontier"`
	Base     train.Config `json:"base"` // every run's config; out_dir, target and resume are set per job
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
	Name   string  // directory under the sweep directory: "dense" or "target-0.50"
	Target float64 // 0 for the dense point
}

// Jobs lists the plan's jobs: index 0 is the dense point, 1… the targets in
// the order given.
func (p *Plan) Jobs() []Job {
	jobs := []Job{{Index: 0, Name: "dense"}}
	for i, t := range p.Targets {
		jobs = append(jobs, Job{Index: i + 1, Name: jobName(t), Target: t})
	}
	return jobs
}

func jobName(t float64) string { return fmt.Sprintf("target-%.2f", t) }

// Validate reports the first thing in the plan that cannot run.
func (p *Plan) Validate() error {
	if len(p.Targets) == 0 {
		return fmt.Errorf("targets: give at least one compute target (e.g. 0.9,0.7,0.5,0.3)")
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
	if p.Base.Target != 0 {
		return fmt.Errorf("target: a sweep sets each run's target from its targets list; leave target unset")
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
func (p *Plan) Config(dir string, j Job) train.Config {
	c := p.Base
	c.OutDir, c.Target, c.Resume = filepath.Join(dir, j.Name), j.Target, false
	if j.Target == 0 {
		c.Stage2Steps, c.TargetWarmup, c.Distill = 0, 0, 0 // sparse-only settings
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
	for _, s := range []*string{&p.Base.Model, &p.Base.Train, &p.Base.Valid, &p.Base.Test, &p.Base.CacheDir, &p.DenseRef} {
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
	p := &Plan{Base: train.DefaultConfig()} // settings the file does not name keep their defaults
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
