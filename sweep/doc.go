// Package sweep maps the quality/compute frontier of sparse fine-tuning.
//
// A sweep is one training run per compute target plus one dense point, all
// with the same base configuration (Plan, saved as sweep.json in the sweep
// directory), sharing one tokenized-data cache. Each run is a job with its
// own directory (dense/, target-0.50/, ...); a job writes result.json only
// when it has finished, so a sweep that is run again skips the finished jobs
// and resumes an interrupted one from its latest checkpoint. Run executes
// the jobs in one process, some at a time; RunJob executes one, which is
// what each task of a Slurm array or a Kubernetes Indexed Job runs (Emit
// writes either), and Collect merges the jobs' results however they were
// run into results.csv, results.md and two plots: quality against measured
// compute and against measured latency, the dense model marked.
//
// With data ratios (Plan.Ratios) the runs train on coreset subsets of the
// training data instead, one dense run per ratio or one sparse run per
// target and ratio; when the coreset method scores by label dynamics, the
// dense job 0 records them once for every ratio job (Plan.SharesDynamics),
// and the tables gain a ratio column and a plot of quality against it.
//
// The job of one target (by default the one nearest 0.5) also computes a
// frontier from its own routers (Frontier): the hardening threshold (a
// top-k run: each layer's k) is recalibrated for many targets, with and without a short stage-2
// adaptation, and the tables set these cheap points beside the retrained
// ones. Report renders a sweep or a single run into one Markdown file with
// its images beside it.
//
// # Where things live
//
//   - plan.go: Plan (sweep.json), its jobs and their directories; run.go:
//     Run and RunJob, the Result a finished job leaves; emit.go: the Slurm
//     and Kubernetes files (Emit).
//   - frontier.go: the one-run frontier (Frontier, FrontierConfig);
//     latency.go: timing a job's sparse checkpoint on the engine, through
//     package bench (the one place a sweep times the engine).
//   - collect.go, table.go: Collect and the results table (Row); load.go,
//     history.go: reading jobs' results and metrics.jsonl back; plot.go:
//     the PNG plots; report.go: Report.
package sweep
