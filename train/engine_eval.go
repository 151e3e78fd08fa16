package train

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/internal/jsonfile"
	"github.com/sparsetune/sparsetune/nn"
)

// EvaluateSparse computes the task metric of a sparse checkpoint on one data
// file with the inference engine, and the compute it measured there.
func EvaluateSparse(c EvalConfig) (*EvalResult, error) {
	c.defaults()
	sp, err := checkpoints.ReadSparse(c.Model)
	if err != nil {
		return nil, err
	}
	e, err := infer.New(sp)
	if err != nil {
		return nil, err
	}
	mc := sp.Config
	ds, _, err := c.load(mc)
	if err != nil {
		return nil, err
	}
	if len(ds.Valid.Seqs) == 0 {
		return nil, fmt.Errorf("%s: nothing to evaluate", c.Data)
	}
	r, err := engineEvaluate(e, mc, ds.Valid, c.Batch)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Data, err)
	}
	r.Model, r.Data = c.Model, c.Data
	return r, nil
}

// engineEvaluate computes the task metric of engine e (a model of config
// mc) on split, batch sequences at a time, and the compute it measured
// there (the engine's statistics are reset first).
func engineEvaluate(e *infer.Engine, mc *nn.Config, split *data.Split, batch int) (*EvalResult, error) {
	e.ResetStats()
	k := len(mc.Labels)
	conf := make([][]int, k)
	for i := range conf {
		conf[i] = make([]int, k)
	}
	var nll float64
	count := 0
	for lo := 0; lo < len(split.Seqs); lo += batch {
		seqs := split.Seqs[lo:min(lo+batch, len(split.Seqs))]
		h, off, err := e.Forward(seqs, nil)
		if err != nil {
			return nil, err
		}
		if mc.Task == nn.CausalLM {
			logits := e.LMLogits(h, nil)
			for s, ids := range seqs {
				for t := 0; t+1 < len(ids); t++ {
					row := logits[(off[s]+t)*mc.Vocab : (off[s]+t+1)*mc.Vocab]
					nll -= float64(row[ids[t+1]]) - logSumExp(row)
					count++
				}
			}
			continue
		}
		logits := e.ClassLogits(h, off)
		for s := range seqs {
			row := logits[s*k : (s+1)*k]
			pred := 0
			for j := range row {
				if row[j] > row[pred] {
					pred = j
				}
			}
			label := split.Labels[lo+s]
			conf[label][pred]++
			nll -= float64(row[label]) - logSumExp(row)
			count++
		}
	}
	if count == 0 {
		return nil, fmt.Errorf("the %s split has nothing to evaluate", split.Name)
	}
	r := &EvalResult{MetricName: metricName(mc.Task == nn.CausalLM), Loss: nll / float64(count), Count: count}
	if mc.Task == nn.CausalLM {
		r.Metric = math.Exp(r.Loss)
	} else {
		r.Metric, r.F1 = accuracyF1(conf)
	}
	cmp := e.Stats.Compute()
	r.Compute = &cmp
	return r, nil
}

// ValidSequences returns up to n validation sequences of the run a sparse
// checkpoint was trained by (its manifest's training config), tokenized
// with the checkpoint's tokenizer: real inputs for timing the engine, since
// the compute a checkpoint spends depends on what it reads.
func ValidSequences(sparseDir string, n int) ([][]int, error) {
	var man checkpoints.SparseManifest
	if err := jsonfile.Read(filepath.Join(sparseDir, checkpoints.SparseManifestFile), &man); err != nil {
		return nil, err
	}
	if len(man.TrainConfig) == 0 || string(man.TrainConfig) == "null" {
		return nil, fmt.Errorf("%s: the manifest holds no training config", sparseDir)
	}
	cfg := DefaultConfig()
	if err := json.Unmarshal(man.TrainConfig, &cfg); err != nil {
		return nil, fmt.Errorf("%s: training config: %v", sparseDir, err)
	}
	mc, err := nn.LoadConfig(sparseDir)
	if err != nil {
		return nil, err
	}
	tok, err := data.LoadTokenizer(sparseDir)
	if err != nil {
		return nil, err
	}
	key, err := data.TokenizerKey(sparseDir)
	if err != nil {
		return nil, err
	}
	task := data.Task("causal-lm")
	if mc.Task == nn.Classification {
		task = "classification"
	}
	ds, err := data.Load(data.Spec{Task: task, Train: cfg.Train, Valid: cfg.Valid, ValidRatio: cfg.ValidRatio, Text: cfg.TextField,
		Label: cfg.LabelField, ID: cfg.IDField, SeqLen: cfg.SeqLen, Seed: cfg.Seed, CacheDir: cfg.DataCacheDir(), Labels: mc.Labels}, tok, key)
	if err != nil {
		return nil, err
	}
	seqs := ds.Valid.Seqs
	return seqs[:min(n, len(seqs))], nil
}

// evaluateDelivered measures what a sparse run delivers, its sparse
// checkpoint sum.SparseCheckpoint, with the engine on the run's valid and
// test splits, and fills the summary's metric, test_metric, compute and
// test_compute with it (sparse_compute repeats compute).
func evaluateDelivered(cfg *Config, ds *data.Dataset, sum *Summary, log io.Writer) error {
	sp, err := checkpoints.ReadSparse(sum.SparseCheckpoint)
	if err != nil {
		return err
	}
	e, err := infer.New(sp)
	if err != nil {
		return err
	}
	r, err := engineEvaluate(e, sp.Config, ds.Valid, cfg.Batch)
	if err != nil {
		return fmt.Errorf("sparse checkpoint %s: %w", sum.SparseCheckpoint, err)
	}
	fmt.Fprintf(log, "sparse valid | %s %.4f | compute %.4f | %d evaluated\n", r.MetricName, r.Metric, *r.Compute, r.Count)
	sum.Metric, sum.Compute, sum.SparseCompute = r.Metric, r.Compute, r.Compute
	if ds.Test == nil {
		return nil
	}
	if r, err = engineEvaluate(e, sp.Config, ds.Test, cfg.Batch); err != nil {
		return fmt.Errorf("sparse checkpoint %s: %w", sum.SparseCheckpoint, err)
	}
	fmt.Fprintf(log, "sparse test  | %s %.4f | compute %.4f | %d evaluated\n", r.MetricName, r.Metric, *r.Compute, r.Count)
	sum.TestMetric, sum.TestCompute = &r.Metric, r.Compute
	return nil
}
