package nn

import (
	"fmt"
	"slices"
)

// FFNRole says what one FFN tensor holds for each neuron.
type FFNRole int

// The FFN tensors indexed by neuron.
const (
	FFNUp       FFNRole = iota // first projection (GPT-2 c_fc, BERT intermediate.dense, LLaMA up_proj): neuron j's input weights (D)
	FFNUpBias                  // bias of the first projection (GPT-2, BERT, RoBERTa): neuron j's bias
	FFNGate                    // LLaMA gate_proj: neuron j's gate input weights (D)
	FFNDown                    // second projection (c_proj, output.dense, down_proj): neuron j's output weights (D)
	FFNGateBias                // bias of LLaMA's gate_proj (mlp_bias): neuron j's gate bias
)

// String names the role.
func (r FFNRole) String() string {
	switch r {
	case FFNUp:
		return "up"
	case FFNUpBias:
		return "up bias"
	case FFNGate:
		return "gate"
	case FFNDown:
		return "down"
	case FFNGateBias:
		return "gate bias"
	}
	return fmt.Sprintf("FFNRole(%d)", int(r))
}

// FFNTensor locates the neurons of one FFN tensor: neuron j is index j
// along Axis, 0 for rows (or the elements of a bias), 1 for columns.
type FFNTensor struct {
	Name string
	Role FFNRole
	Axis int
}

// FFNTensors lists the tensors of layer's FFN that are indexed by neuron,
// in Specs order. The axis follows each family's storage layout: GPT-2's
// Conv1D weights are (in, out), nn.Linear weights (out, in).
func (c *Config) FFNTensors(layer int) []FFNTensor {
	switch c.Family.Layout() {
	case GPT2:
		p := fmt.Sprintf("transformer.h.%d.mlp.", layer)
		return []FFNTensor{
			{p + "c_fc.weight", FFNUp, 1},     // (D, F)
			{p + "c_fc.bias", FFNUpBias, 0},   // (F)
			{p + "c_proj.weight", FFNDown, 0}, // (F, D)
		}
	case BERT, RoBERTa:
		p := fmt.Sprintf("%s.encoder.layer.%d.", c.Family, layer)
		return []FFNTensor{
			{p + "intermediate.dense.weight", FFNUp, 0},   // (F, D)
			{p + "intermediate.dense.bias", FFNUpBias, 0}, // (F)
			{p + "output.dense.weight", FFNDown, 1},       // (D, F)
		}
	case LLaMA:
		p := fmt.Sprintf("model.layers.%d.mlp.", layer)
		if c.MLPBias { // down_proj's bias is (D), not indexed by neuron
			return []FFNTensor{
				{p + "gate_proj.weight", FFNGate, 0}, // (F, D)
				{p + "gate_proj.bias", FFNGateBias, 0},
				{p + "up_proj.weight", FFNUp, 0},
				{p + "up_proj.bias", FFNUpBias, 0},
				{p + "down_proj.weight", FFNDown, 1}, // (D, F)
			}
		}
		return []FFNTensor{
			{p + "gate_proj.weight", FFNGate, 0}, // (F, D)
			{p + "up_proj.weight", FFNUp, 0},     // (F, D)
			{p + "down_proj.weight", FFNDown, 1}, // (D, F)
		}
	}
	return nil
}

// ffnParams resolves layer's FFN tensors to parameters, checking that each
// exists, is float32 or float64 and has F along its neuron axis.
func (m *Model) ffnParams(layer int) ([]FFNTensor, []*Param, error) {
	c := m.Config
	if layer < 0 || layer >= c.L {
		return nil, nil, fmt.Errorf("FFN layer %d is outside [0, %d)", layer, c.L)
	}
	ts := c.FFNTensors(layer)
	ps := make([]*Param, len(ts))
	for i, t := range ts {
		p := m.Params.Get(t.Name)
		if p == nil || p.Value == nil {
			return nil, nil, fmt.Errorf("FFN layer %d: no parameter %q", layer, t.Name)
		}
		s := p.Value.Shape()
		if t.Axis >= len(s) || len(s) > 2 || s[t.Axis] != c.F {
			return nil, nil, fmt.Errorf("FFN layer %d: %s has shape %v, want %d neurons along axis %d", layer, t.Name, s, c.F, t.Axis)
		}
		switch p.Value.Data().(type) {
		case []float32, []float64:
		default:
			return nil, nil, fmt.Errorf("FFN layer %d: %s is %v, want float32 or float64", layer, t.Name, p.Value.Dtype())
		}
		ps[i] = p
	}
	return ts, ps, nil
}

