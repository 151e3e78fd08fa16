package coreset

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestBudget(t *testing.T) {
	for _, tc := range []struct {
		n     int
		ratio float64
		want  int
	}{
		{10, 0.25, 3}, // 2.5 rounds half away from zero
		{10, 0.24, 2},
		{10, 0.01, 1}, // at least one
		{7, 1, 7},
		{1, 1e-9, 1},
	} {
		if got, err := Budget(tc.n, tc.ratio); err != nil || got != tc.want {
			t.Errorf("Budget(%d, %v) = %d, %v, want %d", tc.n, tc.ratio, got, err, tc.want)
		}
	}
	for _, ratio := range []float64{0, -0.5, 1.0000001, 1.5, 100, math.NaN(), math.Inf(1)} {
		if _, err := Budget(10, ratio); err == nil || !strings.Contains(err.Error(), "outside (0, 1]") {
			t.Errorf("Budget(10, %v): error %v", ratio, err)
		}
	}
	if _, err := Budget(0, 0.5); err == nil {
		t.Error("Budget(0, 0.5): no error")
	}
}

// ten scores e0..e9 = 0..9.
func ten() map[string]float64 {
	s := map[string]float64{}
	for i := range 10 {
		s[fmt.Sprintf("e%d", i)] = float64(i)
	}
	return s
}

func TestHardestEasiestRank(t *testing.T) {
	s := ten()
	s["e2"] = 7 // ties with e7: e7 ranks harder (larger id)
	h, err := Hardest(s, 3)
	if err != nil || !slices.Equal(h, []string{"e7", "e8", "e9"}) {
		t.Errorf("Hardest = %q, %v", h, err)
	}
	e, err := Easiest(s, 3)
	if err != nil || !slices.Equal(e, []string{"e0", "e1", "e3"}) {
		t.Errorf("Easiest = %q, %v", e, err)
	}
	r, err := Rank(s)
	if want := []string{"e0", "e1", "e3", "e4", "e5", "e6", "e2", "e7", "e8", "e9"}; err != nil || !slices.Equal(r, want) {
		t.Errorf("Rank = %q, %v, want %q", r, err, want)
	}
	for _, b := range []int{0, 11} {
		if _, err := Hardest(s, b); err == nil {
			t.Errorf("Hardest budget %d: no error", b)
		}
		if _, err := Easiest(s, b); err == nil {
			t.Errorf("Easiest budget %d: no error", b)
		}
	}
	if _, err := Hardest(map[string]float64{}, 1); err == nil {
		t.Error("Hardest of no scores: no error")
	}
}

func TestRandom(t *testing.T) {
	ids := []string{"d", "a", "c", "b", "e", "f"}
	a, err := Random(ids, 3, 9)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Random([]string{"f", "e", "d", "c", "b", "a"}, 3, 9)
	if len(a) != 3 || !slices.IsSorted(a) || !slices.Equal(a, b) {
		t.Errorf("Random gave %q and, on reordered ids, %q: want the same 3 ids in order", a, b)
	}
	all, _ := Random(ids, 6, 1)
	if !slices.Equal(all, []string{"a", "b", "c", "d", "e", "f"}) {
		t.Errorf("Random of everything = %q", all)
	}
	// Each id is drawn with probability 1/2 over seeds.
	counts := map[string]int{}
	for seed := range uint64(2000) {
		got, _ := Random(ids, 3, seed)
		for _, id := range got {
			counts[id]++
		}
	}
	for id, c := range counts {
		if c < 850 || c > 1150 { // 1000 ± ~7 standard deviations
			t.Errorf("%q drawn %d times in 2000, want about 1000", id, c)
		}
	}
	if _, err := Random([]string{"a", "b", "a"}, 1, 0); err == nil || !strings.Contains(err.Error(), `duplicate id "a"`) {
		t.Errorf("duplicate ids: error %v", err)
	}
	if _, err := Random(ids, 7, 0); err == nil {
		t.Error("budget over len: no error")
	}
}

