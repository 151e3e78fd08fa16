package train

import (
	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/metrics"
	"github.com/sparsetune/sparsetune/nn"
)

// ModelKind says what a model directory holds beyond a plain Hugging Face
// model.
type ModelKind int

// The kinds of model directory.
const (
	PlainModel       ModelKind = kindPlain  // config.json and weights (a base model, or a dense run's checkpoint)
	RoutedCheckpoint ModelKind = kindRouted // a sparse run's training checkpoint: weights plus its routers (RouterFile)
	SparseCheckpoint ModelKind = kindSparse // a sparse checkpoint (sparse.json): the engine's pruned format
)

// RouterFile is the file of a sparse run's checkpoint that holds its
// routers' parameters.
const RouterFile = routerFile

// KindOf tells a plain model directory from a sparse run's checkpoint and a
// sparse checkpoint.
func KindOf(dir string) ModelKind { return ModelKind(modelKind(dir)) }

// EvalModel is a model directory or a run's checkpoint loaded for
// evaluation in the training graph. A sparse run's checkpoint comes with
// its routers, whose hard masks at the run's calibrated τ the evaluation
// applies, as the run's own evaluation did, measuring their compute.
type EvalModel struct {
	Model  *nn.Model
	SeqLen int // the length sequences are evaluated at
	sp     *sparsity
}

// OpenEvalModel loads dir, a plain model or a training checkpoint (a
// checkpoint a killed save left half-swapped is healed first), for
// evaluating sequences of seqLen tokens: 0 for a training checkpoint's
// seq_len, else min(model context, 256). A sparse checkpoint is the
// engine's to run (infer), not the graph's: the caller refuses it.
func OpenEvalModel(dir string, seqLen int) (*EvalModel, error) {
	if err := checkpoints.Heal(dir); err != nil {
		return nil, err
	}
	if seqLen == 0 {
		seqLen = runSeqLen(dir) // a training checkpoint: the run's length, as its own evaluation
	}
	mc, err := nn.LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	if seqLen == 0 {
		seqLen = min(mc.MaxPos, 256)
	}
	em := &EvalModel{SeqLen: seqLen}
	if modelKind(dir) == kindRouted {
		em.Model, em.sp, err = loadRouted(dir, seqLen)
	} else {
		em.Model, err = nn.Load(dir, nn.LoadOptions{})
	}
	if err != nil {
		return nil, err
	}
	return em, nil
}

// Sparse reports whether the model evaluates with its routers' hard masks
// (and so reports the compute they spend).
func (m *EvalModel) Sparse() bool { return m.sp != nil }

// Evaluate computes the model's metrics on split, tokenized with tok,
// batch sequences at a time, in the split's order.
func (m *EvalModel) Evaluate(split *data.Split, tok data.Tokenizer, batch int) (metrics.Metrics, error) {
	ev, err := newEvaluator(m.Model, batch, m.SeqLen, m.sp)
	if err != nil {
		return metrics.Metrics{Task: m.Model.Config.Task}, err
	}
	defer ev.Close()
	return ev.Evaluate(split, m.Model.Config, tok, 0)
}
