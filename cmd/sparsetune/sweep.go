package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/sparsetune/sparsetune/coreset"
	"github.com/sparsetune/sparsetune/internal/atomicfile"
	"github.com/sparsetune/sparsetune/internal/blas"
	"github.com/sparsetune/sparsetune/internal/jsonfile"
	"github.com/sparsetune/sparsetune/sweep"
	"github.com/sparsetune/sparsetune/train"
)

const sweepUsage = `sweep --targets 0.9,0.7,0.5,0.3 --out-dir DIR [--parallel N] [train flags]
       sparsetune sweep --ratios 0.1,0.3,0.5 --coreset ccs|elfs|random|hardest|easiest [--targets ...] --out-dir DIR [train flags]
       sparsetune sweep --out-dir DIR --index N          (one job, as a scheduler's array task)
       sparsetune sweep --targets ... --out-dir DIR --emit slurm|k8s
       sparsetune sweep collect DIR
       sparsetune sweep frontier RUN_DIR --targets 0.3,0.5,0.7 [--adapt-steps N]`

// sweepFlags are the sweep's own flags besides the training ones.
type sweepFlags struct {
	targets, ratios            []float64
	frontierTargets            []float64
	parallel, index, adapt     int
	frontierFrom, emit, emitTo string
	emitOpts                   sweep.EmitOptions
	configFile                 string
	latency                    bool
}

func (s *sweepFlags) register(fs *pflag.FlagSet) {
	fs.Float64SliceVar(&s.targets, "targets", nil, "compute targets, one run each (e.g. 0.9,0.7,0.5,0.3)")
	fs.Float64SliceVar(&s.ratios, "ratios", nil, "data ratios, one run each on the coreset --coreset chooses at that ratio (e.g. 0.1,0.3,0.5); with --targets, one sparse run per target and ratio. ccs, hardest and easiest score every ratio by the dynamics the dense job 0 records (docs/sweep.md)")
	fs.IntVar(&s.parallel, "parallel", 1, "runs trained at once in this process (after the dense run)")
	fs.IntVar(&s.index, "index", -1, "run only job N of the sweep in --out-dir (0: the dense point, 1…: the targets, ratios or target×ratio pairs in order)")
	fs.StringVar(&s.frontierFrom, "frontier-from", "auto", "target whose routers give the one-run frontier: auto (the target nearest 0.5; none with --ratios), none, or one of --targets")
	fs.Float64SliceVar(&s.frontierTargets, "frontier-targets", nil, "targets of the one-run frontier (default: 0.2 to 1 by 0.1, and --targets)")
	fs.IntVar(&s.adapt, "frontier-adapt-steps", -1, "stage-2 steps per adapted frontier point (default: a tenth of --steps; 0: post hoc points only)")
	fs.StringVar(&s.emit, "emit", "", "write a Slurm array script (slurm) or a Kubernetes Indexed Job manifest (k8s) instead of running")
	fs.StringVar(&s.emitTo, "emit-file", "", "where --emit writes (default: sweep.slurm or sweep-job.yaml in --out-dir)")
	fs.StringVar(&s.emitOpts.Binary, "binary", "sparsetune", "the command that runs sparsetune on the scheduler's nodes")
	fs.IntVar(&s.emitOpts.CPUs, "cpus", 2, "cores per job on the scheduler (also its SPARSETUNE_THREADS)")
	fs.StringVar(&s.emitOpts.Name, "job-name", "sparsetune-sweep", "the scheduler's name for the sweep")
	fs.StringVar(&s.emitOpts.Image, "image", "sparsetune:latest", "container image holding the binary (k8s)")
	fs.StringVar(&s.emitOpts.Claim, "claim", "sparsetune", "persistent volume claim holding the model, the data and --out-dir (k8s)")
	fs.StringVar(&s.emitOpts.Mount, "mount", "", "where the claim is mounted (k8s; default: --out-dir's top-level directory)")
	fs.StringVar(&s.emitOpts.Memory, "memory", "8Gi", "memory per job (k8s)")
	fs.StringVar(&s.configFile, "config", "", "JSON training config for every run (keys as in train_config.json)")
	fs.BoolVar(&s.latency, "latency", true, latencyUsage)
}

const latencyUsage = "time each sparse checkpoint on the inference engine when collecting (--latency=false: only timings measured before)"

