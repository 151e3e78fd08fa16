package coreset

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/router"
)

// PCG stream numbers, one per use, so that the same seed gives unrelated
// draws in Random, CCS and PseudoLabels.
const (
	randomStream = 0x72616e646f6d // "random"
	ccsStream    = 0x636373       // "ccs"
	pseudoStream = 0x70736575646f // "pseudo"
)

// kmeansIters caps the Lloyd iterations of PseudoLabels. BalancedKMeans stops
// as soon as an assignment repeats, which on embedding clusters happens well
// within this many steps; the cap only bounds a rare oscillation.
const kmeansIters = 50

// Budget is the subset size for keeping ratio of n examples:
// round(n·ratio), half away from zero, and at least 1. Errors: n < 1, or a
// ratio outside (0, 1] (a ratio is a fraction kept, not a percentage).
func Budget(n int, ratio float64) (int, error) {
	if n < 1 {
		return 0, fmt.Errorf("coreset: budget: %d examples, need at least 1", n)
	}
	if !(ratio > 0 && ratio <= 1) { // also rejects NaN
		return 0, fmt.Errorf("coreset: budget: ratio %v outside (0, 1]: give the fraction of examples to keep", ratio)
	}
	return max(1, int(math.Round(float64(n)*ratio))), nil
}

// Random returns budget ids drawn uniformly without replacement from ids,
// in ascending id order. The draw depends only on the set of ids, budget and
// seed, not on the order of ids. Errors: duplicate ids, a budget outside
// [1, len(ids)].
func Random(ids []string, budget int, seed uint64) ([]string, error) {
	pool := slices.Clone(ids)
	slices.Sort(pool)
	for i := 1; i < len(pool); i++ {
		if pool[i] == pool[i-1] {
			return nil, fmt.Errorf("coreset: random: duplicate id %q", pool[i])
		}
	}
	if err := checkBudget("random", budget, len(pool)); err != nil {
		return nil, err
	}
	return draw(rand.NewPCG(seed, randomStream), pool, budget), nil
}

// Hardest returns the budget ids with the highest scores, in ascending id
// order; among equal scores the larger id counts as harder. Errors: empty
// scores, a NaN or infinite score, a budget outside [1, len(scores)].
func Hardest(scores map[string]float64, budget int) ([]string, error) {
	r, err := rank("hardest", scores)
	if err != nil {
		return nil, err
	}
	if err := checkBudget("hardest", budget, len(r)); err != nil {
		return nil, err
	}
	return sorted(r[len(r)-budget:]), nil
}

// Easiest returns the budget ids with the lowest scores, in ascending id
// order; errors as Hardest.
func Easiest(scores map[string]float64, budget int) ([]string, error) {
	r, err := rank("easiest", scores)
	if err != nil {
		return nil, err
	}
	if err := checkBudget("easiest", budget, len(r)); err != nil {
		return nil, err
	}
	return sorted(r[:budget]), nil
}

// Rank lists the ids of scores from easiest to hardest: ascending score,
// equal scores by ascending id. Errors: empty scores, a NaN or infinite score.
func Rank(scores map[string]float64) ([]string, error) {
	return rank("rank", scores)
}

// DoubleEnd is the double-end pruning of ELFS (Zheng, Tsai, Lu, Sun,
// Bartoldson, Kailkhura & Prakash 2025, "ELFS: Label-Free Coreset Selection
// with Proxy Training Dynamics", ICLR). With the n examples ranked by
// difficulty, it drops the ⌊β·n⌋ hardest (label-free scores are noisy at the
// hard end, where mislabelled and ambiguous examples gather) and then keeps
// the budget hardest of the rest: the window of ranks (⌊β·n⌋, ⌊β·n⌋+budget]
// counted from the hardest, so the easiest examples are pruned too. ELFS
// chooses β by a search; here it is the caller's. Ties are broken by id as
// in Rank. The result is in ascending id order.
//
// Errors: empty scores, a NaN or infinite score, β outside [0, 1), a budget
// outside [1, n − ⌊β·n⌋].
func DoubleEnd(scores map[string]float64, budget int, beta float64) ([]string, error) {
	r, err := rank("double-end", scores)
	if err != nil {
		return nil, err
	}
	pool, _, err := dropHardest("double-end", r, beta)
	if err != nil {
		return nil, err
	}
	if err := checkBudget("double-end", budget, len(pool)); err != nil {
		return nil, err
	}
	return sorted(pool[len(pool)-budget:]), nil
}

