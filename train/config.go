package train

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/internal/jsonfile"
	"github.com/sparsetune/sparsetune/router"
)

// Config is one training run. Defaults (DefaultConfig) are overridden by a
// JSON config file (unknown keys are errors), then by the flags actually
// given on the command line. The resolved config is printed at the start
// of a run and saved in every checkpoint.
//
// A resumed run (Resume) continues with the settings of the run it
// resumes: its resolved config must equal the checkpoint's saved one (keys
// an older run did not save count as their defaults), except for the keys
// that change only what is written or reported: steps (dense runs only,
// not below the steps done; the decay of the learning rate then ends at
// the new last step), eval_every, save_every, log_every, patience, test,
// dense_reference, calibrate_on, dtype, out_dir, cache_dir, no_cache and
// resume. Any other
// change is refused, naming each key with its old and new value.
type Config struct {
	// Model and task.
	Model      string  `json:"model"`       // Hugging Face model directory of the base model (with tokenizer files)
	Task       Task    `json:"task"`        // "" keeps the model's task; "classification" or "causal-lm" changes the head
	Train      string  `json:"train"`       // training data (.jsonl, .csv, .tsv, .txt, .parquet)
	Valid      string  `json:"valid"`       // validation data; "" carves valid_ratio out of train
	Test       string  `json:"test"`        // test data, evaluated once with the best checkpoint; optional
	ValidRatio float64 `json:"valid_ratio"` // fraction of train used for validation when valid is ""
	TextField  string  `json:"text_field"`  // field holding the text
	LabelField string  `json:"label_field"` // field holding the class label (classification)
	IDField    string  `json:"id_field"`    // field holding a unique example id; "-" derives ids from file and line
	SeqLen     int     `json:"seq_len"`     // tokens per sequence; 0: min(model context, 256)

	// Output.
	OutDir   string `json:"out_dir"`   // run directory: checkpoints, metrics.jsonl, config.json
	CacheDir string `json:"cache_dir"` // tokenized-data cache shared by runs; "" → <out_dir>/../.cache
	NoCache  bool   `json:"no_cache"`  // tokenize the data afresh without reading or writing the cache

	// Optimisation.
	Steps       int      `json:"steps"`        // optimizer steps
	Batch       int      `json:"batch"`        // sequences per micro-batch
	GradAccum   int      `json:"grad_accum"`   // micro-batches per optimizer step
	LR          float64  `json:"lr"`           // peak learning rate
	MinLRRatio  float64  `json:"min_lr_ratio"` // final learning rate as a fraction of lr
	Warmup      int      `json:"warmup"`       // linear warm-up steps
	Schedule    Schedule `json:"schedule"`     // "cosine", "linear" or "constant" decay after warm-up
	WeightDecay float64  `json:"weight_decay"` // AdamW decoupled weight decay (matrices and embeddings only)
	Beta1       float64  `json:"beta1"`
	Beta2       float64  `json:"beta2"`
	Eps         float64  `json:"eps"`
	ClipNorm    float64  `json:"clip_norm"` // global gradient-norm clip; 0 disables
	Dropout     float64  `json:"dropout"`   // hidden dropout while training

	// Evaluation and checkpoints.
	EvalEvery   int    `json:"eval_every"`   // evaluate on valid every N steps (and at the end)
	EvalBatches int    `json:"eval_batches"` // cap on validation batches per evaluation; 0: all
	SaveEvery   int    `json:"save_every"`   // checkpoint every N steps (and at the end)
	Patience    int    `json:"patience"`     // stop after N evaluations without improvement; 0 disables
	LogEvery    int    `json:"log_every"`    // one log line every N steps
	Seed        uint64 `json:"seed"`         // data order, dropout and new-head initialisation
	Resume      bool   `json:"resume"`       // continue from out_dir's latest checkpoint
	// Sparse fine-tuning (routers and the compute-cost objective). A
	// target of 0 is plain dense fine-tuning.
	Target             float64           `json:"target"`              // compute target: fraction of the dense cost of the routed blocks, in (0, 1]
	Router             router.Kind       `json:"router"`              // gate kind: "sigmoid" (LTE), "hard-concrete" (L0) or "static" (input-independent baseline)
	Routing            string            `json:"routing"`             // "threshold" (a unit runs when its gate passes τ) or "topk" (each token runs the k units with the largest logits: fixed compute)
	GroupSize          int               `json:"group_size"`          // FFN neurons per routed group (LTE's experts: 32)
	Tau                float64           `json:"tau"`                 // hardening threshold on a gate's on-probability, in (0, 1)
	BudgetTol          float64           `json:"budget_tol"`          // an evaluation competes for best only when its measured compute is within this of target
	CalibrateOn        string            `json:"calibrate_on"`        // data the sparse checkpoint's τ is calibrated on: valid (held out), train or a data file
	DType              checkpoints.DType `json:"dtype,omitempty"`     // the sparse checkpoint's weight matrices: f32, bf16 or int8 (harden.Options.DType); "": f32. A dense run (a sweep's dense point) writes none
	Stage2Steps        int               `json:"stage2_steps"`        // final steps with hard masks and frozen routers; 0: a third of steps
	TargetWarmup       int               `json:"target_warmup"`       // steps over which the target ramps from 1 down to target; 0: nine tenths of stage 1
	Stage2Calibrations int               `json:"stage2_calibrations"` // times stage 2 calibrates τ again after the switch, evenly spaced (threshold routing); 0: never
	LambdaLR           float64           `json:"lambda_lr"`           // ascent rate of the Lagrange multipliers λ1, λ2
	RouterLR           float64           `json:"router_lr"`           // peak learning rate of the router parameters, same schedule; 0: lr
	PenaltyWeight      float64           `json:"penalty_weight"`      // > 0: fixed-weight penalty w·ĉ (LTE-style) instead of the Lagrangian
	SepWeight          float64           `json:"sep_weight"`          // weight of the separability term that pushes gates away from τ
	Distill            float64           `json:"distill"`             // weight of distillation from the dense model (0: off; < 0: 1 with trainable routers, else off)
	DistillTemp        float64           `json:"distill_temp"`        // distillation temperature τ (Hinton et al. 2015)
	DenseRef           string            `json:"dense_reference"`     // a dense fine-tuned model evaluated on the same valid/test data: the summary's dense_metric
	// Trainable is what a sparse run trains: "all" (the model and the
	// routers) or "routers" (the routers and a new task head; the base
	// weights stay frozen: no gradients, no optimizer state, Deja Vu's
	// post-hoc setting under our cost objective).
	Trainable string `json:"trainable"`

	// noGrouping leaves the FFN neurons in their order instead of
	// grouping them by k-means (benchmarks: a random model has nothing to
	// group, and grouping a large one takes minutes).
	noGrouping bool

	FromScratch bool `json:"from_scratch"` // random init from the model's config.json instead of its weights (pretraining)
}

