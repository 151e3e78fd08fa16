package router

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/sparsetune/sparsetune/nn"
)

// kmeansStream is the PCG stream of BalancedKMeans, fixed so that a seed
// alone determines the result.
const kmeansStream = 0x6b6d65616e73 // "kmeans"

// BalancedKMeans clusters rows into groups clusters of exactly
// len(rows)/groups members each and returns each row's cluster.
//
// It is Lloyd's k-means with two changes. Initial centres are drawn by
// k-means++ (Arthur & Vassilvitskii 2007, "k-means++: The Advantages of
// Careful Seeding", §2.2: each next centre with probability ∝ D², the squared
// distance to the nearest centre chosen so far). The assignment step is
// capacitated: it is the transportation problem of Bradley, Bennett &
// Demiriz (2000, "Constrained K-Means Clustering", MSR-TR-2000-65), which
// they solve exactly as a min-cost flow and Malinen & Fränti (2014,
// "Balanced K-Means for Clustering") with the Hungarian algorithm, O(n³).
// Here it is solved approximately with Vogel's regret rule (Reinfeld &
// Vogel 1958, "Mathematical Programming"): among the unassigned rows, the
// row that would lose most by not getting its nearest open centre (largest
// gap between its best and second-best open centre) is assigned first; when
// a cluster fills, the gaps are recomputed over the clusters still open.
// That costs O(n·G·G) per step, which suits F in the thousands. The update
// step moves each centre to the mean of its members (never empty, since
// every cluster is full). Iteration stops when an assignment repeats or
// after iters assignment steps.
//
// The result depends only on the input and seed (math/rand/v2 PCG). Cluster
// numbers are canonical: clusters are numbered in the order of their
// lowest-indexed row, so row 0 is always in cluster 0.
//
// Errors: no rows, rows of different or zero length, non-finite values,
// groups ≤ 0, groups not dividing len(rows), iters < 1.
func BalancedKMeans(rows [][]float32, groups int, iters int, seed uint64) (assign []int, err error) {
	x, dim, err := flatten(rows)
	if err != nil {
		return nil, err
	}
	n := len(rows)
	switch {
	case groups <= 0:
		return nil, fmt.Errorf("balanced k-means: groups must be positive, got %d", groups)
	case n%groups != 0:
		return nil, fmt.Errorf("balanced k-means: %d rows do not split into %d equal groups", n, groups)
	case iters < 1:
		return nil, fmt.Errorf("balanced k-means: iters must be at least 1, got %d", iters)
	}
	rng := rand.New(rand.NewPCG(seed, kmeansStream))
	cent := kmeansPlusPlus(x, n, dim, groups, rng)
	dist := make([]float64, n*groups) // (n, G) squared distances
	for it := 0; it < iters; it++ {
		distances(x, cent, dist, dim)
		next := balancedAssign(dist, n, groups)
		if slices.Equal(next, assign) {
			break
		}
		assign = next
		centroids(x, assign, cent, dim, groups)
	}
	return canonical(assign, groups), nil
}

// flatten copies rows into one row-major float64 slice, validating them.
func flatten(rows [][]float32) ([]float64, int, error) {
	if len(rows) == 0 {
		return nil, 0, errors.New("balanced k-means: no rows")
	}
	dim := len(rows[0])
	if dim == 0 {
		return nil, 0, errors.New("balanced k-means: rows are empty vectors")
	}
	x := make([]float64, 0, len(rows)*dim)
	for i, r := range rows {
		if len(r) != dim {
			return nil, 0, fmt.Errorf("balanced k-means: row %d has %d values, row 0 has %d", i, len(r), dim)
		}
		for j, v := range r {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, 0, fmt.Errorf("balanced k-means: row %d value %d is %v", i, j, v)
			}
			x = append(x, float64(v))
		}
	}
	return x, dim, nil
}

// sqDist is the squared Euclidean distance of two vectors.
func sqDist(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		d := v - b[i]
		s += d * d
	}
	return s
}

// kmeansPlusPlus draws k initial centres (k, dim) from the n rows of x.
func kmeansPlusPlus(x []float64, n, dim, k int, rng *rand.Rand) []float64 {
	cent := make([]float64, 0, k*dim)
	row := func(i int) []float64 { return x[i*dim : (i+1)*dim] }
	cent = append(cent, row(rng.IntN(n))...)
	d2 := make([]float64, n) // squared distance to the nearest centre so far
	for i := range d2 {
		d2[i] = sqDist(row(i), cent[:dim])
	}
	for c := 1; c < k; c++ {
		total := 0.0
		for _, v := range d2 {
			total += v
		}
		var pick int
		if total == 0 { // every row coincides with a centre: any will do
			pick = rng.IntN(n)
		} else {
			r, acc := rng.Float64()*total, 0.0
			for i, v := range d2 {
				if v == 0 {
					continue
				}
				pick = i // the last row with D² > 0 absorbs rounding in acc
				if acc += v; acc > r {
					break
				}
			}
		}
		cent = append(cent, row(pick)...)
		for i := range d2 {
			d2[i] = min(d2[i], sqDist(row(i), cent[c*dim:]))
		}
	}
	return cent
}

