package loss

import (
	"fmt"
	"math"

	"github.com/sparsetune/sparsetune/nn"
)

// Counting conventions (FLOPs per token of the forward pass):
//
//   - A multiply-add of a matrix or vector product counts 2 FLOPs, the usual
//     convention (Kaplan et al. 2020, "Scaling Laws for Neural Language
//     Models", §2.1), so an (m,k)·(k,n) product is 2·m·k·n.
//   - Adding a bias or a residual counts 1 FLOP per element; the embedding
//     sums (GPT-2: token + position, BERT: word + type + position) count as
//     adds, the lookups themselves 0.
//   - A LayerNorm counts 7 per element, as a naive implementation spends
//     them: mean 1, centring 1, variance 2 (a multiply-add), scaling by
//     1/σ 1, gain and shift 2 (a multiply-add). An RMSNorm counts 4: mean
//     square 2, scaling 1, gain 1. The scalar 1/√(·+ε) per row is free.
//   - Not counted, being elementwise or nonlinear and O(D) or O(F) per token
//     next to the O(D²) products: activations, SwiGLU's product
//     silu(g)·u, the softmax, the 1/√S score scale, RoPE, dropout, and the
//     gate multiplications (router overhead is the caller's RouterFLOPs).
//   - S is the head size, head_dim where the config gives one (Qwen3,
//     some LLaMA and Mistral checkpoints), so H·S need not equal D.
//   - Attention counts the keys a query actually attends: t+1 at position t
//     for a causal model (GPT-2, LLaMA-style), the whole sequence T for an
//     encoder (BERT, RoBERTa). (The fused kernel in internal/ops computes
//     the full T×T score matrix and masks it; the model counts the work an
//     efficient masked implementation does.)
//
// What a gate saves. A head gate h of token t scales that head's context
// vector (nn.Gates), so when it is 0 the masked model skips, for token t:
// the head's query slice (D·S multiply-adds, S bias adds where q has a
// bias, and Qwen3's q_norm of the slice, an RMSNorm of S elements), its scores
// against every attended key (S multiply-adds per key), its weighted sum of
// values (S per key) and its rows of the output projection (S·D). The
// token's keys and values are NOT saved: other tokens' queries attend to
// them whatever token t's own gate, so whether they are needed depends on
// the gates of other tokens. They are counted as fixed per-layer work,
// KVH·(2·(2·D·S + bias·S) + k_norm) per token. (Counting them as saved would describe
// a model in which a head off at t also hides token t's key from that head,
// which is not the model nn computes.) With grouped-query attention only the
// query side is per head anyway, so no cost has to be split between the
// H/KVH query heads that share a key/value head.
//
// A neuron-group gate g of token t switches k = GroupSize neurons; the
// masked model skips their input projection (D·k multiply-adds, plus k bias
// adds for GPT-2, BERT and a LLaMA with mlp_bias), for the LLaMA layout also
// the gate projection (D·k, and its bias), and their rows of the output
// projection (k·D). The output projection's bias, which is added whatever
// the gates, is fixed work. Which projections have biases follows the
// config (attention_bias, mlp_bias, Qwen2's q/k/v biases).
//
// Fixed per-layer work: the two norms, the two residual adds, the
// key/value projections with their biases, and the biases of the attention
// output projection and of the FFN output projection. Fixed work outside
// the layers: embedding sums, the final norm (GPT-2, LLaMA) and the head:
// an LM head costs 2·D·V per token; a classifier runs once per sequence
// (BERT's pooler and classifier, RoBERTa's two-layer head, GPT-2's and
// LLaMA's score layer on the last token), so its cost is spread over the
// sequence's tokens.

// Cost is the per-token forward FLOPs of a model, split into the units a
// router switches and the rest.
type Cost struct {
	Head   [][]float64 // [layer][head] FLOPs per token of each attention head when on
	Group  [][]float64 // [layer][group] FLOPs per token of each FFN neuron group when on
	Layer  []float64   // [layer] FLOPs per token of each layer's unrouted work (included in Fixed)
	Fixed  float64     // FLOPs per token of all unrouted work: Σ Layer, embeddings, final norm, head
	Router float64     // router FLOPs per token, all layers together
}