// The values of Config.Trainable.
const (
	TrainAll     = "all"     // the whole model and the routers
	TrainRouters = "routers" // the routers and a new task head only
)

// DistillWeight is the distillation weight in effect: Distill when it is
// ≥ 0, else 1 for a run that trains only the routers (the frozen base is
// its own dense teacher, as in Deja Vu's post-hoc setting) and 0 otherwise.
func (c *Config) DistillWeight() float64 {
	switch {
	case c.Distill >= 0:
		return c.Distill
	case c.Trainable == TrainRouters:
		return 1
	}
	return 0
}

// DefaultConfig holds the documented defaults.
func DefaultConfig() Config {
	return Config{
		ValidRatio: 0.1, TextField: "text", LabelField: "label",
		OutDir: "runs/latest",
		Steps:  300, Batch: 8, GradAccum: 1,
		LR: 3e-4, MinLRRatio: 0.1, Warmup: 30, Schedule: Cosine, // the nanoGPT fine-tuning recipe
		WeightDecay: 0.01, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ClipNorm: 1,
		EvalEvery: 100, SaveEvery: 100, LogEvery: 10, Seed: 1,
		Router: router.Sigmoid, Routing: string(router.Threshold), GroupSize: 32, Tau: 0.5, BudgetTol: 0.02, CalibrateOn: CalibrateValid, LambdaLR: 0.05, Stage2Calibrations: 3, SepWeight: 0.1, DistillTemp: 2,
		Distill:   -1,    // distil from the dense model when only the routers train (DistillWeight)
		Trainable: "all", // full fine-tuning; "routers" freezes the base weights
	}
}

