package router

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/ops"
	"github.com/sparsetune/sparsetune/nn"
)

// Set is the routers of one model: per layer a head router and an FFN
// router (either may be absent, see Config.Heads and Config.FFN).
//
// A contextual router (Sigmoid, HardConcrete) scores the layer's input
// hidden state x (N, D) linearly, logits = x·W + b with W (D, U) and b (U),
// U = H heads or G = F/GroupSize neuron groups: LTE trains a small router
// per layer and Deja Vu a small MLP; a linear map is the cheapest
// contextual router (FLOPsPerLayer). A Static router has one logit per
// unit, broadcast to every token.
//
// Parameters are *nn.Param, so the optimizer that trains the model trains
// them too. Their names are checkpoint keys:
//
//	router.layers.{i}.head.weight (D, H)   router.layers.{i}.head.bias (H)
//	router.layers.{i}.ffn.weight  (D, G)   router.layers.{i}.ffn.bias  (G)
//	router.layers.{i}.head.logits (H)      router.layers.{i}.ffn.logits (G)   (static)
//
// Weights start at 0 and biases (logits) at the value that makes every
// gate's on-probability Config.InitOpen: all tokens start with the same
// nearly open gates, so training starts from the dense model, and the
// router learns its dependence on x from gradients alone (dW = xᵀ·dlogits is
// not 0, and a single linear layer has no symmetry to break). A random W
// would instead give random gates at step 0 whose spread grows with the
// hidden state's scale, which in GPT-2's residual stream has outlier
// dimensions in the hundreds.
//
// A Set is not safe for concurrent use.
type Set struct {
	Config Config
	model  *nn.Config
	dt     tensor.Dtype
	params []*nn.Param
	layers []layerParams
	noise  noiseSource

	// What the GateFunc last built, for one graph (see GateFunc).
	graph         *G.ExprGraph
	stage         Stage
	nodes         map[*nn.Param]*G.Node
	headP, groupP []*G.Node
	hc            []*hardConcrete
}

// layerParams are one layer's router parameters; nil when not routed. For
// a static router w is nil and b holds the logits.
type layerParams struct {
	headW, headB, ffnW, ffnB *nn.Param
}

// New returns the routers c for model m with parameters of dtype dt
// (Float32 for training, Float64 for gradient checks). seed fixes the
// hard-concrete noise; the parameters' initial values do not depend on it.
func New(c Config, m *nn.Config, seed uint64, dt tensor.Dtype) (*Set, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	c = c.withDefaults()
	if err := c.validate(m); err != nil {
		return nil, err
	}
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("router: dtype %v is not supported (want float32 or float64)", dt)
	}
	s := &Set{Config: c, model: m, dt: dt}
	s.noise.rng.Seed(seed, noiseStream)
	b := c.initLogit()
	add := func(name string, v float64, shape ...int) *nn.Param {
		t := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
		fillConst(t, v)
		p := &nn.Param{Name: name, Shape: shape, Value: t}
		s.params = append(s.params, p)
		return p
	}
	for i := 0; i < m.L; i++ {
		var lp layerParams
		pre := fmt.Sprintf("router.layers.%d.", i)
		unit := func(part string, u int) (w, bias *nn.Param) {
			if c.Kind == Static {
				return nil, add(pre+part+".logits", b, u)
			}
			return add(pre+part+".weight", 0, m.D, u), add(pre+part+".bias", b, u)
		}
		if c.Heads {
			lp.headW, lp.headB = unit("head", m.H)
		}
		if c.FFN {
			lp.ffnW, lp.ffnB = unit("ffn", m.F/c.GroupSize)
		}
		s.layers = append(s.layers, lp)
	}
	return s, nil
}

func fillConst(t *tensor.Dense, v float64) {
	switch d := t.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = float32(v)
		}
	case []float64:
		for i := range d {
			d[i] = v
		}
	}
}

// Params lists the router parameters, layer by layer (head before FFN,
// weight before bias), for the optimizer and checkpoints.
func (s *Set) Params() []*nn.Param { return s.params }

// FLOPsPerLayer is Config.FLOPsPerLayer for the Set's model.
func (s *Set) FLOPsPerLayer() float64 { return s.Config.FLOPsPerLayer(s.model) }

