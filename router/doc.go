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
// Shape letters are those of package nn (F FFN width, G neuron groups, D
// model width, H heads).
package router
