package harden

import (
	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/infer"
)

// Counts are the units a selection removed, made dense and left routed.
type Counts struct {
	Removed, Dense, Routed int
}

// Select decides, from the usage an engine that keeps every unit recorded
// on the calibration tokens, what becomes of each unit: a unit on for at
// most pruneBelow of the tokens is removed, one on for at least denseAbove
// of them (or every kept unit, with static routers, whose gates do not
// depend on the token) runs dense, the others stay routed. layers are the
// calibrated layers (their τ is kept); the returned layers list the kept
// and dense units.
func Select(use *infer.Usage, layers []checkpoints.SparseLayer, pruneBelow, denseAbove float64, static bool) ([]checkpoints.SparseLayer, Counts) {
	var n Counts
	out := make([]checkpoints.SparseLayer, len(layers))
	for l := range layers {
		ml := checkpoints.SparseLayer{Tau: layers[l].Tau}
		pick := func(counts []int, kept, dense *[]int) {
			for u, c := range counts {
				f := float64(c) / float64(use.Tokens)
				switch {
				case f <= pruneBelow:
					n.Removed++
				case f >= denseAbove || static:
					*kept, *dense = append(*kept, u), append(*dense, u)
					n.Dense++
				default:
					*kept = append(*kept, u)
					n.Routed++
				}
			}
		}
		pick(use.Heads[l], &ml.Heads, &ml.HeadsDense)
		pick(use.Groups[l], &ml.Groups, &ml.GroupsDense)
		out[l] = ml
	}
	return out, n
}
