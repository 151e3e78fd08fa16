package train

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/nn"
)

// EvalConfig describes a standalone evaluation of a model or checkpoint.
type EvalConfig struct {
	Model      string // Hugging Face model directory or checkpoint
	Data       string // evaluation data
	TextField  string
	LabelField string
	IDField    string // "-" derives ids from file and line
	SeqLen     int    // 0: a training checkpoint's seq_len, else min(model context, 256)
	Batch      int    // default 8
	CacheDir   string // "": a cache in the system's temporary directory
	NoCache    bool   // tokenize afresh, without the cache
}

// EvalResult is what Evaluate prints as JSON.
type EvalResult struct {
	Model      string   `json:"model"`
	Data       string   `json:"data"`
	MetricName string   `json:"metric_name"`
	Metric     float64  `json:"metric"`
	Loss       float64  `json:"loss"`
	F1         float64  `json:"f1,omitempty"`
	Count      int      `json:"count"`
	Compute    *float64 `json:"compute,omitempty"` // a sparse checkpoint's measured compute on the data
}

func (c *EvalConfig) defaults() {
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
func (c *EvalConfig) load(mc *nn.Config) (*data.Dataset, data.Tokenizer, error) {
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

// Evaluate computes the model's task metric on one data file. A sparse
// run's checkpoint (with router.safetensors) is evaluated with its routers'
// hard masks at the run's calibrated τ, as the run's own evaluation did,
// and reports the measured compute; a sparse checkpoint (sparse.json) is
// refused (EvaluateSparse runs it).
func Evaluate(c EvalConfig) (*EvalResult, error) {
	c.defaults()
	if c.SeqLen < 0 || c.Batch <= 0 {
		return nil, fmt.Errorf("seq_len must be ≥ 0 and batch positive, got %d and %d", c.SeqLen, c.Batch)
	}
	if err := checkpoints.Heal(c.Model); err != nil { // a checkpoint a killed save left half-swapped
		return nil, err
	}
	kind := modelKind(c.Model)
	if kind == kindSparse {
		return nil, fmt.Errorf("%s is a sparse checkpoint (%s): evaluate it with --checkpoint %s", c.Model, checkpoints.SparseManifestFile, c.Model)
	}
	if c.SeqLen == 0 {
		c.SeqLen = runSeqLen(c.Model) // a training checkpoint: the run's length, as its own evaluation
	}
	mc, err := nn.LoadConfig(c.Model)
	if err != nil {
		return nil, err
	}
	if c.SeqLen == 0 {
		c.SeqLen = min(mc.MaxPos, 256)
	}
	// The weights first: a model that cannot load is the first thing to say.
	var m *nn.Model
	var sp *sparsity
	if kind == kindRouted {
		m, sp, err = loadRouted(c.Model, c.SeqLen)
	} else {
		m, err = nn.Load(c.Model, nn.LoadOptions{})
	}
	if err != nil {
		return nil, err
	}
	ds, tok, err := c.load(mc)
	if err != nil {
		return nil, err
	}
	ev, err := newEvaluator(m, c.Batch, c.SeqLen, sp)
	if err != nil {
		return nil, err
	}
	defer ev.Close()
	mt, err := ev.Evaluate(ds.Valid, m.Config, tok, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Data, err)
	}
	r := &EvalResult{Model: c.Model, Data: c.Data, MetricName: metricName(m.Config.Task == nn.CausalLM), Metric: mt.Main(),
		Loss: mt.Loss, F1: mt.F1, Count: mt.Count}
	if sp != nil {
		r.Compute = &mt.Compute
	}
	if math.IsNaN(mt.Loss) || math.IsInf(mt.Loss, 0) {
		return nil, fmt.Errorf("%s on %s: the loss is %g (non-finite activations)", c.Model, c.Data, mt.Loss)
	}
	return r, nil
}

// evaluateDenseRef evaluates the dense reference model cfg.DenseRef on the
// run's valid (and test) data, tokenized once with the run's tokenizer,
// and records it in sum: the dense_metric a sparse run is compared with.
func evaluateDenseRef(cfg *Config, ds *data.Dataset, tok data.Tokenizer, sum *Summary, log io.Writer) error {
	runKey, err := data.TokenizerKey(cfg.Model)
	if err != nil {
		return err
	}
	refKey, err := data.TokenizerKey(cfg.DenseRef)
	if err != nil {
		return fmt.Errorf("dense_reference: %w", err)
	}
	if refKey != runKey {
		return fmt.Errorf("dense_reference %s: its tokenizer differs from %s's; the metrics would not be comparable", cfg.DenseRef, cfg.Model)
	}
	if err := checkBaseModel("dense_reference", cfg.DenseRef); err != nil {
		return err
	}
	ref, err := nn.Load(cfg.DenseRef, nn.LoadOptions{})
	if err != nil {
		return fmt.Errorf("dense_reference: %w", err)
	}
	if want := metricName(ref.Config.Task == nn.CausalLM); want != sum.MetricName {
		return fmt.Errorf("dense_reference %s measures %s, this run %s", cfg.DenseRef, want, sum.MetricName)
	}
	if ref.Config.Task == nn.Classification && !slices.Equal(ref.Config.Labels, ds.Labels) {
		return fmt.Errorf("dense_reference %s: labels %v, the data's %v", cfg.DenseRef, ref.Config.Labels, ds.Labels)
	}
	ev, err := newEvaluator(ref, cfg.Batch, cfg.SeqLen, nil)
	if err != nil {
		return err
	}
	defer ev.Close()
	m, err := ev.Evaluate(ds.Valid, ref.Config, tok, 0)
	if err != nil {
		return err
	}
	v := m.Main()
	sum.DenseMetric = &v
	fmt.Fprintf(log, "dense reference valid | %s\n", m)
	if ds.Test != nil {
		if m, err = ev.Evaluate(ds.Test, ref.Config, tok, 0); err != nil {
			return err
		}
		t := m.Main()
		sum.DenseTest = &t
		fmt.Fprintf(log, "dense reference test  | %s\n", m)
	}
	return nil
}
