package coreset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// stratified builds scores over [0, 4] whose 4 equal-width strata hold 1,
// 2, 10 and 6 ids: s0-0 | s1-0 s1-1 | s2-0..s2-9 | s3-0..s3-5 (s3-5 = 4.0,
// the maximum, in the closed last stratum).
func stratified() map[string]float64 {
	scores := map[string]float64{"s0-0": 0, "s1-0": 1, "s1-1": 1.5}
	for i := range 10 {
		scores[fmt.Sprintf("s2-%d", i)] = 2 + 0.1*float64(i)
	}
	for i := range 6 {
		scores[fmt.Sprintf("s3-%d", i)] = 3 + 0.2*float64(i)
	}
	return scores
}

func takenPerStratum(rep *Report) (avail, taken []int) {
	for _, s := range rep.Strata {
		avail = append(avail, s.Available)
		taken = append(taken, s.Taken)
	}
	return avail, taken
}

// TestCCSSmallestFirst works Algorithm 1 by hand on budget 12. Strata by
// size: s0 (1), s1 (2), s3 (6), s2 (10).
//
//	s0: min(1, ⌊12/4⌋ = 3) = 1, 11 left
//	s1: min(2, ⌊11/3⌋ = 3) = 2, 9 left   (s0 and s1 leave 3 unspent)
//	s3: min(6, ⌊9/2⌋ = 4)  = 4, 5 left
//	s2: min(10, ⌊5/1⌋)     = 5
//
// Visiting in score order instead would give s2 4 and s3 5.
func TestCCSSmallestFirst(t *testing.T) {
	got, rep, err := CCS(stratified(), 12, 0, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	avail, taken := takenPerStratum(rep)
	if !slices.Equal(avail, []int{1, 2, 10, 6}) || !slices.Equal(taken, []int{1, 2, 5, 4}) {
		t.Fatalf("strata available %v taken %v, want [1 2 10 6] and [1 2 5 4]", avail, taken)
	}
	if len(got) != 12 || !slices.IsSorted(got) {
		t.Fatalf("got %q: want 12 ids in order", got)
	}
	perStratum := map[string]int{}
	for _, id := range got {
		perStratum[id[:2]]++
	}
	if perStratum["s0"] != 1 || perStratum["s1"] != 2 || perStratum["s2"] != 5 || perStratum["s3"] != 4 {
		t.Errorf("ids per stratum %v do not match the report", perStratum)
	}
	wantBounds := [][2]float64{{0, 1}, {1, 2}, {2, 3}, {3, 4}}
	for i, s := range rep.Strata {
		if s.Lo != wantBounds[i][0] || s.Hi != wantBounds[i][1] {
			t.Errorf("stratum %d is [%v, %v], want %v", i, s.Lo, s.Hi, wantBounds[i])
		}
	}
	if rep.Examples != 19 || rep.Dropped != 0 || rep.Budget != 12 || rep.Classes != nil {
		t.Errorf("report %+v", rep)
	}
}

// TestCCSEvenSplit: budget 8 over strata of 1, 2, 10, 6 with ample room
// spends ⌊8/4⌋ = 2 where it can: s0 gives 1, so s1 gets ⌊7/3⌋ = 2, s3
// ⌊5/2⌋ = 2 and s2 the 3 left.
func TestCCSEvenSplit(t *testing.T) {
	_, rep, err := CCS(stratified(), 8, 0, 4, 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, taken := takenPerStratum(rep); !slices.Equal(taken, []int{1, 2, 3, 2}) {
		t.Errorf("taken %v, want [1 2 3 2]", taken)
	}
}

// TestCCSExactSize runs many (n, budget, strata, β) and checks that the
// size is exact, the ids are distinct and come from what the β drop left,
// and the split is even: strata not exhausted differ by at most one, and an
// exhausted stratum never got more than one over them.
func TestCCSExactSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 3, 5, 8, 13, 21, 34} {
		scores := map[string]float64{}
		for i := range n {
			// Rounded to a coarse grid so that ties occur.
			scores[fmt.Sprintf("id%03d", i)] = math.Round(rng.NormFloat64()*4) / 4
		}
		ranked, _ := Rank(scores)
		for _, beta := range []float64{0, 0.1, 0.5} {
			pool := ranked[:n-int(math.Floor(beta*float64(n)))]
			for strata := 1; strata <= len(pool); strata++ {
				for budget := 1; budget <= len(pool); budget++ {
					got, rep, err := CCS(scores, budget, beta, strata, uint64(budget))
					if err != nil {
						t.Fatalf("n %d β %v strata %d budget %d: %v", n, beta, strata, budget, err)
					}
					checkCCS(t, fmt.Sprintf("n %d β %v strata %d budget %d", n, beta, strata, budget), got, rep, pool, budget)
				}
			}
		}
	}
}

