package infer_test

import (
	"fmt"
	"testing"

	"github.com/sparsetune/sparsetune/harden"
	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/metrics"
)

// benchEngine is the synthetic model of the speed figures: gpt2, 8 layers,
// d 512, 8 heads, ffn 2048, vocab 4096, routers calibrated to compute 0.5.
func benchEngine(b *testing.B) *infer.Engine {
	e, err := harden.Synthetic(harden.SyntheticConfig{Target: 0.5, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkScore runs the forward pass of a 16×128 scoring batch, dense
// and sparse (compare the two ns/op in one run).
func BenchmarkScore(b *testing.B) {
	e := benchEngine(b)
	seqs := infer.RandomTokens(e.Config.Vocab, 16, 128, 3)
	for _, dense := range []bool{true, false} {
		name := map[bool]string{true: "dense", false: "sparse"}[dense]
		b.Run(name, func(b *testing.B) {
			e.Dense = dense
			for b.Loop() {
				if _, _, err := e.Forward(seqs, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecode decodes one token with a 64-token cache, dense and sparse.
func BenchmarkDecode(b *testing.B) {
	e := benchEngine(b)
	for _, dense := range []bool{true, false} {
		name := map[bool]string{true: "dense", false: "sparse"}[dense]
		b.Run(name, func(b *testing.B) {
			e.Dense = dense
			s, _ := e.NewSession(1 << 20)
			logits, _ := s.Step(1)
			for b.Loop() {
				if s.Len() >= 512 {
					s, _ = e.NewSession(1 << 20)
				}
				logits, _ = s.Step(metrics.Argmax(logits))
			}
		})
	}
}

// BenchmarkCrossover times one 16×128 scoring batch with every block run
// per unit (dense-above 1) and every block run dense with masks
// (dense-above 0), at several compute targets: where the two cross is the
// default infer.Engine.DenseAbove.
func BenchmarkCrossover(b *testing.B) {
	for _, target := range []float64{0.5, 0.6, 0.7, 0.8, 0.9} {
		e, err := harden.Synthetic(harden.SyntheticConfig{Target: target, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		seqs := infer.RandomTokens(e.Config.Vocab, 16, 128, 3)
		for _, above := range []float64{1, 0} {
			b.Run(fmt.Sprintf("target=%.1f/dense-above=%g", target, above), func(b *testing.B) {
				e.DenseAbove = above
				for b.Loop() {
					if _, _, err := e.Forward(seqs, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