// LoadConfigFile overlays the JSON file at path on c. Unknown keys are
// errors, so a typo never silently falls back to a default, and so is
// anything after the one JSON object.
func (c *Config) LoadConfigFile(path string) error {
	return jsonfile.ReadStrict(path, c)
}

// ConfigKeys returns the top-level keys of the JSON config file at path:
// the settings it gives.
func ConfigKeys(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	keys := map[string]bool{}
	for k := range raw {
		keys[k] = true
	}
	return keys, nil
}

// in reports whether lo ≤ x ≤ hi; NaN is never in range.
func in(x, lo, hi float64) bool { return x >= lo && x <= hi }

// Validate reports the first setting that cannot work. Range checks are
// written so that NaN fails them. Errors about one setting are
// *SettingError.
func (c *Config) Validate() error {
	for _, check := range []func() error{c.checkFinite, c.checkRun, c.checkOptimizer, c.checkEvaluation, c.checkSparsity, c.checkTraining} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// checkRun checks the required paths and the run's sizes.
func (c *Config) checkRun() error {
	switch {
	case c.Model == "":
		return settingf("model", "is required: a base model directory")
	case c.Train == "":
		return settingf("train", "is required: a training data file")
	case c.OutDir == "":
		return settingf("out_dir", "is required: the run directory")
	case c.SeqLen < 0:
		return settingf("seq_len", "must be ≥ 0 (0: the model's context, at most 256), got %d", c.SeqLen)
	case c.Steps <= 0:
		return settingf("steps", "must be positive, got %d", c.Steps)
	case c.Batch <= 0:
		return settingf("batch", "must be positive, got %d", c.Batch)
	case c.GradAccum <= 0:
		return settingf("grad_accum", "must be positive, got %d", c.GradAccum)
	}
	return nil
}

// checkOptimizer checks the learning rate, its schedule, AdamW and dropout.
func (c *Config) checkOptimizer() error {
	switch {
	case !(c.LR > 0 && c.LR <= 1):
		return settingf("lr", "must be in (0, 1], got %g", c.LR)
	case c.Warmup < 0:
		return settingf("warmup", "must be ≥ 0, got %d", c.Warmup)
	case !in(c.MinLRRatio, 0, 1):
		return settingf("min_lr_ratio", "must be in [0, 1], got %g", c.MinLRRatio)
	case !c.Schedule.valid():
		return settingf("schedule", "%q: want cosine, linear or constant", c.Schedule)
	case !(c.WeightDecay >= 0):
		return settingf("weight_decay", "must be ≥ 0, got %g", c.WeightDecay)
	case !(c.Beta1 >= 0 && c.Beta1 < 1):
		return settingf("beta1", "must be in [0, 1), got %g", c.Beta1)
	case !(c.Beta2 >= 0 && c.Beta2 < 1):
		return settingf("beta2", "must be in [0, 1), got %g", c.Beta2)
	case !(c.Eps > 0):
		return settingf("eps", "must be positive, got %g", c.Eps)
	case !(c.ClipNorm >= 0):
		return settingf("clip_norm", "must be ≥ 0 (0 disables), got %g", c.ClipNorm)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return settingf("dropout", "must be in [0, 1), got %g", c.Dropout)
	}
	return nil
}

// checkEvaluation checks the validation split, the task and the
// evaluation, checkpoint and log intervals.
func (c *Config) checkEvaluation() error {
	switch {
	case c.Valid == "" && !(c.ValidRatio > 0 && c.ValidRatio < 1):
		return settingf("valid_ratio", "must be in (0, 1) when no valid file is given, got %g", c.ValidRatio)
	case !c.Task.valid():
		return settingf("task", "%q: want classification or causal-lm", c.Task)
	case c.EvalEvery <= 0:
		return settingf("eval_every", "must be positive, got %d", c.EvalEvery)
	case c.SaveEvery <= 0:
		return settingf("save_every", "must be positive, got %d", c.SaveEvery)
	case c.LogEvery <= 0:
		return settingf("log_every", "must be positive, got %d", c.LogEvery)
	case c.EvalBatches < 0 || c.Patience < 0:
		return fmt.Errorf("eval_batches and patience must be ≥ 0, got %d and %d", c.EvalBatches, c.Patience)
	}
	return nil
}

// checkSparsity checks the target, the routers, their hardening and the
// weights of the compute objective.
func (c *Config) checkSparsity() error {
	switch {
	case !in(c.Target, 0, 1):
		return settingf("target", "must be in (0, 1] (a fraction of the dense compute; 0 trains densely), got %g", c.Target)
	case c.Target > 0 && !(c.Tau > 0 && c.Tau < 1):
		return settingf("tau", "must be in (0, 1), got %g", c.Tau)
	case c.Target > 0 && !(c.BudgetTol > 0 && c.BudgetTol < 1):
		return settingf("budget_tol", "must be in (0, 1), got %g", c.BudgetTol)
	case c.Target > 0 && !calibrateOnExists(c.CalibrateOn):
		return settingf("calibrate_on", "must be valid, train or an existing data file, got %q", c.CalibrateOn)
	case c.DType != "" && c.DType != checkpoints.F32 && c.DType != checkpoints.BF16 && c.DType != checkpoints.Int8:
		return settingf("dtype", "%q: want f32, bf16 or int8", c.DType)
	case c.Target > 0 && c.GroupSize <= 0:
		return settingf("group_size", "must be positive, got %d", c.GroupSize)
	case c.Target > 0 && c.Router != router.Sigmoid && c.Router != router.HardConcrete && c.Router != router.Static:
		return settingf("router", "%q: want sigmoid, hard-concrete or static", c.Router)
	case c.Target > 0 && c.Routing != "" && c.Routing != string(router.Threshold) && c.Routing != string(router.TopK):
		return settingf("routing", "%q: want threshold or topk", c.Routing)
	case c.Target > 0 && c.Routing == string(router.TopK) && c.Router == router.HardConcrete:
		return settingf("routing", "topk takes sigmoid or static routers (its straight-through gradient is the sigmoid's), not hard-concrete")
	case !in(c.RouterLR, 0, 1):
		return settingf("router_lr", "must be in [0, 1] (0: lr), got %g", c.RouterLR)
	case c.Stage2Calibrations < 0:
		return settingf("stage2_calibrations", "must be ≥ 0, got %d", c.Stage2Calibrations)
	case !(c.LambdaLR >= 0) || !(c.PenaltyWeight >= 0) || !(c.SepWeight >= 0):
		return fmt.Errorf("lambda_lr, penalty_weight and sep_weight must be ≥ 0, got %g, %g and %g", c.LambdaLR, c.PenaltyWeight, c.SepWeight)
	}
	return nil
}

// checkTraining checks what a run trains (trainable, distillation) and a
// sparse run's stages.
func (c *Config) checkTraining() error {
	switch {
	case c.Trainable != TrainAll && c.Trainable != TrainRouters:
		return settingf("trainable", "%q: want all or routers", c.Trainable)
	case c.Trainable == TrainRouters && c.Target == 0:
		return settingf("trainable", "routers applies only to sparse runs (target > 0): a dense run has no routers to train")
	case c.Trainable == TrainRouters && c.FromScratch:
		return settingf("trainable", "routers needs the base model's weights, not from_scratch: a random base would stay random")
	case c.DistillWeight() > 0 && !(c.DistillTemp > 0):
		return settingf("distill_temp", "must be positive, got %g", c.DistillTemp)
	case c.Target > 0 && c.Steps < 2:
		return settingf("steps", "must be at least 2 for a sparse run (stage 1 trains the routers, stage 2 the hard masks), got %d", c.Steps)
	case c.Target > 0 && (c.Stage2Steps < 0 || c.Stage2Steps >= c.Steps):
		return settingf("stage2_steps", "must be in [0, steps), got %d", c.Stage2Steps)
	case c.Target > 0 && c.TargetWarmup < 0:
		return settingf("target_warmup", "must be ≥ 0, got %d", c.TargetWarmup)
	}
	return nil
}