// TestDoubleEnd: β 0.2 of 10 drops e9, e8; budget 3 keeps the next
// hardest, e7 e6 e5, pruning e0..e4 at the easy end.
func TestDoubleEnd(t *testing.T) {
	got, err := DoubleEnd(ten(), 3, 0.2)
	if err != nil || !slices.Equal(got, []string{"e5", "e6", "e7"}) {
		t.Errorf("DoubleEnd = %q, %v", got, err)
	}
	got, err = DoubleEnd(ten(), 8, 0.2) // all that is left
	if err != nil || len(got) != 8 || slices.Contains(got, "e8") || slices.Contains(got, "e9") {
		t.Errorf("DoubleEnd all = %q, %v", got, err)
	}
	got, err = DoubleEnd(ten(), 2, 0) // β 0 is Hardest
	if err != nil || !slices.Equal(got, []string{"e8", "e9"}) {
		t.Errorf("DoubleEnd β 0 = %q, %v", got, err)
	}
	for _, tc := range []struct {
		budget int
		beta   float64
		want   string
	}{
		{9, 0.2, "budget 9 outside [1, 8]"},
		{0, 0.2, "budget 0"},
		{1, 1, "outside [0, 1)"},
		{1, -0.01, "outside [0, 1)"},
	} {
		if _, err := DoubleEnd(ten(), tc.budget, tc.beta); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("DoubleEnd(budget %d, β %v): error %v, want %q", tc.budget, tc.beta, err, tc.want)
		}
	}
	if _, err := DoubleEnd(map[string]float64{}, 1, 0); err == nil {
		t.Error("DoubleEnd of no scores: no error")
	}
}

// blobs returns n points in each of three well-separated 2-D blobs; ids
// are "<blob>-<i>".
func blobs(n int) map[string][]float32 {
	centres := [][2]float32{{0, 0}, {100, 0}, {0, 100}}
	out := map[string][]float32{}
	for b, c := range centres {
		for i := range n {
			out[fmt.Sprintf("%d-%d", b, i)] = []float32{c[0] + float32(i%3), c[1] + float32(i/3)}
		}
	}
	return out
}

func TestPseudoLabelsRecoversBlobs(t *testing.T) {
	got, err := PseudoLabels(blobs(4), 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	for id, c := range got {
		if want := got[id[:1]+"-0"]; c != want {
			t.Errorf("%q in cluster %d, the rest of its blob in %d", id, c, want)
		}
	}
	if got["0-0"] != 0 { // canonical numbering
		t.Errorf("first id in cluster %d, want 0", got["0-0"])
	}
}

// TestPseudoLabelsRemainder: 3·5 + 2 = 17 points in 3 clusters hold out
// 17 mod 3 = 2, so clusters have 5 to 7 members.
func TestPseudoLabelsRemainder(t *testing.T) {
	emb := blobs(5)
	emb["0-x"] = []float32{1, 1}
	emb["1-x"] = []float32{101, 1}
	for seed := range uint64(5) {
		got, err := PseudoLabels(emb, 3, seed)
		if err != nil {
			t.Fatal(err)
		}
		sizes := make([]int, 3)
		for _, c := range got {
			sizes[c]++
		}
		if len(got) != 17 || slices.Min(sizes) < 5 || slices.Max(sizes) > 7 {
			t.Errorf("seed %d: %d labels, cluster sizes %v", seed, len(got), sizes)
		}
		again, _ := PseudoLabels(emb, 3, seed)
		for id, c := range got {
			if again[id] != c {
				t.Fatalf("seed %d: not deterministic at %q", seed, id)
			}
		}
	}
}

func TestPseudoLabelsErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		emb  map[string][]float32
		k    int
		want string
	}{
		{"none", map[string][]float32{}, 1, "no embeddings"},
		{"k zero", blobs(2), 0, "k = 0"},
		{"fewer than k", blobs(1), 4, "3 examples cannot fill 4 clusters"},
		{"ragged", map[string][]float32{"a": {1, 2}, "b": {1}}, 1, `"b" has 1 values`},
		{"empty vector", map[string][]float32{"a": {}, "b": {}}, 1, "has 0 values"},
		{"NaN", map[string][]float32{"a": {1, float32(math.NaN())}}, 1, "value 1 is NaN"},
		{"empty id", map[string][]float32{"": {1}}, 1, "empty example id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PseudoLabels(tc.emb, tc.k, 0)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
