package infer

import (
	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/internal/ops"
)

// Top-k routing (manifest routing "topk", version 3): every token runs
// exactly k of a layer's kept heads (k_heads) and of its kept groups
// (k_groups): the dense ones, then the routed ones with the largest
// logits, ties to the lower index. The logit is rounded to float32 as the
// training graph rounds it (router's logit op) before the ranking, and the
// ranking is ops.TopKRow's, the one the training graph's mask uses, so the
// engine picks the units the masked training graph picks.

// topK is the scratch of one router's top-k decisions.
type topK struct {
	z   []float64 // the routed units' logits of one row
	pos []int     // their unit index
	idx []int     // TopKRow's scratch
}

// decide sets on (U) for one token: the always-on units, and of the routed
// ones the k − (always-on count) with the largest logit(u) (the routed
// unit's logit plus bias). It returns the units on.
func (t *topK) decide(on, always []bool, k int, logit func(u int) float64) int {
	t.z, t.pos = t.z[:0], t.pos[:0]
	count := 0
	for u, a := range always {
		on[u] = a
		if a {
			count++
			continue
		}
		t.z = append(t.z, float64(float32(logit(u))))
		t.pos = append(t.pos, u)
	}
	need := min(max(k-count, 0), len(t.z))
	if cap(t.idx) < len(t.z) {
		t.idx = make([]int, len(t.z))
	}
	for _, i := range ops.TopKRow(t.idx, t.z, need) {
		on[t.pos[i]] = true
	}
	return count + need
}

// layerK returns a layer's k for heads and groups, −1 for threshold
// routing.
func layerK(m checkpoints.SparseManifest, l int) (kh, kg int) {
	if m.Routing != checkpoints.RoutingTopK {
		return -1, -1
	}
	return m.Layers[l].KHeads, m.Layers[l].KGroups
}
