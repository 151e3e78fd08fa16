package harden

import (
	"math"

	"github.com/sparsetune/sparsetune/infer"
)

// Measurement is what the engine spends on a set of sequences.
type Measurement struct {
	Compute float64 // active over dense routed FLOPs of all the sequences (Stats.Compute)
	// SE is the standard error of Compute over the sequences: Compute is
	// a ratio of sums, so its error is the ratio estimator's (Cochran,
	// Sampling Techniques, 3rd ed., eq. 6.13): √(Σ(aᵢ − R·dᵢ)² / (n(n−1))) / d̄
	// with aᵢ, dᵢ sequence i's active and dense FLOPs and R = Compute.
	SE     float64
	Layers []float64 // each layer's compute (Usage.Active over Usage.Dense)
	Tokens int       // tokens run
}

// Measure runs seqs through e one sequence at a time (the compute of a
// sequence does not depend on the batch it runs in) and returns their
// compute, its standard error over the sequences and each layer's compute.
// It leaves e.Usage counting the units the sequences switched on (see
// Select) and e.Stats reset.
func Measure(e *infer.Engine, seqs [][]int) (Measurement, error) {
	e.RecordUsage()
	e.ResetStats()
	u := e.Usage
	active, dense := make([]float64, len(seqs)), make([]float64, len(seqs))
	for i, s := range seqs {
		before := e.Stats
		if _, _, err := e.Forward([][]int{s}, nil); err != nil {
			return Measurement{}, err
		}
		active[i], dense[i] = e.Stats.Active-before.Active, e.Stats.Dense-before.Dense
	}
	m := Measurement{Compute: e.Stats.Compute(), Tokens: u.Tokens, Layers: make([]float64, len(u.Active))}
	e.ResetStats()
	for l := range u.Active {
		if u.Dense[l] > 0 {
			m.Layers[l] = u.Active[l] / u.Dense[l]
		}
	}
	m.SE = ratioSE(active, dense, m.Compute)
	return m, nil
}

// ratioSE is the standard error of r = Σa/Σd over the n pairs (aᵢ, dᵢ)
// (see Measurement.SE); 0 for fewer than two.
func ratioSE(a, d []float64, r float64) float64 {
	n := len(a)
	if n < 2 {
		return 0
	}
	var ss, sd float64
	for i := range a {
		e := a[i] - r*d[i]
		ss += e * e
		sd += d[i]
	}
	mean := sd / float64(n)
	if mean == 0 {
		return 0
	}
	return math.Sqrt(ss/float64(n*(n-1))) / mean
}
