package infer

import (
	"math/rand/v2"

	"github.com/sparsetune/sparsetune/nn"
)

// RandomTokens returns B sequences of T random token ids.
func RandomTokens(vocab, B, T int, seed uint64) [][]int {
	rng := rand.New(rand.NewPCG(seed, 5))
	out := make([][]int, B)
	for i := range out {
		out[i] = make([]int, T)
		for j := range out[i] {
			out[i][j] = rng.IntN(vocab)
		}
	}
	return out
}

// SetTau sets layer l's hardening threshold, in the engine and in its
// manifest: a routed unit of the layer is on for a token when its gate
// probability exceeds tau. Calibration (package harden) moves it.
func (e *Engine) SetTau(l int, tau float64) {
	e.layers[l].tau = float32(tau)
	e.Manifest.Layers[l].Tau = tau
}

// MeasureCompute runs seqs (32 at a time) and returns their measured
// compute; the engine's Stats are reset before and after.
func (e *Engine) MeasureCompute(seqs [][]int) (float64, error) {
	e.ResetStats()
	for lo := 0; lo < len(seqs); lo += 32 {
		if _, _, err := e.Forward(seqs[lo:min(lo+32, len(seqs))], nil); err != nil {
			return 0, err
		}
	}
	c := e.Stats.Compute()
	e.ResetStats()
	return c, nil
}

// WeightCount is the number of weights the engine holds (embeddings,
// attention and FFN matrices, and an untied LM head): the model's size in
// a benchmark's report.
func (e *Engine) WeightCount() int {
	n := len(e.wte) + len(e.wpe)
	for _, ly := range e.layers {
		n += ly.q.len() + ly.k.len() + ly.v.len() + ly.o.len() + ly.up.len() + ly.gate.len() + ly.down.len()
	}
	if e.Config.Task == nn.CausalLM && !e.Config.Tied {
		n += e.lmHead.len()
	}
	return n
}
