package train

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/internal/runlock"
	"github.com/sparsetune/sparsetune/nn"
)

// run is one training run in progress: what Run's steps share.
type run struct {
	cfg   Config
	hooks Hooks
	log   io.Writer
	lock  *runlock.Lock

	tok   data.Tokenizer
	model *nn.Model
	ds    *data.Dataset
	sp    *sparsity // nil: dense fine-tuning
	opt   *AdamW
	st    *State

	tr      *trainer   // the training graph of the current stage
	ev      *evaluator // the evaluation graph (hard masks when sparse); rebuilt once τ is calibrated
	metrics *metricsFile
	saver   *saver
	bud     *budget // which sparse evaluations compete for best (budget.go)
	bar     *progress
	order   *epochOrder
	last    StepRecord // the latest step's record
	timer   time.Time  // when the previous step ended
	lower   bool       // the metric is perplexity: lower is better
	// stoppedEarly: patience ran out before the last step.
	stoppedEarly bool
}

// setup prepares a run: it checks and resolves the config (every default
// that depends on the model or the steps filled in), takes the run
// directory, loads the tokenizer, the model and the data (tokenized once,
// cached by tokenizer and data hash), creates the routers, cost model and
// target control of a sparse run (with trainable routers the base weights
// are frozen, trainable.go) and the optimizer, restores the state of a
// resumed run, prints the resolved config and builds the graphs.
func setup(cfg Config, log io.Writer, hooks []Hooks) (r *run, err error) {
	if len(hooks) > 1 {
		panic("train.Run: at most one Hooks")
	}
	r = &run{cfg: cfg, log: log, st: &State{BestStep: -1}, order: &epochOrder{}}
	if len(hooks) == 1 {
		r.hooks = hooks[0]
	}
	if err := r.cfg.Validate(); err != nil {
		return nil, err
	}
	if r.lock, err = prepareRunDir(&r.cfg); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	c := &r.cfg
	if r.tok, err = data.LoadTokenizer(c.Model); err != nil {
		return r, err
	}
	if err := checkBaseModel("model", c.Model); err != nil {
		return r, err
	}
	mc, err := nn.LoadConfig(c.Model)
	if err != nil {
		return r, err
	}
	if err := c.resolve(mc); err != nil {
		return r, err
	}
	if r.model, r.ds, err = loadModel(c, mc, r.tok); err != nil {
		return r, err
	}
	if err := freezeBase(c, r.model); err != nil {
		return r, err
	}
	if c.Target > 0 {
		if r.sp, err = newSparsity(c, r.model); err != nil {
			return r, err
		}
	}
	if r.opt, err = newOptimizer(c, r.model, r.sp); err != nil {
		return r, err
	}
	if c.Resume {
		if err := resume(c, r.model, r.sp, r.opt, r.st, log); err != nil {
			return r, err
		}
	}
	printConfig(log, c, r.model, r.ds, r.sp) // resolved, and checked against a resumed run's
	return r, r.build()
}

// resolve fills in the settings whose default depends on the base model
// (seq_len), the run directory (cache_dir) or the steps (stage2_steps and
// target_warmup of a sparse run), so that the config printed and saved is
// the one the run follows. It is idempotent: a resolved config, such as a
// checkpoint's, stays as it is.
func (c *Config) resolve(mc *nn.Config) error {
	if c.SeqLen == 0 {
		c.SeqLen = min(mc.MaxPos, 256)
	}
	if err := mc.CheckLength(c.SeqLen); err != nil {
		return fmt.Errorf("seq_len: %w", err)
	}
	c.resolveStages()
	return nil
}

// resolveStages fills in a sparse run's stage2_steps and target_warmup
// when they are 0 (their defaults depend on steps). Idempotent; newSparsity
// calls it too, for the callers that build a sparse run outside Run.
func (c *Config) resolveStages() {
	if c.Target == 0 {
		return
	}
	if c.Stage2Steps == 0 && c.Trainable == TrainRouters {
		// Stage 2 freezes the routers, so with a frozen base only a new
		// head still learns: keep it short, but long enough to evaluate
		// the hard masks (only stage-2 checkpoints compete for best).
		c.Stage2Steps = max(1, c.Steps/10)
	}
	if c.Stage2Steps == 0 {
		c.Stage2Steps = max(1, c.Steps/3) // at least one: only stage-2 evaluations compete for best; SpamAssassin at target 0.5: a third (with 32-batch calibration) came within 0.35 points of dense
	}
	if c.TargetWarmup == 0 {
		// Nine tenths of stage 1. A ramp over half of it let the routers
		// of the later layers, which learn fastest, take the whole cut
		// within a few dozen steps (SpamAssassin at 0.25: layers 1–3 ran
		// for a few tokens a sequence and layer 0 kept 0.94); a slower
		// ramp leaves the task loss time to spread it (docs/results.md).
		c.TargetWarmup = (c.Steps - c.Stage2Steps) * 9 / 10
	}
}

// build makes the graphs, one for training (backward, dropout; rebuilt
// when stage 2 starts), one for evaluation, and opens what the loop
// writes: metrics.jsonl, checkpoints, the progress bar.
func (r *run) build() (err error) {
	c := &r.cfg
	if r.sp != nil {
		r.sp.stage = 1 // until τ is calibrated at the switch (Run)
		if r.st.Step > r.sp.switchStep() {
			r.sp.stage = 2
		}
	}
	r.tr = &trainer{model: r.model, sp: r.sp, opt: r.opt, opts: nn.BuildOptions{B: c.Batch, T: c.SeqLen, Dropout: c.Dropout, Seed: c.Seed}, borrow: c.GradAccum == 1}
	if err := r.tr.build(r.st); err != nil {
		return err
	}
	if r.ev, err = newEvaluator(r.model, c.Batch, c.SeqLen, r.sp); err != nil {
		return err
	}
	if r.metrics, err = openMetrics(c.OutDir, r.st.Step); err != nil {
		return err
	}
	r.saver = &saver{cfg: c, model: r.model, opt: r.opt, tr: r.tr, sp: r.sp, st: r.st}
	r.lower = r.model.Config.Task == nn.CausalLM
	r.bud = newBudget(c)
	r.bar = newProgress(c.Steps, r.log)
	r.timer = time.Now()
	return nil
}

// close releases what setup and build took, in reverse order.
func (r *run) close() {
	if r.metrics != nil {
		r.metrics.Close()
	}
	if r.ev != nil {
		r.ev.Close()
	}
	if r.tr != nil && r.tr.run != nil {
		r.tr.Close()
	}
	r.lock.Release()
}

// printConfig prints the resolved configuration (one JSON object), the
// model, the data and the sparsity settings.
func printConfig(w io.Writer, cfg *Config, m *nn.Model, ds *data.Dataset, sp *sparsity) {
	b, err := json.Marshal(cfg)
	if err != nil { // Validate rejects non-finite settings, so this is a bug worth seeing
		b = fmt.Appendf(nil, "(cannot be rendered: %v)", err)
	}
	fmt.Fprintf(w, "config: %s\n", b)
	fmt.Fprintf(w, "model: %s %s, %d layers, d %d, %d heads, ffn %d, %d parameters\n", m.Config.Family, m.Config.Task, m.Config.L, m.Config.D, m.Config.H, m.Config.F, m.Params.Count())
	fmt.Fprintf(w, "data: %d train, %d valid sequences of ≤ %d tokens; %+v\n", len(ds.Train.Seqs), len(ds.Valid.Seqs), cfg.SeqLen, ds.Report)
	if sp != nil {
		sp.describe(w)
	}
}
