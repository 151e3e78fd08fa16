package train

import (
	G "gorgonia.org/gorgonia"
)

// computeMeter measures the compute a hard-masked model actually spends:
// for every real token, the FLOPs of the heads and groups its masks keep
// (at the token's position, since causal attention grows with it) plus the
// routers, over the dense FLOPs of the routed blocks.
type computeMeter struct {
	e             *evaluator
	active, dense float64
	layerActive   []float64
	layerDense    []float64
	headOn        [][]int // [layer][head] tokens that kept the unit
	groupOn       [][]int
	tokens        int
}

func newComputeMeter(e *evaluator) *computeMeter {
	if e.sp == nil {
		return nil
	}
	L := len(e.head)
	m := &computeMeter{e: e, layerActive: make([]float64, L), layerDense: make([]float64, L),
		headOn: make([][]int, L), groupOn: make([][]int, L)}
	for l := 0; l < L; l++ {
		if e.head[l] != nil {
			m.headOn[l] = make([]int, e.head[l].Shape()[1])
		}
		if e.ffn[l] != nil {
			m.groupOn[l] = make([]int, e.ffn[l].Shape()[1])
		}
	}
	return m
}

// add accounts for one batch's real tokens (mask (B*T)).
func (m *computeMeter) add(mask []int) {
	if m == nil {
		return
	}
	on := [2][][]int{m.headOn, m.groupOn}
	m.e.sp.eachUnit(m.e.head, m.e.ffn, mask, func(l, kind, u int, routed bool, p float32, cost float64) {
		m.layerDense[l] += cost
		if !routed || p != 0 {
			m.layerActive[l] += cost
		}
		if routed && p != 0 {
			on[kind][l][u]++
		}
	})
	for i, real := range mask {
		if real != 0 {
			m.tokens++
			m.active += m.e.sp.costs[i%m.e.T].Router
		}
	}
}

// finish writes the figures into mt.
func (m *computeMeter) finish(mt *Metrics) {
	if m == nil {
		return
	}
	mt.sparse = true
	for l := range m.layerActive {
		m.active += m.layerActive[l]
		m.dense += m.layerDense[l]
		mt.LayerCompute = append(mt.LayerCompute, m.layerActive[l]/m.layerDense[l])
		for _, counts := range [][]int{m.headOn[l], m.groupOn[l]} {
			for _, n := range counts {
				if n == 0 {
					mt.Dead++
				} else if n == m.tokens {
					mt.AlwaysOn++
				}
			}
		}
	}
	mt.Compute = m.active / m.dense
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
