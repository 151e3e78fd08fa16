package nn

import (
	"fmt"
	"slices"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/ops"
)

// Gates are the optional per-token gate inputs of one layer. A nil field
// leaves that part of the layer dense.
type Gates struct {
	Head      *G.Node // (N, H): scales each head's context vector
	FFN       *G.Node // (N, G): scales each group of GroupSize FFN neurons
	GroupSize int     // F / G
}

// GateFunc supplies the gates of layer l given the layer's input hidden
// states x (N, D). Routers implement it; nil means a dense model.
type GateFunc func(g *G.ExprGraph, l int, x *G.Node) (Gates, error)

// BuildOptions fix the shape and mode of a graph.
type BuildOptions struct {
	B, T    int          // batch and sequence length of every run of the graph
	Dtype   tensor.Dtype // Float32 for training, Float64 for gradient checks (default Float32)
	Gates   GateFunc     // nil: dense
	Dropout float64      // hidden dropout probability in training mode (0 disables)
	Seed    uint64       // dropout RNG seed
}

// Graph is one model's computation for a fixed (B, T): the inputs to feed,
// the parameter nodes, the logits and the task loss.
type Graph struct {
	G       *G.ExprGraph
	Config  *Config
	B, T    int
	IDs     *G.Node   // (N) token ids
	Pos     *G.Node   // (N) position ids (GPT-2, BERT, RoBERTa)
	Types   *G.Node   // (N) token type ids (BERT, RoBERTa)
	Mask    *G.Node   // (B, T) 1 for real tokens, 0 for padding
	Last    *G.Node   // (B) row index of each sequence's last real token (decoder classifiers)
	Targets *G.Node   // (N) next-token targets, or (B) class ids; ignoreIndex marks skipped rows
	Params  []*G.Node // every parameter, in Specs order
	Frozen  []bool    // whether each of Params was Frozen when the graph was built
	Hidden  []*G.Node // (N, D) input of each layer, then the final hidden state
	Logits  *G.Node   // (N, V) or (B, C)
	Loss    *G.Node   // scalar mean cross-entropy
	Dropout []*ops.DropoutState

	inputs map[*G.Node]*tensor.Dense
	dt     tensor.Dtype
}

// IgnoreIndex marks targets that do not count in the loss, as in PyTorch
// and Hugging Face.
const IgnoreIndex = -100

// Build constructs the graph of m for opt.
func (m *Model) Build(opt BuildOptions) (*Graph, error) {
	c := m.Config
	if opt.Dtype.Type == nil {
		opt.Dtype = tensor.Float32
	}
	if opt.B <= 0 || opt.T <= 0 {
		return nil, fmt.Errorf("build: batch %d and sequence length %d must be positive", opt.B, opt.T)
	}
	if err := c.CheckLength(opt.T); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	g := G.NewGraph()
	gr := &Graph{G: g, Config: c, B: opt.B, T: opt.T, inputs: map[*G.Node]*tensor.Dense{}, dt: opt.Dtype}
	b := &builder{gr: gr, opt: opt, params: map[string]*G.Node{}}
	for _, p := range m.Params.List {
		v := p.Value
		if v.Dtype() != opt.Dtype {
			return nil, fmt.Errorf("build: parameter %s is %v, graph wants %v (use Params.Convert)", p.Name, v.Dtype(), opt.Dtype)
		}
		n := G.NewTensor(g, opt.Dtype, len(p.Shape), G.WithShape(p.Shape...), G.WithValue(v), G.WithName(p.Name))
		b.params[p.Name] = n
		gr.Params = append(gr.Params, n)
		gr.Frozen = append(gr.Frozen, p.Frozen)
	}
	N := opt.B * opt.T
	gr.IDs = b.input("input_ids", N)
	gr.Mask = b.input("attention_mask", opt.B, opt.T)
	switch c.Family.Layout() {
	case GPT2:
		b.gpt2()
	case BERT, RoBERTa:
		b.bert()
	case LLaMA:
		b.llama()
	}
	if b.err != nil {
		return nil, b.err
	}
	if gr.Loss, b.err = ops.SoftmaxCrossEntropy(gr.Logits, gr.Targets, IgnoreIndex); b.err != nil {
		return nil, b.err
	}
	return gr, nil
}

// Trainable returns the nodes of the parameters that were not Frozen when
// the graph was built, in Specs order (Params.Trainable's order).
func (gr *Graph) Trainable() []*G.Node {
	var out []*G.Node
	for i, n := range gr.Params {
		if !gr.Frozen[i] {
			out = append(out, n)
		}
	}
	return out
}

