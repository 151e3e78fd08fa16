package train

import (
	"fmt"
	"io"
	"slices"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/metrics"
	"github.com/sparsetune/sparsetune/nn"
)

// A run's closing evaluations: a sparse run's delivered sparse checkpoint
// on the engine, and the dense reference it is compared with.

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
	m, err := engineEvaluate(e, ds.Valid, cfg.Batch)
	if err != nil {
		return fmt.Errorf("sparse checkpoint %s: %w", sum.SparseCheckpoint, err)
	}
	fmt.Fprintf(log, "sparse valid | %s %.4f | compute %.4f | %d evaluated\n", m.Name(), m.Main(), m.Compute, m.Count)
	metric, compute := m.Main(), m.Compute
	sum.Metric, sum.Compute, sum.SparseCompute = metric, &compute, &compute
	if ds.Test == nil {
		return nil
	}
	if m, err = engineEvaluate(e, ds.Test, cfg.Batch); err != nil {
		return fmt.Errorf("sparse checkpoint %s: %w", sum.SparseCheckpoint, err)
	}
	fmt.Fprintf(log, "sparse test  | %s %.4f | compute %.4f | %d evaluated\n", m.Name(), m.Main(), m.Compute, m.Count)
	testMetric, testCompute := m.Main(), m.Compute
	sum.TestMetric, sum.TestCompute = &testMetric, &testCompute
	return nil
}

// engineEvaluate evaluates engine e on split, batch sequences at a time
// (Engine.Evaluate); a split with nothing to evaluate is an error naming it.
func engineEvaluate(e *infer.Engine, split *data.Split, batch int) (metrics.Metrics, error) {
	m, err := e.Evaluate(split.Seqs, split.Labels, batch)
	if err == nil && m.Count == 0 {
		err = fmt.Errorf("the %s split has nothing to evaluate", split.Name)
	}
	return m, err
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
	if want := metrics.Name(ref.Config.Task); want != sum.MetricName {
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