func runSweep(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "collect" {
		return runSweepCollect(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "frontier" {
		return runSweepFrontier(args[1:], stdout, stderr)
	}
	fs := newFlags("sweep", sweepUsage, stderr)
	fc := coreset.DefaultConfig()
	fc.OutDir = filepath.Join("runs", "sweep")
	trainFlags(fs, &fc)
	fs.Lookup("out-dir").Usage = "sweep directory: sweep.json, one directory per job, the tables and plots"
	fs.MarkHidden("target")
	fs.MarkHidden("resume")
	var sf sweepFlags
	sf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case fs.Changed("target"):
		return usagef("--target is one run's; a sweep takes --targets")
	case fs.Changed("resume"):
		return usagef("a sweep resumes by itself: run it again with the same --out-dir")
	case sf.parallel < 1:
		return usagef("--parallel must be ≥ 1, got %d", sf.parallel)
	}
	dir, err := filepath.Abs(fc.OutDir)
	if err != nil {
		return err
	}
	plan, err := sweepPlan(fs, &fc, &sf, dir, stderr)
	if err != nil {
		return err
	}
	if err := sweep.WritePlan(dir, plan); err != nil {
		return err
	}
	if sf.emit != "" {
		return emitSweep(dir, plan, &sf, stdout, stderr)
	}
	initBLAS(stderr, false)
	fmt.Fprintf(stderr, "blas: %s\n", blas.Name())
	if sf.index >= 0 {
		if err := sweep.RunJob(dir, plan, sf.index, stderr); err != nil {
			return err
		}
		return printJSON(stdout, map[string]any{"sweep_dir": dir, "index": sf.index, "job": plan.Jobs()[sf.index].Name})
	}
	if err := sweep.Run(dir, plan, sf.parallel, stderr); err != nil {
		return err
	}
	return collect(dir, sf.latency, stdout, stderr)
}

// sweepPlan is the plan the flags describe, or, when they describe none
// (only --out-dir, maybe --index or --emit), the plan saved in dir.
func sweepPlan(fs *pflag.FlagSet, fc *coreset.Config, sf *sweepFlags, dir string, stderr io.Writer) (*sweep.Plan, error) {
	described := sf.configFile != ""
	fs.Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "out-dir", "index", "parallel", "emit", "emit-file", "binary", "cpus", "job-name", "image", "claim", "mount", "memory", "latency":
		default:
			described = true
		}
	})
	if !described {
		if p, err := sweep.ReadPlan(dir); err == nil {
			return p, nil
		} else if _, serr := os.Stat(filepath.Join(dir, sweep.PlanFile)); serr == nil {
			return nil, err
		}
		return nil, usagef("%s holds no sweep yet: give --targets (or --ratios) and the training flags", dir)
	}
	base := coreset.DefaultConfig()
	cfg, err := resolveConfig(fs, fc, sf.configFile, base)
	if err != nil {
		return nil, usageError{err}
	}
	if cfg.Model == "" && cfg.Train == "" {
		if base.Config, err = train.EmbeddedConfig(filepath.Join("runs", ".builtin"), stderr); err != nil {
			return nil, err
		}
		base.Target = 0
		if cfg, err = resolveConfig(fs, fc, sf.configFile, base); err != nil {
			return nil, usageError{err}
		}
	}
	if len(sf.targets) == 0 && len(sf.ratios) == 0 {
		return nil, usagef("--targets: give the compute targets, e.g. --targets 0.9,0.7,0.5,0.3, or data ratios with a coreset method, e.g. --ratios 0.1,0.3,0.5 --coreset ccs")
	}
	if fs.Changed("coreset-ratio") {
		return nil, usagef("--coreset-ratio is one run's; a sweep takes --ratios")
	}
	p := &sweep.Plan{Targets: sf.targets, Ratios: sf.ratios, DenseRef: cfg.DenseRef, Base: cfg}
	p.Base.OutDir, p.Base.DenseRef, p.Base.Resume = "", "", false
	switch sf.frontierFrom {
	case "none":
	case "auto":
		if len(sf.ratios) == 0 && len(sf.targets) > 0 {
			p.Frontier.From = sweep.NearestTarget(sf.targets)
		}
	default:
		if p.Frontier.From, err = strconv.ParseFloat(sf.frontierFrom, 64); err != nil {
			return nil, usagef("--frontier-from %q: want auto, none or one of --targets", sf.frontierFrom)
		}
	}
	if p.Frontier.From != 0 {
		p.Frontier.Targets = sf.frontierTargets
		if len(p.Frontier.Targets) == 0 {
			p.Frontier.Targets = sweep.DefaultFrontierTargets(sf.targets)
		}
		p.Frontier.AdaptSteps = sf.adapt
		if sf.adapt < 0 {
			p.Frontier.AdaptSteps = max(1, cfg.Steps/10)
		}
	}
	if err := p.Absolute(); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, usageError{err}
	}
	return p, nil
}

