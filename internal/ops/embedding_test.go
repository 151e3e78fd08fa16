package ops

import (
	"fmt"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/gradcheck"
)

func buildEmbedding(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return Embedding(in[0], in[1]) }

func embeddingInputs(ids ...float64) []gradcheck.Input {
	return []gradcheck.Input{
		{Name: "table", Value: gradcheck.Rand(1, 1, 6, 4), Check: true},
		{Name: "ids", Value: denseValue(ids, len(ids))},
	}
}

func TestEmbeddingValues(t *testing.T) {
	ins := embeddingInputs(5, 0, 5, 2)
	res, err := evalGraph(t, tensor.Float64, ins, buildEmbedding, 1)
	if err != nil {
		t.Fatal(err)
	}
	table := ins[0].Value.Data().([]float64)
	var want []float64
	for _, id := range []int{5, 0, 5, 2} {
		want = append(want, table[id*4:(id+1)*4]...)
	}
	if msg := closeTo(res.out, want, 0); msg != "" {
		t.Fatal(msg)
	}
}

// TestEmbeddingGradients repeats id 5, whose gradient rows must add up, and
// leaves ids 1, 3 and 4 unused (zero gradient).
func TestEmbeddingGradients(t *testing.T) {
	if err := gradcheck.Check(embeddingInputs(5, 0, 5, 2), buildEmbedding, gradcheck.Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestEmbeddingFloat32(t *testing.T) {
	checkFloat32(t, embeddingInputs(5, 0, 5, 2, 1, 1), buildEmbedding, 1e-7)
}

func TestEmbeddingRejectsBadIDs(t *testing.T) {
	for _, c := range []struct {
		id   float64
		want string
	}{{6, "id 6 at position 2"}, {-1, "id -1 at position 2"}, {2.5, "id 2.5 at position 2"}} {
		_, err := evalGraph(t, tensor.Float64, embeddingInputs(0, 1, c.id), buildEmbedding, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("id %v: error %v, want one containing %q", c.id, err, c.want)
		}
	}
}

func BenchmarkEmbedding(b *testing.B) {
	const n, v, d = 1024, 4096, 256
	table, dy := benchTensor(1, 1, v, d), benchTensor(2, 1, n, d)
	idv := make([]float32, n)
	for i := range idv {
		idv[i] = float32(i * 13 % v)
	}
	ids := tensor.New(tensor.WithBacking(idv))
	fwd := &embedding{base: newBase("bench")}
	bwd := &embeddingGrad{base: newBase("bench"), shape: tensor.Shape{v, d}}
	y, _ := fwd.Do(table, ids)
	b.Run(fmt.Sprintf("N=%d,V=%d,D=%d/fwd", n, v, d), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fwd.Do(table, ids)
		}
	})
	b.Run(fmt.Sprintf("N=%d,V=%d,D=%d/bwd", n, v, d), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bwd.Do(ids, y, dy)
		}
	})
}
