// Package router decides, per token, which attention heads and which groups
// of FFN neurons a transformer computes: it fills nn.Gates.
//
// Routers follow LTE ("Learn To be Efficient", Zheng et al. 2024), Deja Vu
// (Liu et al. 2023) and CoFi (Xia et al. 2022). An FFN gate switches a
// contiguous group of GroupSize neurons, so the neurons of a layer are first
// grouped (BalancedKMeans, GroupPermutation) and reordered so that each
// group is contiguous (nn.Model.PermuteFFN); the dense model is unchanged by
// that reordering.
//
// Routing. Threshold routing (the default) runs a unit for a token when
// its on-probability exceeds τ, so the compute follows the data and τ is
// calibrated for a target. Top-k routing (Config.Routing TopK) runs, per
// token, exactly k_h heads and k_g groups of each layer, those with the
// largest logits (ties to the lower index), so the compute is fixed by
// construction; ChooseK picks the k of every layer from the target and
// the cost model (its doc gives the rule). LaRoSA and Q-Sparse fix a
// top-k per token for stable compute; Deja Vu and Polar Sparsity choose
// the top-k heads.
//
// Top-k training estimator. The forward pass uses the hard top-k mask
// (ops.TopKMask); the backward pass is straight-through: the gradient
// reaches the router's logits as if the mask were the sigmoid gate σ(z),
// dz = dmask·σ(z)(1 − σ(z)) (Bengio, Léonard & Courville 2013, "Estimating
// or Propagating Gradients Through Stochastic Neurons for Conditional
// Computation", arXiv:1308.3432; Q-Sparse, Wang et al. 2024,
// arXiv:2407.10969, trains its top-k sparsity with a straight-through
// estimator too). In the Hard stage the mask is constant and the routers
// are frozen, as for threshold gates. Top-k takes sigmoid or static
// routers; the compute penalty and the separability term, which act on
// the gates' probabilities and τ, do not apply.
//
// # Where things live
//
//   - config.go: Config (kind, groups, τ, the hard-concrete constants) and
//     the routers' FLOPs (FLOPsPerLayer); router.go: Set, a model's routers,
//     their parameters and GateFunc for nn's graph; separability.go: the
//     term that pushes gates away from τ.
//   - gates.go, ops.go: the gate ops (sigmoid, hard-concrete, static; soft
//     and hard stages); topk.go: top-k routing (Routing, ChooseK, and the
//     gate built on ops.TopKMask).
//   - grouping.go: the FFN neuron grouping (BalancedKMeans,
//     GroupPermutation).
//
// Shape letters are those of package nn (F FFN width, G neuron groups, D
// model width, H heads).
package router