// builder threads the first error through a sequence of graph calls so the
// family builders read like the modelling code they mirror.
type builder struct {
	gr     *Graph
	opt    BuildOptions
	params map[string]*G.Node
	err    error
}

func (b *builder) input(name string, shape ...int) *G.Node {
	t := tensor.New(tensor.Of(b.opt.Dtype), tensor.WithShape(shape...))
	n := G.NewTensor(b.gr.G, b.opt.Dtype, len(shape), G.WithShape(shape...), G.WithValue(t), G.WithName(name))
	b.gr.inputs[n] = t
	return n
}

func (b *builder) w(name string) *G.Node {
	n, ok := b.params[name]
	if !ok && b.err == nil {
		b.err = fmt.Errorf("build: no parameter %q", name)
	}
	return n
}

// do runs one graph call unless an earlier one failed.
func (b *builder) do(f func() (*G.Node, error)) *G.Node {
	if b.err != nil {
		return nil
	}
	n, err := f()
	if err != nil {
		b.err = err
	}
	return n
}

func (b *builder) add(x, y *G.Node) *G.Node {
	return b.do(func() (*G.Node, error) { return ops.Add(x, y) })
}

func (b *builder) embed(table string, ids *G.Node) *G.Node {
	return b.do(func() (*G.Node, error) { return ops.Embedding(b.w(table), ids) })
}

func (b *builder) layerNorm(x *G.Node, prefix string) *G.Node {
	return b.do(func() (*G.Node, error) {
		return ops.LayerNorm(x, b.w(prefix+".weight"), b.w(prefix+".bias"), b.gr.Config.NormEps)
	})
}

func (b *builder) rmsNorm(x *G.Node, prefix string) *G.Node {
	return b.do(func() (*G.Node, error) { return ops.RMSNorm(x, b.w(prefix+".weight"), b.gr.Config.NormEps) })
}

// headNorm is RMSNorm over each S-wide head of x (Qwen3's q_norm, k_norm).
func (b *builder) headNorm(x *G.Node, prefix string) *G.Node {
	return b.do(func() (*G.Node, error) { return ops.RMSNormHeads(x, b.w(prefix+".weight"), b.gr.Config.NormEps) })
}

// linear applies weight (and bias, when bias is set) of prefix, then act,
// then the optional group gate. conv1d selects GPT-2's (in, out) layout.
func (b *builder) linear(x *G.Node, prefix string, conv1d, bias bool, act ops.Activation, gate *G.Node, groupSize int) *G.Node {
	if bias && act == ops.ActIdentity && gate == nil { // the GEMM adds the bias: one buffer, no pass-through backward
		return b.do(func() (*G.Node, error) { return ops.MatMulBias(x, b.w(prefix+".weight"), b.w(prefix+".bias"), !conv1d) })
	}
	y := b.do(func() (*G.Node, error) { return ops.MatMul(x, b.w(prefix+".weight"), !conv1d) })
	if !bias && act == ops.ActIdentity && gate == nil {
		return y
	}
	var bn *G.Node
	if bias {
		bn = b.w(prefix + ".bias")
	}
	return b.do(func() (*G.Node, error) { return ops.BiasAct(y, bn, act, gate, groupSize) })
}

func (b *builder) dropout(x *G.Node) *G.Node {
	if b.opt.Dropout <= 0 {
		return x
	}
	return b.do(func() (*G.Node, error) {
		n, st, err := ops.Dropout(x, b.opt.Dropout, b.opt.Seed+uint64(len(b.gr.Dropout)))
		b.gr.Dropout = append(b.gr.Dropout, st)
		return n, err
	})
}

// gates asks the GateFunc for layer l's gates.
func (b *builder) gates(l int, x *G.Node) Gates {
	if b.opt.Gates == nil || b.err != nil {
		return Gates{}
	}
	gs, err := b.opt.Gates(b.gr.G, l, x)
	if err != nil {
		b.err = fmt.Errorf("layer %d gates: %w", l, err)
	}
	return gs
}

func (b *builder) act() ops.Activation {
	a, err := ops.ParseActivation(b.gr.Config.Act)
	if err != nil && b.err == nil {
		b.err = err
	}
	return a
}

func (b *builder) attnConfig() ops.AttnConfig {
	c := b.gr.Config
	return ops.AttnConfig{B: b.opt.B, T: b.opt.T, H: c.H, KVH: c.KVH, S: c.S(), Causal: c.Causal(), RoPETheta: c.RoPETheta, RoPEScale: c.RoPEScale}
}

