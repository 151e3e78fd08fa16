package coreset

import (
	"math"
	"strings"
	"testing"
)

// close1e6 is the tolerance of the hand-computed scores: float32 logits
// (ln 3 is not exact) and float64 arithmetic leave errors near 1e-7.
const close1e6 = 1e-6

func checkScores(t *testing.T, got, want map[string]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d scores, want %d: %v", len(got), len(want), got)
	}
	for id, w := range want {
		if g, ok := got[id]; !ok || math.Abs(g-w) > close1e6 {
			t.Errorf("%q: %v, want %v", id, g, w)
		}
	}
}

// threeClass is a table worked by hand in the tests below. Per epoch the
// margin z_y − max_{i≠y} z_i and whether argmax = y:
//
//	a (y=0): [2 1 0] +1 ok, [0 3 1] −3 no, [1 0 0] +1 ok, [0 0 1] −1 no
//	b (y=1): [1 0 0] −1 no, [0 2 0] +2 ok, [0 1 2] −1 no
//	c (y=2): [1 0 0] −1 no, [0 1 0] −1 no, [5 0 0] −5 no   (never learned)
//	d (y=0): [3 0 0] +3 ok, three times
//
// a is recorded out of order to check that epochs are sorted.
func threeClass(t *testing.T) *Dynamics {
	d := NewDynamics(3)
	for _, r := range []struct {
		epoch int
		id    string
		z     []float32
		y     int
	}{
		{3, "a", []float32{0, 0, 1}, 0}, {1, "a", []float32{0, 3, 1}, 0},
		{0, "a", []float32{2, 1, 0}, 0}, {2, "a", []float32{1, 0, 0}, 0},
		{0, "b", []float32{1, 0, 0}, 1}, {1, "b", []float32{0, 2, 0}, 1}, {2, "b", []float32{0, 1, 2}, 1},
		{0, "c", []float32{1, 0, 0}, 2}, {1, "c", []float32{0, 1, 0}, 2}, {2, "c", []float32{5, 0, 0}, 2},
		{0, "d", []float32{3, 0, 0}, 0}, {1, "d", []float32{3, 0, 0}, 0}, {2, "d", []float32{3, 0, 0}, 0},
	} {
		mustRecord(t, d, r.epoch, r.id, r.z, r.y)
	}
	return d
}

func TestAUM(t *testing.T) {
	got, err := threeClass(t).Scores(AUM, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Score = −mean margin: a −(1−3+1−1)/4, b −(−1+2−1)/3, c −(−1−1−5)/3, d −3.
	checkScores(t, got, map[string]float64{"a": 0.5, "b": 0, "c": 7.0 / 3, "d": -3})
}

func TestForgetting(t *testing.T) {
	got, err := threeClass(t).Scores(Forgetting, 0)
	if err != nil {
		t.Fatal(err)
	}
	// a: ok→no twice; b: no→ok→no once; d: never forgets; c never learned:
	// largest learned count (2) + 1.
	checkScores(t, got, map[string]float64{"a": 2, "b": 1, "c": 3, "d": 0})
}

func TestForgettingTiesAndAllUnlearned(t *testing.T) {
	d := NewDynamics(2)
	// Equal logits: argmax takes class 0, so "tie0" (y=0) is correct and
	// "tie1" (y=1) never is.
	mustRecord(t, d, 0, "tie0", []float32{1, 1}, 0)
	mustRecord(t, d, 0, "tie1", []float32{1, 1}, 1)
	got, err := d.Scores(Forgetting, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkScores(t, got, map[string]float64{"tie0": 0, "tie1": 1})

	d = NewDynamics(2)
	mustRecord(t, d, 0, "x", []float32{0, 1}, 0)
	got, err = d.Scores(Forgetting, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkScores(t, got, map[string]float64{"x": 1}) // no learned example: 0 + 1
}

// twoClass: with logits [0 0], p = (1/2, 1/2); with [ln 3, 0], p = (3/4, 1/4).
//
//	‖p − onehot‖₂: [0 0] either label √(1/4+1/4) = 0.70710678
//	               [ln3 0] y=0: √(1/16+1/16) = 0.35355339, y=1: √(9/16+9/16) = 1.06066017
//	entropy:       [0 0] ln 2 = 0.69314718
//	               [ln3 0] −(¾ ln ¾ + ¼ ln ¼) = 0.21576155 + 0.34657359 = 0.56233514
func twoClass(t *testing.T) *Dynamics {
	ln3 := float32(math.Log(3))
	d := NewDynamics(2)
	mustRecord(t, d, 0, "x", []float32{0, 0}, 0)
	mustRecord(t, d, 1, "x", []float32{ln3, 0}, 0)
	mustRecord(t, d, 0, "y", []float32{ln3, 0}, 1)
	mustRecord(t, d, 1, "y", []float32{0, 0}, 1)
	return d
}

func TestEL2N(t *testing.T) {
	d := twoClass(t)
	for _, tc := range []struct {
		k    int
		want map[string]float64
	}{
		{0, map[string]float64{"x": 0.70710678, "y": 1.06066017}}, // default: first epoch
		{1, map[string]float64{"x": 0.70710678, "y": 1.06066017}},
		{2, map[string]float64{"x": (0.70710678 + 0.35355339) / 2, "y": (1.06066017 + 0.70710678) / 2}},
	} {
		got, err := d.Scores(EL2N, tc.k)
		if err != nil {
			t.Fatal(err)
		}
		checkScores(t, got, tc.want)
	}
	if _, err := d.Scores(EL2N, 3); err == nil || !strings.Contains(err.Error(), "recorded in 2") {
		t.Errorf("EL2N over 3 epochs of 2: error %v", err)
	}
	if _, err := d.Scores(EL2N, -1); err == nil {
		t.Error("negative EL2N epochs: no error")
	}
}

func TestEntropy(t *testing.T) {
	got, err := twoClass(t).Scores(Entropy, 0)
	if err != nil {
		t.Fatal(err)
	}
	mean := (0.69314718 + 0.56233514) / 2
	checkScores(t, got, map[string]float64{"x": mean, "y": mean})
}

func TestScoresErrors(t *testing.T) {
	if _, err := NewDynamics(2).Scores(AUM, 0); err == nil || !strings.Contains(err.Error(), "no examples") {
		t.Errorf("empty table: error %v", err)
	}
	if _, err := twoClass(t).Scores(ScoreKind(99), 0); err == nil {
		t.Error("unknown kind: no error")
	}
}

func TestParseScoreKind(t *testing.T) {
	for _, k := range []ScoreKind{AUM, Forgetting, EL2N, Entropy} {
		got, err := ParseScoreKind(strings.ToUpper(k.String()))
		if err != nil || got != k {
			t.Errorf("ParseScoreKind(%q) = %v, %v", k, got, err)
		}
	}
	if _, err := ParseScoreKind("grand"); err == nil {
		t.Error("unknown name: no error")
	}
}
