package coreset

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestProportional(t *testing.T) {
	for _, tc := range []struct {
		total int
		sizes []int
		want  []int
	}{
		{10, []int{50, 30, 20}, []int{5, 3, 2}}, // exact
		{10, []int{1, 1, 1}, []int{4, 3, 3}},    // 3⅓ each: the first part takes the unit left
		{7, []int{10, 25, 15}, []int{1, 4, 2}},  // 1.4, 3.5, 2.1: remainder to the 0.5
		{3, []int{100, 1, 1}, []int{3, 0, 0}},   // 2.94, 0.03, 0.03
		{5, []int{2, 2, 2, 2, 2}, []int{1, 1, 1, 1, 1}},
	} {
		got := proportional(tc.total, tc.sizes)
		sum := 0
		for _, s := range got {
			sum += s
		}
		if !slices.Equal(got, tc.want) || sum != tc.total {
			t.Errorf("proportional(%d, %v) = %v, want %v", tc.total, tc.sizes, got, tc.want)
		}
	}
}

// easyAndHard is 40 scored ids in two classes: "a" (a00..a29) with easy
// scores 0..29, "b" (b00..b09) with hard ones 100..109.
func easyAndHard() (map[string]float64, map[string]string) {
	scores, classes := map[string]float64{}, map[string]string{}
	for i := range 30 {
		id := fmt.Sprintf("a%02d", i)
		scores[id], classes[id] = float64(i), "a"
	}
	for i := range 10 {
		id := fmt.Sprintf("b%02d", i)
		scores[id], classes[id] = 100+float64(i), "b"
	}
	return scores, classes
}

// TestCCSByClass: class "a" holds easy scores 0..29, class "b" hard ones
// 100..109. Plain CCS stratifies [0, 109] as one range and, at budget 8,
// spends it by stratum, not by class; by class, the budget splits 6:2
// (30:10) and each class is stratified over its own range.
func TestCCSByClass(t *testing.T) {
	scores, labels := easyAndHard()
	got, rep, err := CCSByClass(scores, labels, 8, 0.1, 3, 7)
	if err != nil {
		t.Fatal(err)
	}
	if want := []ClassCount{{"a", 30, 6}, {"b", 10, 2}}; !slices.Equal(rep.Classes, want) || len(got) != 8 || !slices.IsSorted(got) {
		t.Fatalf("classes %+v, %d ids %q; want %+v and 8 sorted ids", rep.Classes, len(got), got, want)
	}
	// β 0.1 drops a27..a29 and b09.
	if rep.Dropped != 4 || slices.Contains(got, "a29") || slices.Contains(got, "b09") {
		t.Errorf("dropped %d (%q chosen), want 4 with a29 and b09 gone", rep.Dropped, got)
	}
	// Three strata per class, labelled, each class's taken adding to its share.
	taken := map[string]int{}
	for _, s := range rep.Strata {
		taken[s.Class] += s.Taken
	}
	if len(rep.Strata) != 6 || taken["a"] != 6 || taken["b"] != 2 {
		t.Errorf("strata %+v: want 3 per class taking 6 and 2", rep.Strata)
	}

	delete(labels, "b03")
	if _, _, err := CCSByClass(scores, labels, 8, 0.1, 3, 7); err == nil || !strings.Contains(err.Error(), `"b03" has no label`) {
		t.Errorf("missing label: error %v", err)
	}
	labels["b03"] = "b"
	// 36 of 40 fits exactly (27 + 9 after the drops); 38 gives class a
	// 29 (28.5 and the tied remainder), more than the 27 it has left.
	if got, _, err := CCSByClass(scores, labels, 36, 0.1, 3, 7); err != nil || len(got) != 36 {
		t.Errorf("budget 36: %d ids, %v", len(got), err)
	}
	if _, _, err := CCSByClass(scores, labels, 38, 0.1, 3, 7); err == nil || !strings.Contains(err.Error(), `class "a"`) {
		t.Errorf("share over what is left: error %v", err)
	}
}

// TestDoubleEndByClass: class "a" holds easy scores 0..29, class "b" hard
// ones 100..109. The global window at budget 8, β 0.1 drops b09..b06 and
// takes b05..b00 and a29, a28: six of its eight from "b". By class the
// budget splits 6:2 and each class's window is its own: "a" drops a29..a27
// and takes a26..a21, "b" drops b09 and takes b08, b07.
func TestDoubleEndByClass(t *testing.T) {
	scores, classes := easyAndHard()
	global, err := DoubleEnd(scores, 8, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a28", "a29", "b00", "b01", "b02", "b03", "b04", "b05"}; !slices.Equal(global, want) {
		t.Fatalf("DoubleEnd = %q, want %q", global, want)
	}
	got, rep, err := DoubleEndByClass(scores, classes, 8, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a21", "a22", "a23", "a24", "a25", "a26", "b07", "b08"}; !slices.Equal(got, want) {
		t.Errorf("DoubleEndByClass = %q, want %q", got, want)
	}
	if want := []ClassCount{{"a", 30, 6}, {"b", 10, 2}}; !slices.Equal(rep.Classes, want) || rep.Dropped != 4 || rep.Budget != 8 {
		t.Errorf("report %+v, want classes %+v and 4 dropped", rep, want)
	}
	// β 0 and the whole budget: every id.
	if all, _, err := DoubleEndByClass(scores, classes, 40, 0); err != nil || len(all) != 40 {
		t.Errorf("budget 40 at β 0: %d ids, %v", len(all), err)
	}
}

func TestDoubleEndByClassErrors(t *testing.T) {
	scores := map[string]float64{"a0": 0, "a1": 1, "a2": 2, "b0": 5, "b1": 6}
	classes := map[string]string{"a0": "a", "a1": "a", "a2": "a", "b0": "b", "b1": "b"}
	for _, tc := range []struct {
		name    string
		classes map[string]string
		budget  int
		beta    float64
		want    string
	}{
		{"no class", map[string]string{"a0": "a"}, 2, 0, `id "a1" has no class`},
		{"budget", classes, 6, 0, "budget 6 outside [1, 5]"},
		// β 0.5 leaves "a" 2 of 3 but its share of 5 is 3.
		{"share", classes, 5, 0.5, `(class "a", its share of the budget)`},
		{"beta", classes, 2, 1, "β = 1 outside [0, 1)"},
	} {
		_, _, err := DoubleEndByClass(scores, tc.classes, tc.budget, tc.beta)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}
