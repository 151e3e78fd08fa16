// Package loss holds sparsetune's training objectives besides the task
// cross-entropy (which nn computes): the compute-cost model that turns a
// router's gate probabilities into an expected cost ĉ, the fraction of the
// dense model's routed FLOPs a token uses, for the Lagrangian penalty
// λ1·(ĉ−t) + λ2·(ĉ−t)² towards a target t (Wang et al. 2020, "Structured
// Pruning of Large Language Models"; CoFi, Xia et al. 2022, with expected
// sparsity in place of ĉ).
//
// The cost model and its counting conventions are in cost.go (Cost,
// NewCost, NewCostAt). Its test counts, operation by operation, the work of
// a naive masked model of one layer of every family and requires the model
// to match exactly. penalty.go holds the differentiable ĉ
// (ExpectedCompute), the controller (Lagrangian, or FixedWeight for
// --penalty-weight) and the target ramp (Target). The inference engine,
// hardening and the training graph's evaluation count measured compute
// with the same Cost.
//
// Shape letters are those of package nn.
package loss
