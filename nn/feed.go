package nn

import (
	"fmt"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/ops"
)

// Batch is one (B, T) batch of token ids with its masks and labels.
type Batch struct {
	IDs   []int // (B*T) token ids, padded to T
	Mask  []int // (B*T) 1 for real tokens, 0 for padding; nil: all real
	Types []int // (B*T) token type ids (BERT); nil: all 0
	// Labels: for a causal LM, (B*T) per-token labels in Hugging Face's
	// convention (unshifted: position t is predicted from tokens < t;
	// IgnoreIndex skips), nil to use IDs with padding ignored; for a
	// classifier, (B) class ids.
	Labels []int
}

// Feed copies a batch into the graph's inputs, deriving position ids,
// shifted next-token targets and last-token indices.
func (gr *Graph) Feed(b *Batch) error {
	N, c := gr.B*gr.T, gr.Config
	if len(b.IDs) != N {
		return fmt.Errorf("feed: %d token ids, the graph takes %d×%d = %d", len(b.IDs), gr.B, gr.T, N)
	}
	for _, s := range []struct {
		name string
		v    []int
	}{{"attention mask", b.Mask}, {"token types", b.Types}} {
		if s.v != nil && len(s.v) != N {
			return fmt.Errorf("feed: %s has %d entries, want %d", s.name, len(s.v), N)
		}
	}
	mask := func(i int) int {
		if b.Mask == nil {
			return 1
		}
		return b.Mask[i]
	}
	for i, id := range b.IDs {
		if id < 0 || id >= c.Vocab {
			return fmt.Errorf("feed: token id %d at position %d is outside the vocabulary [0, %d)", id, i, c.Vocab)
		}
	}
	gr.set(gr.IDs, func(i int) int { return b.IDs[i] })
	gr.set(gr.Mask, mask)
	if gr.Types != nil {
		gr.set(gr.Types, func(i int) int {
			if b.Types == nil {
				return 0
			}
			return b.Types[i]
		})
	}
	if gr.Pos != nil {
		gr.set(gr.Pos, gr.positions(b.IDs))
	}
	switch {
	case c.Task == Classification:
		if len(b.Labels) != gr.B {
			return fmt.Errorf("feed: %d labels for %d sequences", len(b.Labels), gr.B)
		}
		for i, l := range b.Labels {
			if (l < 0 || l >= len(c.Labels)) && l != IgnoreIndex {
				return fmt.Errorf("feed: label %d of sequence %d is outside [0, %d)", l, i, len(c.Labels))
			}
		}
		gr.set(gr.Targets, func(i int) int { return b.Labels[i] })
		if gr.Last != nil {
			gr.set(gr.Last, func(r int) int {
				last := r * gr.T
				for t := 0; t < gr.T; t++ {
					if mask(r*gr.T+t) != 0 {
						last = r*gr.T + t
					}
				}
				return last
			})
		}
	default:
		labels := b.Labels
		if labels != nil && len(labels) != N {
			return fmt.Errorf("feed: %d labels, want %d (one per token)", len(labels), N)
		}
		gr.set(gr.Targets, func(i int) int {
			if i%gr.T == gr.T-1 {
				return IgnoreIndex
			}
			if labels != nil {
				return labels[i+1]
			}
			if mask(i+1) == 0 {
				return IgnoreIndex
			}
			return b.IDs[i+1]
		})
	}
	return nil
}

// positions returns the position id of each token: 0..T-1 per sequence, or
// for RoBERTa, HF's create_position_ids_from_input_ids: pad tokens get
// padding_idx and real tokens count up from padding_idx+1.
func (gr *Graph) positions(ids []int) func(int) int {
	if gr.Config.Family != RoBERTa {
		return func(i int) int { return i % gr.T }
	}
	pad := gr.Config.PadID
	pos := make([]int, len(ids))
	for r := 0; r < gr.B; r++ {
		n := 0
		for t := 0; t < gr.T; t++ {
			i := r*gr.T + t
			if ids[i] == pad {
				pos[i] = pad
				continue
			}
			n++
			pos[i] = pad + n
		}
	}
	return func(i int) int { return pos[i] }
}

