// Package train fine-tunes sparsetune models: the training loop (Run), its
// config (Config, Task, Schedule), the learning-rate schedule, the sparsity
// control of a sparse run (routers, compute penalty, the two stages) and
// its checkpoints and run directory.
//
// Run is the training script, top to bottom: setup, the stage-2 switch of a
// sparse run, the step, evaluate-and-keep-best, the checkpoint, and finish
// (test, harden, deliver). It loads the base model and the data
// (tokenized once and cached), builds a training graph and an evaluation
// graph, and steps AdamW (decoupled weight decay, global-norm clipping) under
// a warm-up + cosine/linear schedule with gradient accumulation. It evaluates
// every eval_every steps with the task's metric (accuracy and macro-F1 for
// classifiers, perplexity for language models), keeps the best checkpoint,
// stops early after patience evaluations without improvement, and writes an
// atomic checkpoint (weights, optimizer moments, data position, RNG states)
// every save_every steps, so that --resume continues exactly: the resumed
// losses equal the uninterrupted run's. A run holds its directory's lock
// (LockRunDir) from start to end, so a second process writing the same
// directory fails naming the first, and a resume refuses settings that
// differ from the saved train_config.json except those that change only
// what is written or reported (steps of a dense run, eval_every, ...).
//
// With a compute target (Config.Target > 0) the same loop trains sparsely,
// in two stages after LTE (Zheng et al. 2024, §3.3): stage 1 trains model
// and routers with soft gates under task loss + the compute penalty λ1(ĉ−t)
// + λ2(ĉ−t)² (package loss), the target t ramping from 1 to the goal over
// nine tenths of stage 1 and λ rising by explicit gradient ascent; stage 2
// hardens the gates into masks (package router), freezes the routers and
// fine-tunes the model to adapt. τ is calibrated on the masks themselves,
// through the inference engine as hardening does (harden.CalibrateRouters),
// at the switch and stage2_calibrations times more during stage 2, so that
// the model adapts to the masks its sparse checkpoint keeps (step.go).
// Evaluations then measure the compute the masks actually spend; only
// stage-2 evaluations within budget_tol of the target compete for the best
// checkpoint (when none is, the closest is kept and the summary says
// train_budget_met false; budget_met is about the delivered sparse
// checkpoint). The run ends by hardening the best checkpoint into a sparse
// checkpoint (its weight matrices stored as the dtype setting says), whose
// metric and compute, measured by the inference engine on valid and test,
// are the summary's (budget.go, evaluate.go; the hardening itself is package
// harden). OpenRun loads a sparse run's checkpoint for the commands above
// train (harden, the one-run frontier of package sweep).
// With routing "topk" (Config.Routing; sparse_topk.go) every token runs
// each layer's k heads and k groups instead: the routers train through the
// straight-through top-k mask, the compute is fixed, so the multipliers
// stay 0 and there is no τ to calibrate; the stages, distillation and the
// router learning rate are unchanged.
// With Config.Trainable "routers" only the routers and a new task head
// learn: the base weights are frozen (nn.Param.Frozen: no gradients, no
// optimizer state), and distillation from the dense model, which shares the
// frozen weights rather than copying them, is on by default (Deja Vu's
// post-hoc setting under our cost objective and target control).
//
// Config holds every setting with a documented default; Validate checks
// it, and Unused names settings a run would ignore. Run resolves it (every
// default that depends on the model or the steps) before printing and
// saving it. Each step's figures are a StepRecord, one line of
// metrics.jsonl. Hooks let the packages above train extend the loop
// without settings of their own in Config: package coreset records
// training dynamics through them, and tests stop a run with ErrStopped.
//
// Every evaluation, the graph's (eval.go, meter.go) and the engine's of the
// delivered sparse checkpoint (evaluate.go), feeds one metrics.Accumulator.
// For the packages above train: OpenEvalModel loads a model directory or a
// run's checkpoint (a sparse run's with its routers' hard masks) for
// evaluation in the graph, which package evaluate's eval runs; Stepper runs a
// run's training steps outside Run, which package bench times.
//
// # Where things live
//
//   - run.go: Run, the Summary it returns and the State a checkpoint saves;
//     hooks.go: Hooks, Progress, ErrStopped.
//   - setup.go: what Run does before the first step (resolve, load, resume,
//     print, build the graphs); step.go: one step, its StepRecord, the
//     switch to stage 2 and the evaluation; finish.go: the delivery.
//   - config.go, config_check.go, task.go, schedule.go: the settings;
//     resume_check.go: what a resume may change.
//   - sparse.go (routers, cost, controller, calibration), budget.go (which
//     evaluations compete for best), trainer.go (the training graph),
//     trainable.go (routers-only runs), adamw.go (the optimizer);
//     sparse_topk.go: the top-k run (each layer's k, no penalty or τ).
//   - eval.go, meter.go: the graph's evaluator and its measured compute;
//     evaluate.go: the engine's evaluation of the delivered sparse
//     checkpoint; harden.go: OpenRun, LoadedRun and the hardening of a
//     run's best checkpoint; retune.go: what a LoadedRun offers the
//     packages above (τ, hard-mask evaluation and stage-2 adaptation for
//     the frontier; a top-k run's SetTopK is in sparse_topk.go).
//   - evalmodel.go: OpenEvalModel (package evaluate); stepper.go: Stepper
//     (package bench).
//   - support.go (data, batches, checkpoints, metrics.jsonl), rundir.go
//     (the run directory and its lock), modeldir.go, embedded.go (the
//     built-in default), embed.go (pooled hidden states for package
//     coreset).
//   - Elsewhere: coreset selection and dynamics recording (package coreset,
//     whose Train drives a run on a subset), the hardening (package harden),
//     evaluation and scoring (package evaluate), benchmarks (package bench),
//     sweeps (package sweep).
package train