// NewCost returns the cost per token of model c, averaged over the
// positions of a sequence of contextLen tokens: attention terms use the
// mean number of attended keys, (contextLen+1)/2 for a causal model and
// contextLen for an encoder. contextLen may be fractional, e.g. a data
// set's mean sequence length. FFN gates switch groups of groupSize neurons
// (F/groupSize groups per layer); routerFLOPsPerLayer is the router's cost
// per token and layer.
func NewCost(c *nn.Config, groupSize int, contextLen float64, routerFLOPsPerLayer float64) (*Cost, error) {
	if err := checkCost(c, groupSize, contextLen, routerFLOPsPerLayer); err != nil {
		return nil, err
	}
	keys := contextLen
	if causal(c) {
		keys = (contextLen + 1) / 2 // mean of t+1 over t = 0..T-1
	}
	return newCost(c, groupSize, keys, contextLen, routerFLOPsPerLayer), nil
}

// NewCostAt is NewCost for the token at position pos of a sequence of
// seqLen tokens: a causal model's token attends pos+1 keys. Averaging
// NewCostAt over pos = 0..seqLen-1 gives NewCost(c, groupSize, seqLen, ·).
func NewCostAt(c *nn.Config, groupSize, pos, seqLen int, routerFLOPsPerLayer float64) (*Cost, error) {
	if err := checkCost(c, groupSize, float64(seqLen), routerFLOPsPerLayer); err != nil {
		return nil, err
	}
	if pos < 0 || pos >= seqLen {
		return nil, fmt.Errorf("cost: position %d is outside the sequence [0, %d)", pos, seqLen)
	}
	keys := seqLen
	if causal(c) {
		keys = pos + 1
	}
	return newCost(c, groupSize, float64(keys), float64(seqLen), routerFLOPsPerLayer), nil
}

func checkCost(c *nn.Config, groupSize int, seqLen, router float64) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("cost: %w", err)
	}
	if groupSize <= 0 || c.F%groupSize != 0 {
		return fmt.Errorf("cost: group size %d does not divide the FFN width %d", groupSize, c.F)
	}
	if !(seqLen >= 1) || math.IsInf(seqLen, 1) {
		return fmt.Errorf("cost: context length %g must be finite and at least 1", seqLen)
	}
	if !(router >= 0) || math.IsInf(router, 1) {
		return fmt.Errorf("cost: router FLOPs %g must be finite and ≥ 0", router)
	}
	return nil
}

// causal reports whether a query attends only to earlier keys, as nn's
// attention does for the decoder families.
func causal(c *nn.Config) bool { return c.Causal() }

// biasFlags say which projections carry biases (1) or not (0): every one
// for GPT-2, BERT and RoBERTa (whose FFN has no gate projection); for the
// LLaMA layout what the config says (attention_bias, Qwen2's q/k/v biases,
// mlp_bias).
type biasFlags struct{ qkv, o, up, gate, down float64 }

func biasesOf(c *nn.Config) biasFlags {
	if c.Family.Layout() != nn.LLaMA {
		return biasFlags{qkv: 1, o: 1, up: 1, down: 1}
	}
	b := func(on bool) float64 {
		if on {
			return 1
		}
		return 0
	}
	return biasFlags{qkv: b(c.AttnBias), o: b(c.OBias), up: b(c.MLPBias), gate: b(c.MLPBias), down: b(c.MLPBias)}
}

// normFLOPs is the per-element cost of the family's norm (see the
// conventions above).
func normFLOPs(c *nn.Config) float64 {
	if c.Family.Layout() == nn.LLaMA {
		return 4 // RMSNorm
	}
	return 7 // LayerNorm
}