// rowsCols views a 1-D (F) tensor as (F, 1) and a 2-D one as itself.
func rowsCols(s []int) (int, int) {
	if len(s) == 1 {
		return s[0], 1
	}
	return s[0], s[1]
}

// PermuteFFN reorders the FFN neurons of layer in place so that new neuron
// i is old neuron perm[i]: the neuron's input weights, its bias and its
// output weights move together (every tensor FFNTensors lists), so the
// dense function of the model is unchanged. Router groups are contiguous
// ranges of neurons (Gates.GroupSize), so a grouping such as
// router.GroupPermutation becomes usable by permuting the neurons once.
//
// perm must be a permutation of [0, F). On error no tensor is changed.
// Graphs already built from m share its tensors and see the new order;
// optimiser state kept per parameter (AdamW moments) does not, so permute
// before training starts.
func (m *Model) PermuteFFN(layer int, perm []int) error {
	ts, ps, err := m.ffnParams(layer)
	if err != nil {
		return fmt.Errorf("permute: %w", err)
	}
	if err := checkPermutation(perm, m.Config.F); err != nil {
		return fmt.Errorf("permute FFN layer %d: %w", layer, err)
	}
	for i, t := range ts {
		r, c := rowsCols(ps[i].Value.Shape())
		switch d := ps[i].Value.Data().(type) {
		case []float32:
			permuteAxis(d, r, c, t.Axis, perm)
		case []float64:
			permuteAxis(d, r, c, t.Axis, perm)
		}
	}
	return nil
}

// checkPermutation reports whether perm is a permutation of [0, n).
func checkPermutation(perm []int, n int) error {
	if len(perm) != n {
		return fmt.Errorf("permutation has %d entries, want %d (the FFN width)", len(perm), n)
	}
	seen := make([]bool, n)
	for i, p := range perm {
		if p < 0 || p >= n {
			return fmt.Errorf("permutation entry %d is %d, outside [0, %d)", i, p, n)
		}
		if seen[p] {
			return fmt.Errorf("permutation repeats %d (entry %d)", p, i)
		}
		seen[p] = true
	}
	return nil
}

// permuteAxis reorders the rows (axis 0) or columns (axis 1) of the
// row-major (rows, cols) matrix d so that new index i holds old perm[i].
func permuteAxis[T float32 | float64](d []T, rows, cols, axis int, perm []int) {
	old := slices.Clone(d)
	if axis == 0 {
		for i, p := range perm {
			copy(d[i*cols:(i+1)*cols], old[p*cols:(p+1)*cols])
		}
		return
	}
	for r := 0; r < rows; r++ {
		dst, src := d[r*cols:(r+1)*cols], old[r*cols:(r+1)*cols]
		for i, p := range perm {
			dst[i] = src[p]
		}
	}
}

// FFNNeurons returns, for each of layer's F neurons, its weights in the
// tensor with the given role: row j or column j of that tensor as a vector
// of length D (a bias gives vectors of length 1). Values are copied and
// converted to float32.
func (m *Model) FFNNeurons(layer int, role FFNRole) ([][]float32, error) {
	ts, ps, err := m.ffnParams(layer)
	if err != nil {
		return nil, err
	}
	for i, t := range ts {
		if t.Role != role {
			continue
		}
		r, c := rowsCols(ps[i].Value.Shape())
		vals := floats64(ps[i].Value)
		n, dim := r, c
		if t.Axis == 1 {
			n, dim = c, r
		}
		out := make([][]float32, n)
		for j := range out {
			v := make([]float32, dim)
			for k := range v {
				if t.Axis == 0 {
					v[k] = float32(vals[j*c+k])
				} else {
					v[k] = float32(vals[k*c+j])
				}
			}
			out[j] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("FFN layer %d of a %s model has no %v tensor", layer, m.Config.Family, role)
}
