package infer_test

import (
	"testing"
	"time"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/harden"
	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/metrics"
)

// dtypeShapes are the synthetic models the dtype benchmarks run: bench
// infer's default (GPT-2 layout, 8 layers of d 512) and a LLaMA of 16
// layers of d 1024 (FFN 2816, as 8/3·d rounded to groups of 32), both at
// compute 0.5. Select one with -bench 'DTypes/gpt2'.
var dtypeShapes = []struct {
	name string
	sc   harden.SyntheticConfig
}{
	{"gpt2-d512-L8", harden.SyntheticConfig{Target: 0.5, Seed: 1}},
	{"llama-d1024-L16", harden.SyntheticConfig{Family: "llama", Layers: 16, DModel: 1024, Heads: 16, FFN: 2816,
		Target: 0.5, Seed: 1, CalibSeqs: 2, CalibLen: 64}},
}

// dtypeEngines builds the synthetic model sc once and an engine of it per
// dtype, quantized in memory.
func dtypeEngines(b *testing.B, sc harden.SyntheticConfig) map[checkpoints.DType]*infer.Engine {
	e, err := harden.Synthetic(sc)
	if err != nil {
		b.Fatal(err)
	}
	es := map[checkpoints.DType]*infer.Engine{checkpoints.F32: e}
	for _, d := range checkpoints.DTypes[1:] {
		q, err := infer.New(e.Source)
		if err != nil {
			b.Fatal(err)
		}
		if err := q.Quantize(d); err != nil {
			b.Fatal(err)
		}
		es[d] = q
	}
	e.Source = nil
	return es
}

// BenchmarkDecodeDTypes decodes with the weight matrices in F32, BF16 and
// INT8, dense and sparse, in one process: the six sessions step in turn,
// token by token, so that every combination sees the same machine state
// (as BenchmarkDecodeLevels). Each restarts after a 16-token prompt and
// 112 generated tokens, as bench infer decodes. Reports ms/token and the
// weight MB read per token for each combination.
func BenchmarkDecodeDTypes(b *testing.B) {
	for _, shape := range dtypeShapes {
		b.Run(shape.name, func(b *testing.B) { decodeDTypes(b, dtypeEngines(b, shape.sc)) })
	}
}

func decodeDTypes(b *testing.B, es map[checkpoints.DType]*infer.Engine) {
	type run struct {
		d      checkpoints.DType
		dense  bool
		s      *infer.Session
		logits []float32
		gen    int
		spent  time.Duration
		read   float64
	}
	prompt := infer.RandomTokens(es[checkpoints.F32].Config.Vocab, 1, 16, 8)[0]
	start := func(r *run) {
		e := es[r.d]
		e.Dense = r.dense
		var err error
		if r.s, err = e.NewSession(len(prompt) + 112); err != nil {
			b.Fatal(err)
		}
		for _, id := range prompt {
			if r.logits, err = r.s.Step(id); err != nil {
				b.Fatal(err)
			}
		}
		r.gen = 0
	}
	var runs []*run
	for _, d := range checkpoints.DTypes {
		for _, dense := range []bool{true, false} {
			r := &run{d: d, dense: dense}
			start(r)
			runs = append(runs, r)
		}
	}
	for b.Loop() {
		for _, r := range runs {
			if r.gen == 112 {
				start(r)
			}
			e := es[r.d]
			e.Dense = r.dense
			before := e.Stats.Read
			t0 := time.Now()
			var err error
			if r.logits, err = r.s.Step(metrics.Argmax(r.logits)); err != nil {
				b.Fatal(err)
			}
			r.spent += time.Since(t0)
			r.read += e.Stats.Read - before
			r.gen++
		}
	}
	for _, r := range runs {
		name := string(r.d) + "-" + map[bool]string{true: "dense", false: "sparse"}[r.dense]
		b.ReportMetric(r.spent.Seconds()*1e3/float64(b.N), "ms/token-"+name)
		b.ReportMetric(r.read/1e6/float64(b.N), "MB/token-"+name)
	}
}

// BenchmarkScoreDTypes scores a 4×128 batch with the weight matrices in
// each dtype, dense and sparse (the engine choosing per layer part between
// per-unit products and the dense product with the mask), in turn in one
// process; reports ms per batch for each and, per dtype, dense over sparse
// (below 1: the sparse scoring is slower than the dense).
func BenchmarkScoreDTypes(b *testing.B) {
	for _, shape := range dtypeShapes {
		b.Run(shape.name, func(b *testing.B) { scoreDTypes(b, dtypeEngines(b, shape.sc)) })
	}
}

func scoreDTypes(b *testing.B, es map[checkpoints.DType]*infer.Engine) {
	seqs := infer.RandomTokens(es[checkpoints.F32].Config.Vocab, 4, 128, 3)
	spent := map[string]time.Duration{}
	for b.Loop() {
		for _, d := range checkpoints.DTypes {
			for _, dense := range []bool{true, false} {
				e := es[d]
				e.Dense = dense
				t0 := time.Now()
				if _, _, err := e.Forward(seqs, nil); err != nil {
					b.Fatal(err)
				}
				spent[string(d)+"-"+map[bool]string{true: "dense", false: "sparse"}[dense]] += time.Since(t0)
			}
		}
	}
	for _, d := range checkpoints.DTypes {
		dense, sparse := spent[string(d)+"-dense"], spent[string(d)+"-sparse"]
		b.ReportMetric(dense.Seconds()*1e3/float64(b.N), "ms-"+string(d)+"-dense")
		b.ReportMetric(sparse.Seconds()*1e3/float64(b.N), "ms-"+string(d)+"-sparse")
		b.ReportMetric(dense.Seconds()/sparse.Seconds(), "speedup-"+string(d))
	}
}