// lmHead produces next-token logits from the final hidden state.
func (b *builder) lmHead(x *G.Node, table string) {
	gr := b.gr
	if gr.Config.Task == Classification {
		b.decoderClassifier(x)
		return
	}
	if !gr.Config.Tied {
		table = "lm_head.weight"
	}
	gr.Logits = b.do(func() (*G.Node, error) { return ops.MatMul(x, b.w(table), true) }) // (N, V)
	gr.Targets = b.input("targets", b.opt.B*b.opt.T)
}

// decoderClassifier scores each sequence's last real token (HF
// GPT2ForSequenceClassification and LlamaForSequenceClassification).
func (b *builder) decoderClassifier(x *G.Node) {
	gr := b.gr
	gr.Last = b.input("last_token", b.opt.B)
	h := b.do(func() (*G.Node, error) { return ops.GatherRows(x, gr.Last) }) // (B, D)
	gr.Logits = b.do(func() (*G.Node, error) { return ops.MatMul(h, b.w("score.weight"), true) })
	gr.Targets = b.input("targets", b.opt.B)
}

// withoutUnusedGradients returns the part of g that the forward nodes
// (forward: g's nodes before the backward pass was added) and the
// gradients asked for (grads) need. Every op's SymDiff builds the gradient
// of each of its inputs, so differentiating with respect to a subset of
// the parameters (frozen base weights) would still compute, and keep
// buffers for, the gradients of all the others: the weight-gradient GEMMs
// and results as large as the weights. A machine compiled on the returned
// graph runs none of them. (gorgonia's RemoveNode cannot be used: it
// leaves the graph's id index pointing at the wrong nodes.)
func withoutUnusedGradients(g *G.ExprGraph, forward, grads G.Nodes) *G.ExprGraph {
	roots := append(append(G.Nodes{}, forward...), grads...)
	return g.ExactSubgraphRoots(roots...)
}

// shareTransients gives the transient outputs of g's backward pass
// (ops.Transient: the input gradients of the matmuls, of the fused bias and
// activation and of attention) shared buffers
// wherever their lifetimes in the machine's order do not overlap: layer
// l's dx buffers are dead once layer l-1's are written, so an L-layer
// graph keeps about one layer's worth instead of L. An output is shared
// only when every op that reads it is one of package ops' (gorgonia's own
// ops may be computed in place over an input, which would extend its
// lifetime unseen) and it is not one of the gradients asked for (keep),
// which are read after the run. The working buffers that backward ops use
// only inside their run (ops.ScratchSharer: attention's) are shared by
// all of the graph's ops of a kind.
func shareTransients(g *G.ExprGraph, keep G.Nodes) error {
	sorted, err := G.Sort(g)
	if err != nil {
		return err
	}
	slices.Reverse(sorted) // the machine's order (gorgonia's Compile)
	pos := make(map[*G.Node]int, len(sorted))
	last := map[*G.Node]int{} // position of the last op that reads the node
	owned := map[*G.Node]bool{}
	for i, n := range sorted {
		pos[n] = i
	}
	for i, n := range sorted {
		for it := g.From(n.ID()); it.Next(); {
			c := it.Node().(*G.Node)
			last[c] = max(last[c], i)
			if _, seen := owned[c]; !seen {
				owned[c] = true
			}
			owned[c] = owned[c] && n.Op() != nil && ops.Owned(n.Op())
		}
	}
	kept := map[*G.Node]bool{}
	for _, n := range keep {
		kept[n] = true
	}
	type slot struct {
		t    *tensor.Dense
		free int // position after which the slot may be written again
	}
	slots := map[string][]*slot{} // by dtype and shape
	var scratch []G.Op            // the first op of each kind with shareable working buffers
	for i, n := range sorted {
		if sh, ok := n.Op().(ops.ScratchSharer); ok {
			shared := false
			for _, o := range scratch {
				if shared = sh.ShareScratch(o); shared {
					break
				}
			}
			if !shared {
				scratch = append(scratch, n.Op())
			}
		}
		tr, ok := n.Op().(ops.Transient)
		if !ok || !tr.Transient() || kept[n] || !owned[n] {
			continue
		}
		key := fmt.Sprint(n.Dtype(), n.Shape())
		var s *slot
		for _, c := range slots[key] {
			if c.free < i {
				s = c
				break
			}
		}
		if s == nil {
			s = &slot{t: tensor.New(tensor.Of(n.Dtype()), tensor.WithShape(n.Shape()...))}
			slots[key] = append(slots[key], s)
		}
		s.free = max(last[n], i)
		tr.ShareOutput(s.t)
	}
	return nil
}
