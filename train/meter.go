package train

import (
	G "gorgonia.org/gorgonia"

	"github.com/sparsetune/sparsetune/metrics"
)

// addCompute feeds acc the compute a hard-masked model spent on one
// batch's real tokens (mask (B*T)): for every token, the FLOPs of the
// heads and groups its masks keep (at the token's position, since causal
// attention grows with it) and of the routers, against the dense FLOPs of
// the routed blocks. A dense model adds nothing.
func (e *evaluator) addCompute(acc *metrics.Accumulator, mask []int) {
	if e.sp == nil {
		return
	}
	e.sp.eachUnit(e.head, e.ffn, mask, func(l, kind, u int, routed bool, p float32, cost float64) {
		acc.AddUnit(l, kind, u, routed, p != 0, cost)
	})
	for i, real := range mask {
		if real != 0 {
			acc.AddMaskedToken(e.sp.costs[i%e.T].Router)
		}
	}
}

// gateValues reads a gate tensor's values as float32.
func gateValues(v G.Value) []float32 {
	switch d := v.Data().(type) {
	case []float32:
		return d
	case []float64:
		out := make([]float32, len(d))
		for i, x := range d {
			out[i] = float32(x)
		}
		return out
	}
	return nil
}