func newCost(c *nn.Config, groupSize int, keys, seqLen, router float64) *Cost {
	D, S, F, k := float64(c.D), float64(c.S()), float64(c.F), float64(groupSize)
	bs := biasesOf(c)
	qkNorm := 0.0
	if c.QKNorm {
		qkNorm = normFLOPs(c) // Qwen3's RMSNorm of each head's query and key
	}
	head := 2*D*S + (bs.qkv+qkNorm)*S + // query slice (+ bias, + q_norm)
		2*S*keys + 2*S*keys + // scores QKᵀ and weighted values PV
		2*S*D // rows of the output projection
	group := 2*D*k + bs.up*k + 2*k*D // input projection (+ bias), output projection
	if c.Family.Layout() == nn.LLaMA {
		group += 2*D*k + bs.gate*k // gate_proj (+ bias)
	}
	layer := 2*normFLOPs(c)*D + // two norms
		2*D + // two residual adds
		float64(c.KVH)*(2*(2*D*S+bs.qkv*S)+qkNorm*S) + // keys and values (+ biases, + k_norm)
		(bs.o+bs.down)*D // attention-output and FFN-output biases
	cost := &Cost{Router: router * float64(c.L)}
	for l := 0; l < c.L; l++ {
		cost.Head = append(cost.Head, fill(c.H, head))
		cost.Group = append(cost.Group, fill(int(F/k), group))
		cost.Layer = append(cost.Layer, layer)
		cost.Fixed += layer
	}
	cost.Fixed += outerFLOPs(c, seqLen)
	return cost
}

// outerFLOPs is the per-token cost outside the layers: embedding sums,
// final norm and head (a classifier's per-sequence cost over seqLen).
func outerFLOPs(c *nn.Config, seqLen float64) float64 {
	D, V, C := float64(c.D), float64(c.Vocab), float64(len(c.Labels))
	var f float64
	switch c.Family.Layout() {
	case nn.GPT2:
		f = D + 7*D // wte + wpe, ln_f
	case nn.LLaMA:
		f = 4 * D // model.norm
	case nn.BERT, nn.RoBERTa:
		f = 2*D + 7*D // word + type + position, embeddings.LayerNorm
	}
	switch {
	case c.Task == nn.CausalLM:
		f += 2 * D * V
	case c.Family == nn.BERT || c.Family == nn.RoBERTa:
		f += (2*D*D + D + 2*D*C + C) / seqLen // pooler or classifier.dense, then the output layer
	default:
		f += 2 * D * C / seqLen // score layer on the last token
	}
	return f
}

func fill(n int, v float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// Dense is the cost of the routed blocks with every unit on: the sum of all
// Head and Group entries.
func (c *Cost) Dense() float64 {
	return sum2(c.Head) + sum2(c.Group)
}

// Total is the dense model's whole cost per token: Dense + Fixed + Router.
func (c *Cost) Total() float64 { return c.Dense() + c.Fixed + c.Router }

func sum2(a [][]float64) float64 {
	s := 0.0
	for _, r := range a {
		for _, v := range r {
			s += v
		}
	}
	return s
}

// Expected is ĉ, the expected cost of the routed blocks relative to the
// dense ones: Σ p·cost over every head and group, divided by Dense(), so 1
// means dense and 0 means every routed unit off. headP [layer][head] and
// groupP [layer][group] are the probabilities that each unit is on (for a
// batch, their mean over tokens: ĉ is linear in them). A nil headP or
// groupP means that part is not routed (p = 1).
//
// Expected panics when a non-nil headP or groupP does not have the shape
// of Head or Group: that is a programming error, not a data error.
func (c *Cost) Expected(headP, groupP [][]float64) float64 {
	return (weighted("headP", c.Head, headP) + weighted("groupP", c.Group, groupP)) / c.Dense()
}

func weighted(name string, cost, p [][]float64) float64 {
	if p == nil {
		return sum2(cost)
	}
	if len(p) != len(cost) {
		panic(fmt.Sprintf("loss: %s has %d layers, the cost model %d", name, len(p), len(cost)))
	}
	s := 0.0
	for l, row := range cost {
		if len(p[l]) != len(row) {
			panic(fmt.Sprintf("loss: %s layer %d has %d entries, the cost model %d", name, l, len(p[l]), len(row)))
		}
		for i, v := range row {
			s += p[l][i] * v
		}
	}
	return s
}
