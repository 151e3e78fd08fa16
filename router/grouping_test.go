package router

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/nn"
)

func randomRows(n, dim int, seed uint64) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = make([]float32, dim)
		for j := range rows[i] {
			rows[i][j] = float32(rng.NormFloat64())
		}
	}
	return rows
}

// planted returns groups×size rows drawn around groups centres 20 apart on
// average with noise 0.1, in shuffled order, and each row's planted cluster.
func planted(groups, size, dim int, seed uint64) ([][]float32, []int) {
	rng := rand.New(rand.NewPCG(seed, 2))
	centres := make([][]float64, groups)
	for c := range centres {
		centres[c] = make([]float64, dim)
		for j := range centres[c] {
			centres[c][j] = 10 * rng.NormFloat64()
		}
	}
	order := rng.Perm(groups * size)
	rows := make([][]float32, groups*size)
	truth := make([]int, groups*size)
	for k, i := range order {
		c := k / size
		truth[i] = c
		rows[i] = make([]float32, dim)
		for j := range rows[i] {
			rows[i][j] = float32(centres[c][j] + 0.1*rng.NormFloat64())
		}
	}
	return rows, truth
}

// samePartition reports whether two labelings split the rows into the same
// clusters, whatever the cluster numbers.
func samePartition(a, b []int) bool {
	ab, ba := map[int]int{}, map[int]int{}
	for i := range a {
		if x, ok := ab[a[i]]; ok && x != b[i] {
			return false
		}
		if y, ok := ba[b[i]]; ok && y != a[i] {
			return false
		}
		ab[a[i]], ba[b[i]] = b[i], a[i]
	}
	return true
}

func TestBalancedKMeansBalance(t *testing.T) {
	for _, tc := range []struct{ n, groups int }{{60, 6}, {64, 16}, {7, 7}, {9, 1}} {
		assign, err := BalancedKMeans(randomRows(tc.n, 5, 3), tc.groups, 20, 4)
		if err != nil {
			t.Fatal(err)
		}
		count := make([]int, tc.groups)
		next := 0 // canonical numbering: clusters appear in order 0, 1, 2, ...
		for i, c := range assign {
			if c < 0 || c >= tc.groups {
				t.Fatalf("n=%d groups=%d: row %d in cluster %d", tc.n, tc.groups, i, c)
			}
			if c > next {
				t.Fatalf("n=%d groups=%d: cluster %d appears before cluster %d", tc.n, tc.groups, c, next)
			}
			if c == next {
				next++
			}
			count[c]++
		}
		for c, k := range count {
			if k != tc.n/tc.groups {
				t.Errorf("n=%d groups=%d: cluster %d has %d members, want %d", tc.n, tc.groups, c, k, tc.n/tc.groups)
			}
		}
	}
}

func TestBalancedKMeansDeterministic(t *testing.T) {
	rows := randomRows(48, 6, 9)
	a, err := BalancedKMeans(rows, 8, 10, 42)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		b, err := BalancedKMeans(rows, 8, 10, 42)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a, b) {
			t.Fatalf("same seed, different clusters:\n%v\n%v", a, b)
		}
	}
}

func TestBalancedKMeansRecoversPlantedClusters(t *testing.T) {
	for seed := uint64(0); seed < 5; seed++ {
		rows, truth := planted(6, 8, 10, seed)
		assign, err := BalancedKMeans(rows, 6, 20, seed)
		if err != nil {
			t.Fatal(err)
		}
		if !samePartition(assign, truth) {
			t.Errorf("seed %d: found\n%v\nplanted\n%v", seed, assign, truth)
		}
	}
}

// TestBalancedAssignRegret: two rows, two centres, one place each. Row 0
// is at distance 0 from centre 0 and 1 from centre 1; row 1 at 0.5 and 10.
// Nearest-first greedy gives row 0 centre 0 and leaves row 1 the far
// centre (total 10); the regret rule serves row 1 first, as it would lose
// 9.5 against row 0's 1 (total 1.5, the optimum).
func TestBalancedAssignRegret(t *testing.T) {
	dist := []float64{ // (2 rows, 2 centres)
		0, 1,
		0.5, 10,
	}
	if got, want := balancedAssign(dist, 2, 2), []int{1, 0}; !slices.Equal(got, want) {
		t.Errorf("balancedAssign = %v, want %v", got, want)
	}
}

