package coreset

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
)

// Options are the optional inputs of CCS.
type Options struct {
	// Labels maps example ids to class labels (as data.Record.Label gives
	// them). When set, every id left after the β drop needs a label, and
	// Report.Classes counts each class among those and among the selected.
	Labels map[string]string
}

// Report says what CCS did.
type Report struct {
	Examples int     // ids scored
	Beta     float64 // fraction of hardest examples to drop, as given
	Dropped  int     // ⌊β·Examples⌋ hardest ids dropped before stratifying
	Budget   int     // ids selected
	// Strata are the equal-width score ranges, lowest (easiest) first,
	// empty ones included.
	Strata []Stratum
	// Classes counts each label, in ascending label order; nil without
	// Options.Labels.
	Classes []ClassCount
}

// Stratum is one score range of CCS: [Lo, Hi), the last one [Lo, Hi].
type Stratum struct {
	Class     string  `json:"class,omitempty"` // the class stratified (CCSByClass); "" for CCS
	Lo        float64 `json:"lo"`
	Hi        float64 `json:"hi"`
	Available int     `json:"available"` // ids in the range after the β drop
	Taken     int     `json:"taken"`     // ids selected from it
}

// ClassCount is one class of Report.Classes.
type ClassCount struct {
	Label     string `json:"label"`
	Available int    `json:"available"` // ids with this label after the β drop
	Taken     int    `json:"taken"`     // ids with this label selected
}

// CCS is coverage-centric coreset selection (Zheng, Zhang, Yang & Prakash
// 2023, "Coverage-centric Coreset Selection for High Pruning Rates", ICLR,
// Algorithm 1) on difficulty scores (higher = harder):
//
//  1. Drop the ⌊β·n⌋ hardest ids (ties broken by id as in Rank).
//  2. Split [min, max] of the remaining scores into strata equal-width
//     ranges (all ids in one stratum when every score is equal).
//  3. Visit the non-empty strata from the fewest ids to the most (equal
//     sizes: lower scores first). With m budget left and r strata left to
//     visit, take min(|stratum|, ⌊m/r⌋) ids from the stratum uniformly at
//     random. A small stratum's unspent share thus passes to the larger
//     strata after it, and the last stratum takes all that is left.
//
// Visiting the smallest first makes the size exact: if m never exceeds what
// the unvisited strata hold, that stays true after each step, so exactly
// budget ids come back. They are in ascending id order.
//
// Errors: empty scores, a NaN or infinite score, β outside [0, 1), strata <
// 1 or more strata than ids left after the β drop (an error rather than a
// silent clamp, because clamping would change the stratum widths: lower
// strata or β), a budget outside [1, n − ⌊β·n⌋], and with Options.Labels an
// id without a label. CCS panics if given more than one Options.
func CCS(scores map[string]float64, budget int, beta float64, strata int, seed uint64, opts ...Options) ([]string, *Report, error) {
	if len(opts) > 1 {
		panic(fmt.Sprintf("coreset: CCS: %d Options, want at most 1", len(opts)))
	}
	r, err := rank("ccs", scores)
	if err != nil {
		return nil, nil, err
	}
	pool, dropped, err := dropHardest("ccs", r, beta)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case strata < 1:
		return nil, nil, fmt.Errorf("coreset: ccs: %d strata, need at least 1", strata)
	case strata > len(pool):
		return nil, nil, fmt.Errorf("coreset: ccs: %d strata for %d examples left after dropping %d hardest: use at most %d strata or a lower β", strata, len(pool), dropped, len(pool))
	}
	if err := checkBudget("ccs", budget, len(pool)); err != nil {
		return nil, nil, err
	}
	rep := &Report{Examples: len(r), Beta: beta, Dropped: dropped, Budget: budget}
	members := stratify(scores, pool, strata, rep)
	chosen := stratifiedSample(rand.NewPCG(seed, ccsStream), members, budget, rep)
	if len(opts) == 1 && opts[0].Labels != nil {
		if rep.Classes, err = CountClasses(opts[0].Labels, pool, chosen); err != nil {
			return nil, nil, fmt.Errorf("coreset: ccs: %w", err)
		}
	}
	return chosen, rep, nil
}

// stratify splits pool (easiest first) into k equal-width score ranges,
// fills rep.Strata and returns each stratum's ids.
func stratify(scores map[string]float64, pool []string, k int, rep *Report) [][]string {
	lo, hi := scores[pool[0]], scores[pool[len(pool)-1]]
	width := (hi - lo) / float64(k)
	members := make([][]string, k)
	for _, id := range pool {
		i := 0
		if hi > lo {
			// Clamped: the maximum itself, and rounding just below it, land
			// in the last stratum, which is closed.
			i = min(k-1, int(float64(k)*(scores[id]-lo)/(hi-lo)))
		}
		members[i] = append(members[i], id)
	}
	rep.Strata = make([]Stratum, k)
	for i := range rep.Strata {
		rep.Strata[i] = Stratum{Lo: lo + float64(i)*width, Hi: lo + float64(i+1)*width, Available: len(members[i])}
	}
	rep.Strata[k-1].Hi = hi
	return members
}

// stratifiedSample is step 3 of CCS: it spends budget over the non-empty
// strata, smallest first, and records what each gave in rep.Strata.
func stratifiedSample(src *rand.PCG, members [][]string, budget int, rep *Report) []string {
	var order []int // non-empty strata, fewest ids first, then lower scores
	for i, m := range members {
		if len(m) > 0 {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(len(members[a]), len(members[b])) })
	var chosen []string
	left := budget
	for v, i := range order {
		take := min(len(members[i]), left/(len(order)-v))
		chosen = append(chosen, draw(src, members[i], take)...)
		rep.Strata[i].Taken = take
		left -= take
	}
	slices.Sort(chosen)
	return chosen
}

// CountClasses counts each label among pool (the ids a selector chose
// from) and among chosen (a subset of pool), in ascending label order: the
// class balance of a selection. Errors: an id of pool without a label, an
// id of chosen not in pool.
func CountClasses(labels map[string]string, pool, chosen []string) ([]ClassCount, error) {
	idx := map[string]int{}
	var out []ClassCount
	for _, id := range pool {
		l, ok := labels[id]
		if !ok {
			return nil, fmt.Errorf("id %q has no label", id)
		}
		if _, seen := idx[l]; !seen {
			idx[l] = len(out)
			out = append(out, ClassCount{Label: l})
		}
		out[idx[l]].Available++
	}
	inPool := make(map[string]bool, len(pool))
	for _, id := range pool {
		inPool[id] = true
	}
	for _, id := range chosen {
		if !inPool[id] {
			return nil, fmt.Errorf("chosen id %q is not among the ids chosen from", id)
		}
		out[idx[labels[id]]].Taken++
	}
	slices.SortFunc(out, func(a, b ClassCount) int { return cmp.Compare(a.Label, b.Label) })
	return out, nil
}
