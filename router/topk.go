package router

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/ops"
	"github.com/sparsetune/sparsetune/loss"
	"github.com/sparsetune/sparsetune/nn"
)

// Routing names how a router's logits become a token's units.
type Routing string

// The routings.
const (
	// Threshold runs a unit for a token when its on-probability exceeds τ
	// (Config.Tau): the compute follows the data and τ is calibrated so
	// that it meets the target on average.
	Threshold Routing = "threshold"
	// TopK runs, for every token, exactly Config.KHeads[l] of layer l's
	// heads and Config.KGroups[l] of its FFN groups: those with the
	// largest logits, ties to the lower index (ops.TopKRow). The compute
	// is then fixed by construction (ChooseK), whatever the tokens.
	TopK Routing = "topk"
)

// ParseRouting returns the routing named s; "" is Threshold.
func ParseRouting(s string) (Routing, error) {
	switch Routing(s) {
	case "", Threshold:
		return Threshold, nil
	case TopK:
		return TopK, nil
	}
	return "", fmt.Errorf("routing %q is not supported (want threshold or topk)", s)
}

// validateTopK checks the top-k fields of c for model dimensions L, H and
// G groups per layer.
func (c Config) validateTopK(L, H, G int) error {
	switch c.Routing {
	case "", Threshold:
		if c.KHeads != nil || c.KGroups != nil {
			return fmt.Errorf("router: KHeads and KGroups are for top-k routing, the routing is %q", c.Routing)
		}
		return nil
	case TopK:
	default:
		return fmt.Errorf("router: routing %q is not supported (want threshold or topk)", c.Routing)
	}
	if c.Kind == HardConcrete {
		return fmt.Errorf("router: top-k routing takes sigmoid or static routers (its straight-through gradient is σ's), not %s", c.Kind)
	}
	check := func(name string, ks []int, routed bool, n int) error {
		if !routed {
			if ks != nil {
				return fmt.Errorf("router: %s given for a part that is not routed", name)
			}
			return nil
		}
		if len(ks) != L {
			return fmt.Errorf("router: %s has %d layers, the model %d", name, len(ks), L)
		}
		for l, k := range ks {
			if k < 0 || k > n {
				return fmt.Errorf("router: %s[%d] = %d outside [0, %d]", name, l, k, n)
			}
		}
		return nil
	}
	if err := check("KHeads", c.KHeads, c.Heads, H); err != nil {
		return err
	}
	return check("KGroups", c.KGroups, c.FFN, G)
}

// TopKChoice is the k of every layer that ChooseK picked, with the compute
// they give by the cost model.
type TopKChoice struct {
	KHeads, KGroups []int // per layer; nil for a part that is not routed
	// Compute is (active routed FLOPs + router FLOPs) / dense routed FLOPs
	// by the first cost model ChooseK was given (Config.ChooseK: sequences
	// of the run's length); Low and High are its range over all of them
	// (Config.ChooseK: any sequence length up to the run's).
	Compute, Low, High float64
}

// ChooseK picks the top-k budget of every layer for target, a fraction of
// the dense compute of the routed blocks as loss.Cost counts it (the cost
// the threshold path calibrates for and the engine measures: per token,
// the kept units' FLOPs plus the routers', over every unit's FLOPs).
//
// The rule. Let K_h = Σ_l k_h,l and K_g = Σ_l k_g,l be the heads and groups
// run per token over the L layers, and f_h = K_h/(L·H), f_g = K_g/(L·G)
// the fractions of heads and groups. A head's cost grows with the keys it
// attends and a group's does not, so unless f_h = f_g the compute of a
// fixed (K_h, K_g) moves a little with the sequence length; costs are the
// cost model at the lengths it must hold for (Config.ChooseK passes the
// run's sequence length and a single token, the two ends: the compute is
// monotone in the length between them). Among the pairs with
// |f_h − f_g| ≤ max(1/H, 1/G) (heads and groups kept at about the same
// fraction, within one unit per layer, as LaRoSA and Q-Sparse use one
// ratio for every part), the one whose largest distance |compute − target|
// over costs is smallest is taken; ties go to the smaller |f_h − f_g|,
// then to the smaller compute. K_h is then spread over the layers as
// evenly as integers allow, the first K_h mod L layers taking one more
// head (groups alike): every layer has the same unit costs, so the compute
// does not depend on which layers take the extra unit. A part that is not
// routed runs all its units (its k is not free).
//
// Every cost must have equal unit costs across layers (loss.NewCost's
// always do) and the shape of the first; heads and ffn say which parts are
// routed.
func ChooseK(target float64, heads, ffn bool, costs ...*loss.Cost) (TopKChoice, error) {
	if len(costs) == 0 {
		return TopKChoice{}, fmt.Errorf("router top-k: no cost model")
	}
	L := len(costs[0].Head)
	if L == 0 || len(costs[0].Group) != L || len(costs[0].Head[0]) == 0 || len(costs[0].Group[0]) == 0 {
		return TopKChoice{}, fmt.Errorf("router top-k: the cost model has no layers or units")
	}
	if !(target > 0 && target <= 1) {
		return TopKChoice{}, fmt.Errorf("router top-k: target %g must be in (0, 1]", target)
	}
	H, Gn := len(costs[0].Head[0]), len(costs[0].Group[0])
	compute := func(c *loss.Cost, kh, kg int) float64 {
		return (float64(kh)*c.Head[0][0] + float64(kg)*c.Group[0][0] + c.Router) / c.Dense()
	}
	worst := func(kh, kg int) (d, lo, hi float64) {
		lo, hi = math.Inf(1), math.Inf(-1)
		for _, c := range costs {
			v := compute(c, kh, kg)
			d, lo, hi = math.Max(d, math.Abs(v-target)), math.Min(lo, v), math.Max(hi, v)
		}
		return d, lo, hi
	}
	lo := func(routed bool, n int) int {
		if routed {
			return 0
		}
		return L * n
	}
	slack := math.Max(1/float64(H), 1/float64(Gn)) + 1e-12
	best, bh, bg := math.Inf(1), -1, -1
	bestGap, bestC := math.Inf(1), 0.0
	for kh := lo(heads, H); kh <= L*H; kh++ {
		for kg := lo(ffn, Gn); kg <= L*Gn; kg++ {
			gap := math.Abs(float64(kh)/float64(L*H) - float64(kg)/float64(L*Gn))
			if gap > slack {
				continue
			}
			d, _, _ := worst(kh, kg)
			c := compute(costs[0], kh, kg)
			better := d < best-1e-12 ||
				(math.Abs(d-best) <= 1e-12 && (gap < bestGap-1e-12 || (math.Abs(gap-bestGap) <= 1e-12 && c < bestC)))
			if better {
				best, bh, bg, bestGap, bestC = d, kh, kg, gap, c
			}
		}
	}
	if bh < 0 {
		return TopKChoice{}, fmt.Errorf("router top-k: no budget found for target %g", target)
	}
	ch := TopKChoice{Compute: compute(costs[0], bh, bg)}
	_, ch.Low, ch.High = worst(bh, bg)
	if heads {
		ch.KHeads = spread(bh, L)
	}
	if ffn {
		ch.KGroups = spread(bg, L)
	}
	return ch, nil
}