func TestBalancedKMeansRejects(t *testing.T) {
	rows := randomRows(12, 3, 1)
	nan := randomRows(4, 3, 1)
	nan[2][1] = float32(math.NaN())
	for _, tc := range []struct {
		name   string
		rows   [][]float32
		groups int
		iters  int
		want   string
	}{
		{"not dividing", rows, 5, 10, "equal groups"},
		{"more groups than rows", rows, 24, 10, "equal groups"},
		{"zero groups", rows, 0, 10, "positive"},
		{"negative groups", rows, -2, 10, "positive"},
		{"no rows", nil, 2, 10, "no rows"},
		{"empty vectors", [][]float32{{}, {}}, 2, 10, "empty"},
		{"ragged", [][]float32{{1, 2}, {3}}, 2, 10, "row 1"},
		{"NaN", nan, 2, 10, "NaN"},
		{"no iterations", rows, 3, 0, "iters"},
	} {
		_, err := BalancedKMeans(tc.rows, tc.groups, tc.iters, 1)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
}

// groupModel is a one-layer model of family f with FFN width 24 whose
// neurons' input vectors (for LLaMA gate and up rows) are planted in 6
// clusters of 4; it returns each neuron's planted cluster.
func groupModel(t *testing.T, f nn.Family) (*nn.Model, []int) {
	c := &nn.Config{Family: f, Task: nn.CausalLM, Vocab: 11, D: 8, L: 1, H: 2, KVH: 2, F: 24, MaxPos: 8, NormEps: 1e-5, PadID: -1, BOSID: -1, EOSID: -1}
	switch f {
	case nn.GPT2:
		c.Act, c.Tied = "gelu_new", true
	case nn.BERT:
		c.Task, c.Act, c.TypeVocab, c.Labels, c.PadID = nn.Classification, "gelu", 2, []string{"a", "b"}, 0
	case nn.LLaMA:
		c.Act, c.RoPETheta, c.KVH = "silu", 10000, 1
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	m := &nn.Model{Config: c, Params: nn.InitParams(c, 1, tensor.Float32)}
	dim := c.D
	if f == nn.LLaMA {
		dim = 2 * c.D
	}
	rows, truth := planted(6, 4, dim, 17)
	for _, ft := range c.FFNTensors(0) {
		if ft.Role != nn.FFNUp && ft.Role != nn.FFNGate {
			continue
		}
		p := m.Params.Get(ft.Name)
		d, s := p.Value.Data().([]float32), p.Value.Shape()
		off := 0
		if ft.Role == nn.FFNUp && f == nn.LLaMA {
			off = c.D // rows are [gate | up]
		}
		for j, r := range rows {
			for k := 0; k < c.D; k++ {
				if ft.Axis == 0 {
					d[j*s[1]+k] = r[off+k]
				} else {
					d[k*s[1]+j] = r[off+k]
				}
			}
		}
	}
	return m, truth
}

func TestGroupPermutation(t *testing.T) {
	for _, f := range []nn.Family{nn.GPT2, nn.BERT, nn.LLaMA} {
		t.Run(string(f), func(t *testing.T) {
			m, truth := groupModel(t, f)
			perm, err := GroupPermutation(m, 0, 4, 20, 7)
			if err != nil {
				t.Fatal(err)
			}
			if perm[0] != 0 {
				t.Errorf("perm[0] = %d: group 0 should hold neuron 0", perm[0])
			}
			seen := make([]bool, len(perm))
			for g := 0; g < 6; g++ {
				block := perm[g*4 : (g+1)*4]
				if !slices.IsSorted(block) {
					t.Errorf("group %d %v is not in ascending order", g, block)
				}
				for _, j := range block {
					if seen[j] {
						t.Fatalf("neuron %d appears twice in %v", j, perm)
					}
					seen[j] = true
					if truth[j] != truth[block[0]] {
						t.Errorf("group %d %v mixes planted clusters %d and %d", g, block, truth[block[0]], truth[j])
					}
				}
			}
			// The permutation is what PermuteFFN takes.
			if err := m.PermuteFFN(0, perm); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestGroupPermutationRejects(t *testing.T) {
	m, _ := groupModel(t, nn.GPT2)
	for _, tc := range []struct {
		name             string
		layer, groupSize int
		want             string
	}{
		{"group size not dividing F", 0, 5, "divide"},
		{"zero group size", 0, 0, "divide"},
		{"layer out of range", 1, 4, "layer"},
	} {
		_, err := GroupPermutation(m, tc.layer, tc.groupSize, 10, 1)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
}