// emitSweep writes the scheduler file for the plan.
func emitSweep(dir string, p *sweep.Plan, sf *sweepFlags, stdout, stderr io.Writer) error {
	to := sf.emitTo
	if to == "" {
		to = map[string]string{"slurm": "sweep.slurm", "k8s": "sweep-job.yaml"}[sf.emit]
		if to == "" {
			return usagef("--emit %q: want slurm or k8s", sf.emit)
		}
		to = filepath.Join(dir, to)
	}
	var b bytes.Buffer
	opts := sf.emitOpts
	opts.File = to
	if err := sweep.Emit(&b, sf.emit, dir, p, opts); err != nil {
		return usageError{err}
	}
	if err := atomicfile.WriteFile(to, b.Bytes(), 0o755); err != nil {
		return err
	}
	what := "the targets"
	switch {
	case len(p.Ratios) > 0 && len(p.Targets) == 0:
		what = "the data ratios"
	case len(p.Ratios) > 0:
		what = "one per target and data ratio"
	}
	first := ""
	if p.SharesDynamics() {
		first = "; index 0 must finish first (the ratio jobs score with its training dynamics)"
	}
	fmt.Fprintf(stderr, "wrote %s: %d jobs (index 0 the dense point, 1-%d %s%s); submit with `%s`, then run `sparsetune sweep collect %s`\n",
		to, len(p.Jobs()), len(p.Jobs())-1, what, first, sweep.SubmitHint(sf.emit, to, dir, p, opts.Parallel), dir)
	return printJSON(stdout, map[string]any{"sweep_dir": dir, "emitted": to, "jobs": len(p.Jobs())})
}

func runSweepCollect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sweep collect", "sweep collect DIR [--latency=false]", stderr)
	latency := fs.Bool("latency", true, latencyUsage)
	if err := fs.Parse(args); err != nil {
		return parseErr(err)
	}
	if fs.NArg() != 1 {
		return usagef("want one sweep directory")
	}
	if *latency {
		initBLAS(stderr, false)
	}
	return collect(fs.Arg(0), *latency, stdout, stderr)
}

// collect merges a sweep's results, shows the table and prints where the
// files are as the last line.
func collect(dir string, latency bool, stdout, stderr io.Writer) error {
	t, err := sweep.Collect(dir, latency)
	if err != nil {
		return err
	}
	stderr.Write(t.Markdown())
	files := t.Files()
	for i, f := range files {
		files[i] = filepath.Join(dir, f)
	}
	return printJSON(stdout, map[string]any{"sweep_dir": dir, "rows": len(t.Rows), "files": files})
}

func runSweepFrontier(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sweep frontier", "sweep frontier RUN_DIR --targets 0.3,0.5,0.7 [--adapt-steps N]", stderr)
	var fc sweep.FrontierConfig
	fs.Float64SliceVar(&fc.Targets, "targets", nil, "compute targets to recalibrate the run's thresholds for")
	fs.IntVar(&fc.AdaptSteps, "adapt-steps", 0, "also adapt each point with this many stage-2 steps (0: post hoc only)")
	fs.StringVar(&fc.CacheDir, "cache-dir", "", "tokenized-data cache (default: the run's)")
	if err := fs.Parse(args); err != nil {
		return parseErr(err)
	}
	if fs.NArg() != 1 || len(fc.Targets) == 0 {
		return usagef("want one sparse run directory and --targets")
	}
	fc.Run = fs.Arg(0)
	initBLAS(stderr, false)
	curve, err := sweep.Frontier(fc, stderr)
	if err != nil {
		return err
	}
	path := filepath.Join(filepath.Dir(curve.Checkpoint), sweep.FrontierFile) // in the run directory, where report finds it
	if err := jsonfile.Write(path, curve); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s\n", path)
	return printJSON(stdout, curve)
}

// parseErr turns a flag parse failure into a usage error (help stays help).
func parseErr(err error) error {
	if err == pflag.ErrHelp {
		return err
	}
	return usageError{err}
}