// PseudoLabels clusters example embeddings (e.g. a frozen encoder's pooled
// output) into k pseudo-classes for label-free selection, as ELFS does
// before its proxy training run. ELFS clusters with a deep-clustering head;
// here it is balanced k-means (router.BalancedKMeans, k-means++ starts),
// because the datasets we fine-tune on are close to class-balanced and
// balanced clusters keep one large cluster from swallowing the rest.
//
// BalancedKMeans needs k to divide the number of rows. When it does not, the
// n mod k leftover examples are drawn at random (by seed) and held out, the
// rest are clustered, and each held-out example joins the cluster with the
// nearest centroid (lowest cluster on a tie). Clusters then have between
// ⌊n/k⌋ and ⌊n/k⌋ + (n mod k) members. Holding out at random rather than
// padding with copies keeps every cluster a set of real, distinct examples.
// Cluster numbers are BalancedKMeans's canonical ones over the ids in
// ascending order. The result depends only on the embeddings, k and seed.
//
// Errors: no embeddings, k < 1, fewer embeddings than k, an empty id,
// vectors of different or zero length, non-finite values.
func PseudoLabels(embeddings map[string][]float32, k int, seed uint64) (map[string]int, error) {
	ids, dim, err := checkEmbeddings(embeddings)
	if err != nil {
		return nil, err
	}
	switch n := len(ids); {
	case k < 1:
		return nil, fmt.Errorf("coreset: pseudo-labels: k = %d, need at least 1 cluster", k)
	case n < k:
		return nil, fmt.Errorf("coreset: pseudo-labels: %d examples cannot fill %d clusters", n, k)
	}
	held := draw(rand.NewPCG(seed, pseudoStream), ids, len(ids)%k)
	core := slices.DeleteFunc(slices.Clone(ids), func(id string) bool {
		_, ok := slices.BinarySearch(held, id)
		return ok
	})
	rows := make([][]float32, len(core))
	for i, id := range core {
		rows[i] = embeddings[id]
	}
	assign, err := router.BalancedKMeans(rows, k, kmeansIters, seed)
	if err != nil {
		return nil, fmt.Errorf("coreset: pseudo-labels: %w", err)
	}
	out := make(map[string]int, len(ids))
	cent := make([]float64, k*dim) // (k, dim) cluster means
	for i, id := range core {
		out[id] = assign[i]
		for j, v := range rows[i] {
			cent[assign[i]*dim+j] += float64(v)
		}
	}
	size := float64(len(core) / k)
	for i := range cent {
		cent[i] /= size
	}
	for _, id := range held {
		out[id] = nearest(embeddings[id], cent, dim)
	}
	return out, nil
}

// checkEmbeddings validates embeddings and returns the ids in ascending
// order and the vector length.
func checkEmbeddings(embeddings map[string][]float32) ([]string, int, error) {
	if len(embeddings) == 0 {
		return nil, 0, errors.New("coreset: pseudo-labels: no embeddings")
	}
	ids := make([]string, 0, len(embeddings))
	for id := range embeddings {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	dim := len(embeddings[ids[0]])
	for _, id := range ids {
		v := embeddings[id]
		switch {
		case id == "":
			return nil, 0, errors.New("coreset: pseudo-labels: empty example id")
		case len(v) == 0 || len(v) != dim:
			return nil, 0, fmt.Errorf("coreset: pseudo-labels: embedding of %q has %d values, %q has %d", id, len(v), ids[0], dim)
		}
		for j, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, 0, fmt.Errorf("coreset: pseudo-labels: embedding of %q: value %d is %v", id, j, x)
			}
		}
	}
	return ids, dim, nil
}

// nearest is the index of the centre (rows of cent) closest to v.
func nearest(v []float32, cent []float64, dim int) int {
	best, bestD := 0, math.Inf(1)
	for c := 0; c < len(cent)/dim; c++ {
		d := 0.0
		for j, x := range v {
			diff := float64(x) - cent[c*dim+j]
			d += diff * diff
		}
		if d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// rank sorts the ids of scores easiest first (ascending score, then id).
func rank(who string, scores map[string]float64) ([]string, error) {
	if len(scores) == 0 {
		return nil, fmt.Errorf("coreset: %s: no scores", who)
	}
	ids := make([]string, 0, len(scores))
	for id, s := range scores {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return nil, fmt.Errorf("coreset: %s: score of %q is %v", who, id, s)
		}
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		return cmp.Or(cmp.Compare(scores[a], scores[b]), cmp.Compare(a, b))
	})
	return ids, nil
}

// dropHardest removes the ⌊β·n⌋ hardest ids from ranked (easiest first) and
// returns the rest and the number dropped. β·n is nudged up by a relative
// 1e-12 before the floor, so that 0.29·100 (28.999999999999996 in float64)
// drops 29, as the decimal arithmetic the caller had in mind does.
func dropHardest(who string, ranked []string, beta float64) ([]string, int, error) {
	if !(beta >= 0 && beta < 1) {
		return nil, 0, fmt.Errorf("coreset: %s: β = %v outside [0, 1): give the fraction of hardest examples to drop", who, beta)
	}
	drop := int(math.Floor(beta * float64(len(ranked)) * (1 + 1e-12)))
	return ranked[:len(ranked)-drop], drop, nil
}

// checkBudget requires 1 ≤ budget ≤ n.
func checkBudget(who string, budget, n int) error {
	if budget < 1 || budget > n {
		return fmt.Errorf("coreset: %s: budget %d outside [1, %d], the number of examples to choose from", who, budget, n)
	}
	return nil
}

// sorted returns a sorted copy of ids.
func sorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// draw returns m of ids chosen uniformly without replacement, in ascending
// order: the first m steps of a Fisher–Yates shuffle of a copy.
func draw(src *rand.PCG, ids []string, m int) []string {
	p := slices.Clone(ids)
	for i := 0; i < m; i++ {
		j := i + int(data.Uniform(src, uint64(len(p)-i)))
		p[i], p[j] = p[j], p[i]
	}
	return sorted(p[:m])
}