func checkCCS(t *testing.T, name string, got []string, rep *Report, pool []string, budget int) {
	t.Helper()
	if len(got) != budget {
		t.Fatalf("%s: %d ids", name, len(got))
	}
	for i, id := range got {
		if i > 0 && got[i-1] >= id {
			t.Fatalf("%s: ids not strictly ascending: %q", name, got)
		}
		if !slices.Contains(pool, id) {
			t.Fatalf("%s: %q was dropped by β", name, id)
		}
	}
	sumA, sumT := 0, 0
	lo, hi := math.MaxInt, -1 // Taken range over strata not exhausted
	for _, s := range rep.Strata {
		sumA += s.Available
		sumT += s.Taken
		if s.Taken > s.Available {
			t.Fatalf("%s: stratum %+v gave more than it has", name, s)
		}
		if s.Available > 0 && s.Taken < s.Available {
			lo, hi = min(lo, s.Taken), max(hi, s.Taken)
		}
	}
	if sumA != len(pool) || sumT != budget {
		t.Fatalf("%s: strata hold %d and gave %d, want %d and %d", name, sumA, sumT, len(pool), budget)
	}
	if hi >= 0 && hi-lo > 1 {
		t.Fatalf("%s: uneven split %+v", name, rep.Strata)
	}
	for _, s := range rep.Strata {
		if hi >= 0 && s.Available > 0 && s.Taken == s.Available && s.Taken > lo+1 {
			t.Fatalf("%s: exhausted stratum %+v got more than the even share %d", name, s, lo)
		}
	}
}

