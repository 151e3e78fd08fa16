package metrics

// units measures the compute a hard-masked model actually spends: for every
// real token, the FLOPs of the heads and groups its masks keep plus the
// routers', over the dense FLOPs of the routed blocks; and how many tokens
// kept each routed unit.
type units struct {
	active, dense float64
	layerActive   []float64
	layerDense    []float64
	on            [2][][]int // [kind][layer][unit] tokens that kept a routed unit (kind 0 heads, 1 FFN groups)
	tokens        int
}

// AddUnit adds one (token, unit) pair of a hard-masked model: unit u of
// kind (0 a head, 1 an FFN neuron group) in layer l, whose FLOPs at the
// token's position are cost. A routed unit is computed when on; a unit
// without a router always is. Call AddMaskedToken once for the token too.
func (a *Accumulator) AddUnit(l, kind, u int, routed, on bool, cost float64) {
	if a.units == nil {
		a.units = &units{}
	}
	m := a.units
	for len(m.layerDense) <= l {
		m.layerDense, m.layerActive = append(m.layerDense, 0), append(m.layerActive, 0)
		m.on[0], m.on[1] = append(m.on[0], nil), append(m.on[1], nil)
	}
	m.layerDense[l] += cost
	if !routed || on {
		m.layerActive[l] += cost
	}
	if !routed {
		return
	}
	counts := m.on[kind][l]
	for len(counts) <= u {
		counts = append(counts, 0)
	}
	if on {
		counts[u]++
	}
	m.on[kind][l] = counts
}

// AddMaskedToken counts one real token of a hard-masked model and the
// FLOPs of its routers.
func (a *Accumulator) AddMaskedToken(router float64) {
	if a.units == nil {
		a.units = &units{}
	}
	a.units.tokens++
	a.units.active += router
}

// finish writes the compute figures into mt.
func (m *units) finish(mt *Metrics) {
	mt.Sparse = true
	active, dense := m.active, m.dense
	for l := range m.layerActive {
		active += m.layerActive[l]
		dense += m.layerDense[l]
		mt.LayerCompute = append(mt.LayerCompute, m.layerActive[l]/m.layerDense[l])
		for _, counts := range [][]int{m.on[0][l], m.on[1][l]} {
			for _, n := range counts {
				if n == 0 {
					mt.Dead++
				} else if n == m.tokens {
					mt.AlwaysOn++
				}
			}
		}
	}
	mt.Compute = active / dense
}
