package infer

import (
	"github.com/sparsetune/sparsetune/loss"
	"github.com/sparsetune/sparsetune/nn"
)

// costTable gives the FLOPs of loss.Cost for the engine's accounting: a
// head's cost is linear in the keys its query attends (a + b·keys), a
// group's is constant.
type costTable struct {
	headA, headB float64
	group        float64
	causal       bool
	h, g         int // dense units per layer
	layers       int
	router       float64 // router FLOPs per token, all layers (measured on the kept columns)
}

func newCostTable(c *nn.Config, k int, routed bool) costTable {
	at := func(pos, n int) *loss.Cost {
		cost, err := loss.NewCostAt(c, k, pos, n, 0)
		if err != nil {
			panic(err) // the config was validated and k divides F
		}
		return cost
	}
	causal := c.Causal()
	one, two := at(0, 2), at(1, 2) // keys 1 and 2 (causal)
	if !causal {
		one, two = at(0, 1), at(0, 2) // keys = sequence length 1 and 2
	}
	t := costTable{causal: causal, h: c.H, g: c.F / k, layers: c.L, group: one.Group[0][0]}
	t.headB = two.Head[0][0] - one.Head[0][0]
	t.headA = one.Head[0][0] - t.headB
	return t
}

// head is one head's FLOPs for a token that attends keys keys.
func (t costTable) head(keys int) float64 { return t.headA + t.headB*float64(keys) }

// dense is the dense routed FLOPs of one token attending keys keys.
func (t costTable) dense(keys int) float64 {
	return float64(t.layers) * (float64(t.h)*t.head(keys) + float64(t.g)*t.group)
}