func (gr *Graph) set(n *G.Node, f func(int) int) {
	switch d := gr.inputs[n].Data().(type) {
	case []float32:
		for i := range d {
			d[i] = float32(f(i))
		}
	case []float64:
		for i := range d {
			d[i] = float64(f(i))
		}
	}
}

// Runner executes a graph, optionally with its backward pass.
type Runner struct {
	gr    *Graph
	g     *G.ExprGraph // what the machine runs: gr.G without unused gradients
	vm    G.VM
	grads []*G.Node
}

// Compile prepares gr to run; with grad set, every run also computes the
// gradient of the loss with respect to every parameter that is not Frozen
// (Trainable).
func (gr *Graph) Compile(grad bool) (*Runner, error) {
	if !grad {
		return gr.CompileWith(nil, nil)
	}
	return gr.CompileWith(gr.Loss, gr.Trainable())
}

// CompileWith prepares gr to run with the gradient of objective (a scalar
// node of gr.G, e.g. the task loss plus a compute penalty) with respect to
// wrt, which may include nodes outside the model (router parameters). A
// nil objective or an empty wrt compiles the forward pass only. Only the
// gradients asked for are computed: what the backward pass would build
// for the other inputs (frozen weights) is pruned from the graph.
func (gr *Graph) CompileWith(objective *G.Node, wrt []*G.Node) (*Runner, error) {
	r := &Runner{gr: gr}
	g := gr.G
	if objective != nil && len(wrt) > 0 {
		forward := append(G.Nodes{}, gr.G.AllNodes()...)
		gs, err := G.Grad(objective, wrt...)
		if err != nil {
			return nil, fmt.Errorf("building the backward pass: %w", err)
		}
		g = withoutUnusedGradients(gr.G, forward, gs)
		if shareBackwardBuffers {
			if err := shareTransients(g, gs); err != nil {
				return nil, fmt.Errorf("building the backward pass: %w", err)
			}
		}
		r.grads = gs
	}
	r.g, r.vm = g, G.NewTapeMachine(g)
	return r, nil
}

// shareBackwardBuffers lets compiled graphs share the buffers of their
// transient backward outputs (shareTransients); tests turn it off to
// compare.
var shareBackwardBuffers = true

// Run executes the graph once on the inputs last fed.
func (r *Runner) Run() error {
	r.vm.Reset()
	if err := r.vm.RunAll(); err != nil {
		return err
	}
	if r.grads != nil {
		r.gr.zeroPaddingGrads(r.Grad)
	}
	return nil
}

// Loss is the loss of the last run.
func (r *Runner) Loss() float64 { return scalarOf(r.gr.Loss.Value()) }

// Grad is the gradient of parameter i (in Trainable order, or wrt order
// for CompileWith) from the last run.
// The tensor is owned by the graph and overwritten by the next run.
func (r *Runner) Grad(i int) *tensor.Dense { return r.grads[i].Value().(*tensor.Dense) }

// NumGrads is the number of gradients each run computes (0 without a
// backward pass).
func (r *Runner) NumGrads() int { return len(r.grads) }

// Close releases the machine.
func (r *Runner) Close() error { return r.vm.Close() }

func scalarOf(v G.Value) float64 { return ops.Scalar(v) }

// zeroPaddingGrads clears the gradient of padding rows, as PyTorch's
// nn.Embedding(padding_idx=pad) does: HF BERT never trains the pad row of
// its word embeddings, and RoBERTa neither that nor the pad row of its
// position embeddings.
func (gr *Graph) zeroPaddingGrads(grad func(i int) *tensor.Dense) {
	c := gr.Config
	if (c.Family != BERT && c.Family != RoBERTa) || c.PadID < 0 {
		return
	}
	for i, p := range gr.Trainable() {
		name := p.Name()
		if !strings.HasSuffix(name, "word_embeddings.weight") && !(c.Family == RoBERTa && strings.HasSuffix(name, "position_embeddings.weight")) {
			continue
		}
		g := grad(i)
		d := g.Shape()[1]
		if c.PadID >= g.Shape()[0] {
			continue
		}
		switch v := g.Data().(type) {
		case []float32:
			clear(v[c.PadID*d : (c.PadID+1)*d])
		case []float64:
			clear(v[c.PadID*d : (c.PadID+1)*d])
		}
	}
}