// GateFunc returns the nn.GateFunc that builds this Set's gates in stage.
//
// Soft (stage 1): sigmoid and static gates are p = σ(logits), the
// on-probability itself (LTE §3.2); hard-concrete gates are samples z (see
// Config and Louizos et al. 2018, §4) drawn anew on every run from the
// Set's random state (RNGState). Both are differentiable in the router
// parameters and in x.
//
// Hard (stage 2 and inference): every kind gives binary gates 1[P(on) > τ]
// with P(on) the Soft stage's on-probability: σ(logits) for sigmoid and
// static, P(z ≠ 0) for hard-concrete (use Config.LouizosTau for τ to keep
// the units Louizos et al.'s deterministic test-time gate keeps). They carry
// no gradient: the routers are frozen and must not be given to the stage-2
// optimizer (G.Grad refuses them as targets).
//
// The graph being built must have the Set's dtype. A GateFunc call for a
// new graph creates the parameters' nodes in it; Nodes, Probs and
// Separability then refer to that graph until a GateFunc builds another.
func (s *Set) GateFunc(stage Stage) nn.GateFunc {
	return func(g *G.ExprGraph, l int, x *G.Node) (nn.Gates, error) {
		if l < 0 || l >= len(s.layers) {
			return nn.Gates{}, fmt.Errorf("router: layer %d outside [0, %d)", l, len(s.layers))
		}
		if x.Dtype() != s.dt {
			return nn.Gates{}, fmt.Errorf("router: hidden state is %v, routers are %v (build the Set with New(..., %v))", x.Dtype(), s.dt, x.Dtype())
		}
		if xs := x.Shape(); len(xs) != 2 || xs[1] != s.model.D {
			return nn.Gates{}, fmt.Errorf("router: hidden state %v, want (N, %d)", xs, s.model.D)
		}
		if g != s.graph || stage != s.stage {
			s.begin(g, stage)
		}
		lp := s.layers[l]
		n := x.Shape()[0]
		gates := nn.Gates{GroupSize: s.Config.GroupSize}
		var err error
		if lp.headB != nil {
			if gates.Head, s.headP[l], err = s.unit(stage, x, lp.headW, lp.headB, n, s.Config.KHeads, l); err != nil {
				return nn.Gates{}, fmt.Errorf("router layer %d heads: %w", l, err)
			}
		}
		if lp.ffnB != nil {
			if gates.FFN, s.groupP[l], err = s.unit(stage, x, lp.ffnW, lp.ffnB, n, s.Config.KGroups, l); err != nil {
				return nn.Gates{}, fmt.Errorf("router layer %d FFN: %w", l, err)
			}
		}
		return gates, nil
	}
}

// begin starts recording the build of graph g and creates the parameter
// nodes in it.
func (s *Set) begin(g *G.ExprGraph, stage Stage) {
	s.graph, s.stage = g, stage
	s.nodes = make(map[*nn.Param]*G.Node, len(s.params))
	for _, p := range s.params {
		s.nodes[p] = G.NewTensor(g, s.dt, len(p.Shape), G.WithShape(p.Shape...), G.WithValue(p.Value), G.WithName(p.Name))
	}
	s.headP = make([]*G.Node, len(s.layers))
	s.groupP = make([]*G.Node, len(s.layers))
	s.hc = nil
}

// unit builds one router's gate and on-probability for N = n tokens; ks
// are the router's per-layer k under top-k routing and l its layer.
func (s *Set) unit(stage Stage, x *G.Node, w, b *nn.Param, n int, ks []int, l int) (gate, prob *G.Node, err error) {
	var scores *G.Node
	if w != nil {
		if scores, err = ops.MatMul(x, s.nodes[w], false); err != nil { // (N, U)
			return nil, nil, err
		}
	}
	if s.Config.Routing == TopK {
		gate, err = topKGate(stage, scores, s.nodes[b], n, ks[l])
		return gate, gate, err
	}
	gate, prob, err = gateNodes(s.Config, stage, scores, s.nodes[b], n, &s.noise)
	if err == nil && gate != prob {
		s.hc = append(s.hc, gate.Op().(*hardConcrete))
	}
	return gate, prob, err
}

// Nodes returns the parameter nodes of the graph last built, in Params
// order: the targets for G.Grad in stage 1.
func (s *Set) Nodes() []*G.Node {
	out := make([]*G.Node, 0, len(s.params))
	for _, p := range s.params {
		if n, ok := s.nodes[p]; ok {
			out = append(out, n)
		}
	}
	return out
}

// Probs returns, per layer, the on-probability nodes of the graph last
// built: head (N, H) and ffn (N, G), nil for a part that is not routed.
// In the Soft stage they are σ(logits) (sigmoid, static) or P(z ≠ 0)
// (hard-concrete), differentiable, for the compute penalty
// (loss.ExpectedCompute) and for diagnostics; in the Hard stage they are
// the binary gates themselves, so the expected compute is the realised one.
func (s *Set) Probs() (head, ffn []*G.Node) { return s.headP, s.groupP }

// RNGState returns the hard-concrete noise state, to be saved in a
// checkpoint beside the optimizer state.
func (s *Set) RNGState() ([]byte, error) { return s.noise.rng.MarshalBinary() }

// SetRNGState restores a state returned by RNGState, so that a resumed run
// draws the samples the interrupted one would have drawn.
func (s *Set) SetRNGState(b []byte) error {
	if err := s.noise.rng.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("router noise state: %w", err)
	}
	return nil
}