// distances fills dist (n, k) with squared distances of rows to centres.
func distances(x, cent, dist []float64, dim int) {
	k := len(cent) / dim
	for i := 0; i < len(x)/dim; i++ {
		for c := 0; c < k; c++ {
			dist[i*k+c] = sqDist(x[i*dim:(i+1)*dim], cent[c*dim:(c+1)*dim])
		}
	}
}

// balancedAssign gives each of n rows one of k clusters, n/k rows per
// cluster, by Vogel's regret rule (see BalancedKMeans). Ties go to the
// lower index, so the result is deterministic.
func balancedAssign(dist []float64, n, k int) []int {
	assign := make([]int, n)
	left := make([]int, k) // free places per cluster
	for c := range left {
		left[c] = n / k
	}
	type cand struct {
		row, best  int
		d1, regret float64
	}
	pending := make([]int, n)
	for i := range pending {
		pending[i] = i
	}
	cands := make([]cand, 0, n)
	for len(pending) > 0 {
		cands = cands[:0]
		for _, i := range pending {
			best, d1, d2 := -1, math.Inf(1), math.Inf(1)
			for c, d := range dist[i*k : (i+1)*k] {
				switch {
				case left[c] == 0:
				case d < d1:
					best, d1, d2 = c, d, d1
				case d < d2:
					d2 = d
				}
			}
			cands = append(cands, cand{i, best, d1, d2 - d1}) // regret +Inf when one cluster is open
		}
		slices.SortFunc(cands, func(a, b cand) int {
			return cmp.Or(cmp.Compare(b.regret, a.regret), cmp.Compare(a.d1, b.d1), cmp.Compare(a.row, b.row))
		})
		pending = pending[:0]
		closed := false
		for _, c := range cands {
			if closed { // a cluster filled: the remaining regrets are stale
				pending = append(pending, c.row)
				continue
			}
			assign[c.row] = c.best
			left[c.best]--
			closed = left[c.best] == 0
		}
	}
	return assign
}

// centroids moves each centre to the mean of its members.
func centroids(x []float64, assign []int, cent []float64, dim, k int) {
	clear(cent)
	count := make([]int, k)
	for i, c := range assign {
		count[c]++
		dst := cent[c*dim : (c+1)*dim]
		for j, v := range x[i*dim : (i+1)*dim] {
			dst[j] += v
		}
	}
	for c, m := range count {
		for j := range cent[c*dim : (c+1)*dim] {
			cent[c*dim+j] /= float64(m)
		}
	}
}

// canonical renumbers clusters in the order of their lowest-indexed member.
func canonical(assign []int, k int) []int {
	label := make([]int, k)
	for c := range label {
		label[c] = -1
	}
	next := 0
	out := make([]int, len(assign))
	for i, c := range assign {
		if label[c] < 0 {
			label[c] = next
			next++
		}
		out[i] = label[c]
	}
	return out
}

// GroupPermutation groups the FFN neurons of one layer of m into
// F/groupSize groups of groupSize neurons that tend to fire together and
// returns the permutation for nn.Model.PermuteFFN that makes each group a
// contiguous block: group 0's neurons first, each group's neurons in
// ascending old index, so that FFN gate g of the permuted model switches
// group g.
//
// Neurons are clustered by their input weights (LTE, Zheng et al. 2024,
// §3, following MoEfication's parameter-clustering split, Zhang et al.
// 2022): two neurons whose input weight vectors are close have close
// pre-activations for every input, so they are active or inactive together.
// The vectors are GPT-2's c_fc columns and BERT/RoBERTa's
// intermediate.dense rows (nn.FFNUp; biases are left out, as in
// MoEfication, and are zero at initialisation anyway). For LLaMA a neuron
// computes silu(g·x)·(u·x), a function of both its gate_proj row g and its
// up_proj row u, so the vector is their concatenation [g, u] (2D values):
// clustering u alone would ignore the gate factor, which is the one that
// drives the activation towards 0.
//
// iters and seed are passed to BalancedKMeans.
func GroupPermutation(m *nn.Model, layer, groupSize, iters int, seed uint64) ([]int, error) {
	if groupSize <= 0 || m.Config.F%groupSize != 0 {
		return nil, fmt.Errorf("group permutation: group size %d does not divide FFN width %d", groupSize, m.Config.F)
	}
	rows, err := m.FFNNeurons(layer, nn.FFNUp)
	if err != nil {
		return nil, fmt.Errorf("group permutation: %w", err)
	}
	if m.Config.Family.Layout() == nn.LLaMA {
		gates, err := m.FFNNeurons(layer, nn.FFNGate)
		if err != nil {
			return nil, fmt.Errorf("group permutation: %w", err)
		}
		for j := range rows {
			rows[j] = append(gates[j], rows[j]...)
		}
	}
	groups := len(rows) / groupSize
	assign, err := BalancedKMeans(rows, groups, iters, seed)
	if err != nil {
		return nil, fmt.Errorf("group permutation of layer %d: %w", layer, err)
	}
	return permutationOf(assign, groups), nil
}

// permutationOf lists the rows of cluster 0, then cluster 1, ..., each
// cluster's rows in ascending order: new index i holds old row perm[i].
func permutationOf(assign []int, groups int) []int {
	perm := make([]int, 0, len(assign))
	for g := 0; g < groups; g++ {
		for i, c := range assign {
			if c == g {
				perm = append(perm, i)
			}
		}
	}
	return perm
}
