package evaluate

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/metrics"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/train"
)

// Config describes a standalone evaluation of a model or checkpoint.
type Config struct {
	Model      string // Hugging Face model directory or checkpoint
	Data       string // evaluation data
	TextField  string
	LabelField string
	IDField    string // "-" derives ids from file and line
	SeqLen     int    // 0: a training or sparse checkpoint's seq_len, else min(model context, 256)
	Batch      int    // default 8
	CacheDir   string // "": a cache in the system's temporary directory
	NoCache    bool   // tokenize afresh, without the cache
}

// Result is what Evaluate and EvaluateSparse print as JSON.
type Result struct {
	Model      string   `json:"model"`
	Data       string   `json:"data"`
	MetricName string   `json:"metric_name"`
	Metric     float64  `json:"metric"`
	Loss       float64  `json:"loss"`
	F1         float64  `json:"f1,omitempty"`
	Count      int      `json:"count"`
	Compute    *float64 `json:"compute,omitempty"` // a sparse model's measured compute on the data
}

func (c *Config) defaults() {
	if c.Batch <= 0 {
		c.Batch = 8
	}
	if c.TextField == "" {
		c.TextField = "text"
	}
	if c.LabelField == "" {
		c.LabelField = "label"
	}
	if c.CacheDir == "" {
		c.CacheDir = filepath.Join(os.TempDir(), "sparsetune-cache")
	}
	if c.NoCache {
		c.CacheDir = ""
	}
}

// load tokenizes c.Data for a model of config mc with the tokenizer of
// c.Model (a model directory or a sparse checkpoint).
func (c *Config) load(mc *nn.Config) (*data.Dataset, data.Tokenizer, error) {
	tok, err := data.LoadTokenizer(c.Model)
	if err != nil {
		return nil, nil, err
	}
	key, err := data.TokenizerKey(c.Model)
	if err != nil {
		return nil, nil, err
	}
	if c.SeqLen == 0 {
		c.SeqLen = min(mc.MaxPos, 256)
	}
	if err := mc.CheckLength(c.SeqLen); err != nil {
		return nil, nil, fmt.Errorf("seq_len: %w", err)
	}
	task := data.Task("causal-lm")
	if mc.Task == nn.Classification {
		task = "classification"
	}
	ds, err := data.Load(data.Spec{Task: task, Train: c.Data, Valid: c.Data, Text: c.TextField, Label: c.LabelField, ID: c.IDField,
		SeqLen: c.SeqLen, Labels: mc.Labels, CacheDir: c.CacheDir}, tok, key)
	return ds, tok, err
}

// result is the JSON form of m, an evaluation of c.Model on c.Data.
func (c *Config) result(m metrics.Metrics) *Result {
	r := &Result{Model: c.Model, Data: c.Data, MetricName: m.Name(), Metric: m.Main(), Loss: m.Loss, F1: m.F1, Count: m.Count}
	if m.Sparse {
		r.Compute = &m.Compute
	}
	return r
}

// Evaluate computes the model's task metric on one data file. A sparse
// run's checkpoint (with router.safetensors) is evaluated with its routers'
// hard masks at the run's calibrated τ, as the run's own evaluation did,
// and reports the measured compute; a sparse checkpoint (sparse.json) is
// refused (EvaluateSparse runs it).
func Evaluate(c Config) (*Result, error) {
	c.defaults()
	if c.SeqLen < 0 || c.Batch <= 0 {
		return nil, fmt.Errorf("seq_len must be ≥ 0 and batch positive, got %d and %d", c.SeqLen, c.Batch)
	}
	if err := checkpoints.Heal(c.Model); err != nil { // a checkpoint a killed save left half-swapped
		return nil, err
	}
	if train.KindOf(c.Model) == train.SparseCheckpoint {
		return nil, fmt.Errorf("%s is a sparse checkpoint (%s): evaluate it with --checkpoint %s", c.Model, checkpoints.SparseManifestFile, c.Model)
	}
	// The weights first: a model that cannot load is the first thing to say.
	em, err := train.OpenEvalModel(c.Model, c.SeqLen)
	if err != nil {
		return nil, err
	}
	c.SeqLen = em.SeqLen
	ds, tok, err := c.load(em.Model.Config)
	if err != nil {
		return nil, err
	}
	m, err := em.Evaluate(ds.Valid, tok, c.Batch)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Data, err)
	}
	if math.IsNaN(m.Loss) || math.IsInf(m.Loss, 0) {
		return nil, fmt.Errorf("%s on %s: the loss is %g (non-finite activations)", c.Model, c.Data, m.Loss)
	}
	return c.result(m), nil
}

// EvaluateSparse computes the task metric of a sparse checkpoint on one data
// file with the inference engine, and the compute it measured there.
func EvaluateSparse(c Config) (*Result, error) {
	c.defaults()
	sp, err := checkpoints.ReadSparse(c.Model)
	if err != nil {
		return nil, err
	}
	e, err := infer.New(sp)
	if err != nil {
		return nil, err
	}
	if c.SeqLen == 0 { // the length the checkpoint's compute was calibrated at
		c.SeqLen = sp.Manifest.Calibration.SeqLen
	}
	ds, _, err := c.load(sp.Config)
	if err != nil {
		return nil, err
	}
	if len(ds.Valid.Seqs) == 0 {
		return nil, fmt.Errorf("%s: nothing to evaluate", c.Data)
	}
	m, err := e.Evaluate(ds.Valid.Seqs, ds.Valid.Labels, c.Batch)
	if err == nil && m.Count == 0 {
		err = fmt.Errorf("the %s split has nothing to evaluate", ds.Valid.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Data, err)
	}
	return c.result(m), nil
}
