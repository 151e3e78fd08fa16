package infer_test

import (
	"testing"
	"time"

	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/internal/vec"
	"github.com/sparsetune/sparsetune/metrics"
)

// BenchmarkDecodeLevels decodes at the AVX2 and AVX-512 kernel levels (those
// this CPU runs), dense and sparse, in one process: the four sessions step
// in turn, token by token, so that every combination sees the same machine
// state (a shared machine's load drifts by more than the levels differ).
// Each session restarts after a 16-token prompt and 112 generated tokens,
// as bench infer decodes. Reports ms/token per combination and each
// level's sparse-vs-dense speedup.
func BenchmarkDecodeLevels(b *testing.B) {
	e := benchEngine(b)
	defer vec.SetKernels(vec.Kernels())
	type run struct {
		level  vec.Level
		dense  bool
		s      *infer.Session
		logits []float32
		gen    int
		spent  time.Duration
	}
	prompt := infer.RandomTokens(e.Config.Vocab, 1, 16, 8)[0]
	start := func(r *run) {
		var err error
		vec.SetKernels(r.level)
		e.Dense = r.dense
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
	for _, l := range []vec.Level{vec.AVX2, vec.AVX512} {
		if !vec.Supported(l) {
			b.Logf("this CPU lacks %s", l)
			continue
		}
		for _, dense := range []bool{true, false} {
			r := &run{level: l, dense: dense}
			start(r)
			runs = append(runs, r)
		}
	}
	for b.Loop() {
		for _, r := range runs {
			if r.gen == 112 {
				start(r)
			}
			vec.SetKernels(r.level)
			e.Dense = r.dense
			t0 := time.Now()
			var err error
			if r.logits, err = r.s.Step(metrics.Argmax(r.logits)); err != nil {
				b.Fatal(err)
			}
			r.spent += time.Since(t0)
			r.gen++
		}
	}
	ms := map[string]float64{}
	for _, r := range runs {
		mode := map[bool]string{true: "dense", false: "sparse"}[r.dense]
		ms[r.level.String()+"-"+mode] = r.spent.Seconds() * 1e3 / float64(b.N)
		b.ReportMetric(ms[r.level.String()+"-"+mode], "ms/token-"+r.level.String()+"-"+mode)
	}
	for _, l := range []string{"avx2", "avx512"} {
		if ms[l+"-sparse"] > 0 {
			b.ReportMetric(ms[l+"-dense"]/ms[l+"-sparse"], "speedup-"+l)
		}
	}
}