// TestCCSBetaDropsHardest: β 0.3 of 10 drops exactly the 3 highest scores;
// with budget = what is left, everything else comes back. Equal scores at
// the cut: the larger id counts as harder.
func TestCCSBetaDropsHardest(t *testing.T) {
	scores := map[string]float64{}
	for i := range 10 {
		scores[fmt.Sprintf("e%d", i)] = float64(i)
	}
	scores["e6"] = 7 // ties with e7: e7 is dropped, e6 kept
	got, rep, err := CCS(scores, 7, 0.3, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"e0", "e1", "e2", "e3", "e4", "e5", "e6"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if rep.Dropped != 3 || rep.Beta != 0.3 {
		t.Errorf("dropped %d β %v, want 3 and 0.3", rep.Dropped, rep.Beta)
	}
	// The strata span what is left, [0, 7], not the dropped scores.
	if rep.Strata[0].Lo != 0 || rep.Strata[2].Hi != 7 {
		t.Errorf("strata %+v do not span [0, 7]", rep.Strata)
	}
}

func TestDropHardestFloatRounding(t *testing.T) {
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	// 0.29·100 is 28.999999999999996 in float64.
	for _, tc := range []struct {
		beta float64
		want int
	}{{0.29, 29}, {0, 0}, {0.005, 0}, {0.999, 99}, {0.57, 57}} {
		if _, got, err := dropHardest("t", ids, tc.beta); err != nil || got != tc.want {
			t.Errorf("β %v drops %d (%v), want %d", tc.beta, got, err, tc.want)
		}
	}
}

func TestCCSAllEqualScores(t *testing.T) {
	scores := map[string]float64{"a": 2, "b": 2, "c": 2, "d": 2}
	got, rep, err := CCS(scores, 2, 0, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	if avail, _ := takenPerStratum(rep); len(got) != 2 || !slices.Equal(avail, []int{4, 0, 0}) {
		t.Errorf("got %q, strata %+v: want 2 ids from the first stratum", got, rep.Strata)
	}
}

func TestCCSDeterministic(t *testing.T) {
	a, _, _ := CCS(stratified(), 9, 0.1, 4, 42)
	b, _, _ := CCS(stratified(), 9, 0.1, 4, 42)
	c, _, _ := CCS(stratified(), 9, 0.1, 4, 43)
	if !slices.Equal(a, b) {
		t.Errorf("same seed: %q and %q", a, b)
	}
	if slices.Equal(a, c) {
		t.Logf("seeds 42 and 43 happen to agree: %q", a) // possible, not wrong
	}
}

func TestCCSClassBalance(t *testing.T) {
	scores := stratified()
	labels := map[string]string{}
	for id := range scores {
		labels[id] = map[bool]string{true: "pos", false: "neg"}[strings.HasPrefix(id, "s2")]
	}
	got, rep, err := CCS(scores, 12, 0, 4, 1, Options{Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	want := []ClassCount{{"neg", 9, 7}, {"pos", 10, 5}}
	if !slices.Equal(rep.Classes, want) {
		t.Errorf("classes %+v, want %+v (chosen %q)", rep.Classes, want, got)
	}
	delete(labels, "s0-0")
	if _, _, err := CCS(scores, 12, 0, 4, 1, Options{Labels: labels}); err == nil || !strings.Contains(err.Error(), `"s0-0" has no label`) {
		t.Errorf("missing label: error %v", err)
	}
}

func TestCCSErrors(t *testing.T) {
	ok := stratified() // 19 ids
	for _, tc := range []struct {
		name   string
		scores map[string]float64
		budget int
		beta   float64
		strata int
		want   string
	}{
		{"empty scores", map[string]float64{}, 1, 0, 1, "no scores"},
		{"NaN score", map[string]float64{"a": math.NaN()}, 1, 0, 1, `"a" is NaN`},
		{"Inf score", map[string]float64{"a": math.Inf(1)}, 1, 0, 1, `"a" is +Inf`},
		{"β negative", ok, 1, -0.1, 1, "outside [0, 1)"},
		{"β one", ok, 1, 1, 1, "outside [0, 1)"},
		{"β NaN", ok, 1, math.NaN(), 1, "outside [0, 1)"},
		{"no strata", ok, 1, 0, 0, "0 strata"},
		{"more strata than examples", ok, 1, 0, 20, "20 strata for 19 examples"},
		{"more strata than left after β", ok, 1, 0.5, 11, "11 strata for 10 examples left after dropping 9"},
		{"budget zero", ok, 0, 0, 1, "budget 0 outside [1, 19]"},
		{"budget over what β leaves", ok, 11, 0.5, 1, "budget 11 outside [1, 10]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := CCS(tc.scores, tc.budget, tc.beta, tc.strata, 1)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestCountClasses(t *testing.T) {
	labels := map[string]string{"a": "x", "b": "y", "c": "x", "d": "y"}
	got, err := CountClasses(labels, []string{"a", "b", "c"}, []string{"c"})
	if want := []ClassCount{{"x", 2, 1}, {"y", 1, 0}}; err != nil || !slices.Equal(got, want) {
		t.Errorf("CountClasses = %+v, %v, want %+v", got, err, want)
	}
	if _, err := CountClasses(labels, []string{"a"}, []string{"d"}); err == nil || !strings.Contains(err.Error(), `"d" is not among`) {
		t.Errorf("chosen outside pool: error %v", err)
	}
}
