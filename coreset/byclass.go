package coreset

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
)

// CCSByClass is CCS run within each class: the budget is split over the
// classes in proportion to their sizes (largest remainders, ties to the
// lower label), and each class drops its own ⌊β·n_c⌋ hardest, stratifies
// its own score range into min(strata, what it has left) strata and
// samples them smallest first. The result keeps the class proportions of
// the data up to rounding.
//
// This is an extension, not part of Zheng et al.'s Algorithm 1, which
// stratifies all classes together. When difficulty differs a lot between
// classes (a short proxy run has learnt some classes and not others), the
// equal-width strata of plain CCS then follow the classes: the sparse easy
// tail, fully taken, is mostly the easiest class, and the hardest class
// loses most of its share to the β drop. The CCS reference code offers the
// same per-class budgeting ("class balanced") for its other selectors.
//
// The Report's Strata list each class's strata in turn (Stratum.Class),
// Dropped sums the classes, and Classes counts the labels. Errors: as CCS,
// an id without a label, and a class whose share of the budget exceeds
// what it has left after its β drop.
func CCSByClass(scores map[string]float64, labels map[string]string, budget int, beta float64, strata int, seed uint64) ([]string, *Report, error) {
	return perClass("ccs", scores, labels, "label", budget, beta, func(class string, scores map[string]float64, share int, rep *Report) ([]string, error) {
		if share == 0 {
			return nil, nil
		}
		left := len(scores) - int(math.Floor(beta*float64(len(scores))*(1+1e-12)))
		got, r, err := CCS(scores, share, beta, max(1, min(strata, left)), seed)
		if err != nil {
			return nil, err
		}
		rep.Dropped += r.Dropped
		for _, s := range r.Strata {
			s.Class = class
			rep.Strata = append(rep.Strata, s)
		}
		return got, nil
	})
}

// perClass runs a selector within each class of classes (what names a
// class in errors): the budget is split over the classes in proportion to
// their sizes, and pick chooses share ids from one class's scores (share
// may be 0) and adds what it did to rep. The result is sorted, and
// rep.Classes counts the classes.
func perClass(who string, scores map[string]float64, classes map[string]string, what string, budget int, beta float64,
	pick func(class string, scores map[string]float64, share int, rep *Report) ([]string, error)) ([]string, *Report, error) {
	all, err := rank(who, scores)
	if err != nil {
		return nil, nil, err
	}
	if err := checkBudget(who, budget, len(all)); err != nil {
		return nil, nil, err
	}
	names, byClass, sizes, err := splitByClass(all, scores, classes, what)
	if err != nil {
		return nil, nil, fmt.Errorf("coreset: %s by class: %w", who, err)
	}
	shares := proportional(budget, sizes)
	rep := &Report{Examples: len(all), Beta: beta, Budget: budget}
	var chosen []string
	for i, c := range names {
		got, err := pick(c, byClass[c], shares[i], rep)
		if err != nil {
			return nil, nil, fmt.Errorf("%w (class %q, its share of the budget)", err, c)
		}
		chosen = append(chosen, got...)
	}
	slices.Sort(chosen)
	if rep.Classes, err = CountClasses(classes, all, chosen); err != nil {
		return nil, nil, fmt.Errorf("coreset: %s by class: %w", who, err)
	}
	return chosen, rep, nil
}

// splitByClass groups the scores of ids by their class: the class names in
// ascending order, each class's scores, and the class sizes in name order.
// An id without a class is an error that calls the class what.
func splitByClass(ids []string, scores map[string]float64, classes map[string]string, what string) ([]string, map[string]map[string]float64, []int, error) {
	byClass := map[string]map[string]float64{}
	for _, id := range ids {
		c, ok := classes[id]
		if !ok {
			return nil, nil, nil, fmt.Errorf("id %q has no %s", id, what)
		}
		if byClass[c] == nil {
			byClass[c] = map[string]float64{}
		}
		byClass[c][id] = scores[id]
	}
	names := slices.Sorted(maps.Keys(byClass))
	sizes := make([]int, len(names))
	for i, c := range names {
		sizes[i] = len(byClass[c])
	}
	return names, byClass, sizes, nil
}

// proportional splits total over parts in proportion to sizes by the
// largest-remainder method: each part gets ⌊total·size/Σsize⌋, and the
// units left go to the largest fractional parts (earlier parts first on a
// tie). The shares sum to total exactly.
func proportional(total int, sizes []int) []int {
	n := 0
	for _, s := range sizes {
		n += s
	}
	shares := make([]int, len(sizes))
	rem := make([]int, len(sizes)) // total·size mod n: the fractional part, scaled by n
	left := total
	for i, s := range sizes {
		shares[i], rem[i] = total*s/n, total*s%n
		left -= shares[i]
	}
	order := make([]int, len(sizes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rem[b], rem[a]) })
	for _, i := range order[:left] {
		shares[i]++
	}
	return shares
}

// DoubleEndByClass is DoubleEnd run within each class: the budget is split
// over the classes in proportion to their sizes (largest remainders, ties
// to the lower label), and each class drops its own ⌊β·n_c⌋ hardest and
// keeps the next hardest up to its share. For label-free selection the
// classes are pseudo-classes (PseudoLabels), so no true label is read.
//
// This is an extension, not part of ELFS, which ranks all examples
// together. When the proxy run finds one pseudo-class much easier than the
// others (a cluster that is one distinct kind of text), the global window
// takes few or none of its examples; by class every cluster keeps its
// share, as CCSByClass does for CCS.
//
// The Report has no strata; Dropped sums the classes, Classes counts the
// given classes. Errors: as DoubleEnd, an id without a class, and a class
// whose share of the budget exceeds what it has left after its β drop.
func DoubleEndByClass(scores map[string]float64, classes map[string]string, budget int, beta float64) ([]string, *Report, error) {
	return perClass("double-end", scores, classes, "class", budget, beta, func(_ string, scores map[string]float64, share int, rep *Report) ([]string, error) {
		rep.Dropped += int(math.Floor(beta * float64(len(scores)) * (1 + 1e-12)))
		if share == 0 {
			return nil, nil
		}
		return DoubleEnd(scores, share, beta)
	})
}