// ChooseK is ChooseK for c's routers on model m, with the cost model of
// sequences of seqLen tokens and of a single token: the k hold the
// compute nearest target for sequences of any length up to seqLen, and
// the choice's Compute is that of full sequences.
func (c Config) ChooseK(m *nn.Config, seqLen int, target float64) (TopKChoice, error) {
	c = c.withDefaults()
	var costs []*loss.Cost
	for _, n := range []int{seqLen, 1} {
		cost, err := loss.NewCost(m, c.GroupSize, float64(n), c.FLOPsPerLayer(m))
		if err != nil {
			return TopKChoice{}, fmt.Errorf("router top-k: %w", err)
		}
		costs = append(costs, cost)
	}
	return ChooseK(target, c.Heads, c.FFN, costs...)
}

// spread divides k units over L layers: k/L each, one more for the first
// k mod L layers.
func spread(k, L int) []int {
	out := make([]int, L)
	for l := range out {
		out[l] = k / L
		if l < k%L {
			out[l]++
		}
	}
	return out
}

// topKGate builds the gate of one router under top-k routing for N = n
// tokens and k units: the logits l = scores + b (bias add fused, as the
// threshold gates fuse it), then ops.TopKMask. In the Soft stage the mask
// has the straight-through gradient of σ(l) (see the package doc); in the
// Hard stage it is constant, the routers frozen. The on-probability is the
// mask itself: the units that run, so the expected compute is the
// realised, fixed one.
func topKGate(stage Stage, scores, bias *G.Node, n, k int) (gate *G.Node, err error) {
	u := bias.Shape()[0]
	in := G.Nodes{bias}
	if scores != nil {
		if s := scores.Shape(); len(s) != 2 || s[0] != n || s[1] != u {
			return nil, fmt.Errorf("router gate: scores %v do not match (%d, %d)", s, n, u)
		}
		in = G.Nodes{scores, bias}
	}
	l, err := G.ApplyOp(&logitOp{base: newBase("TopKLogits"), n: n, u: u, scores: scores != nil}, in...)
	if err != nil {
		return nil, err
	}
	return ops.TopKMask(l, k, stage == Soft)
}

// logitOp is l[n,u] = scores[n,u] + b[u], or b[u] for every row (static),
// in float64 rounded to the graph's dtype: the logits the threshold gates
// compute inside their own op (logitAt).
type logitOp struct {
	base
	n, u   int
	scores bool
	out    buffer
}

func (op *logitOp) Arity() int { return 1 + btoi(op.scores) }
func (op *logitOp) Type() hm.Type {
	if op.scores {
		return fnType(2, 2, 1)
	}
	return fnType(2, 1)
}
func (op *logitOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}
func (op *logitOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.u}, nil
}

func (op *logitOp) Do(in ...G.Value) (G.Value, error) {
	dt := in[0].Dtype()
	out := op.out.Get(dt, op.n, op.u)
	if dt == tensor.Float32 {
		logitFwd[float32](op, slice[float32](out), in)
	} else {
		logitFwd[float64](op, slice[float64](out), in)
	}
	return out, nil
}

func logitFwd[T float](op *logitOp, y []T, in []G.Value) {
	s, b := inputs[T](op.scores, in)
	for r := 0; r < op.n; r++ {
		for j := 0; j < op.u; j++ {
			y[r*op.u+j] = T(logitAt(s, b, r, j, op.u))
		}
	}
}

// SymDiff: dscores = dl; the bias (or static logit) gets Σ_rows dl.
func (op *logitOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return biasGrads(op.scores, grad)
}
