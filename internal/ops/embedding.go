package ops

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/parallel"
)

// Embedding gathers rows of table (V, D) by ids (N), float-coded integers in
// [0, V), into an (N, D) result: token and position embeddings. An id outside
// [0, V) makes the run fail with an error naming its position. Only the
// table is differentiated; its gradient is the scatter-add of the output
// gradient rows into a zeroed (V, D).
//
// This replaces gorgonia's ByIndices, whose gradient is wrong for 1-D
// tables and which allocates per run.
func Embedding(table, ids *G.Node) (*G.Node, error) {
	ts, is := table.Shape(), ids.Shape()
	if len(ts) != 2 {
		return nil, shapeErr("Embedding", "want a 2-D table (V, D), got %v", ts)
	}
	if len(is) != 1 {
		return nil, shapeErr("Embedding", "want 1-D ids (N), got %v", is)
	}
	return G.ApplyOp(&embedding{base: newBase("Embedding")}, table, ids)
}

type embedding struct {
	base
	out buffer
}

func (op *embedding) Arity() int         { return 2 }
func (op *embedding) Type() hm.Type      { return fnType(2, 2, 1) }
func (op *embedding) DiffWRT(int) []bool { return []bool{true, false} }
func (op *embedding) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ts, is := in[0].(tensor.Shape), in[1].(tensor.Shape)
	return tensor.Shape{is[0], ts[1]}, nil
}

func (op *embedding) Do(in ...G.Value) (G.Value, error) {
	s, dt := in[0].Shape(), in[0].Dtype()
	v, d, n := s[0], s[1], in[1].Shape()[0]
	out := op.out.get(dt, n, d)
	var err error
	if dt == tensor.Float32 {
		err = embGather(slice[float32](out), slice[float32](in[0]), slice[float32](in[1]), v, d)
	} else {
		err = embGather(slice[float64](out), slice[float64](in[0]), slice[float64](in[1]), v, d)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkIDs returns an error naming the first id that is not an integer in
// [0, v).
func checkIDs[T Float](ids []T, v int) error {
	for i, id := range ids {
		f := float64(id)
		if f != math.Trunc(f) || f < 0 || f >= float64(v) {
			return fmt.Errorf("Embedding: id %v at position %d is not an integer in [0, %d)", f, i, v)
		}
	}
	return nil
}

func embGather[T Float](dst, table, ids []T, v, d int) error {
	if err := checkIDs(ids, v); err != nil {
		return err
	}
	parallel.For(len(ids), rowGrain(d), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			id := int(ids[i])
			copy(dst[i*d:(i+1)*d], table[id*d:(id+1)*d])
		}
	})
	return nil
}

// SymDiff: d table = Σ over positions i of e_{ids[i]} ⊗ dy[i].
func (op *embedding) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&embeddingGrad{base: newBase("EmbeddingGrad"), shape: in[0].Shape().Clone()}, in[1], out, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, nil}, nil
}

// embeddingGrad takes (ids, y, dy) and returns d table.
type embeddingGrad struct {
	base
	shape tensor.Shape // (V, D)
	out   buffer
}

func (op *embeddingGrad) Arity() int    { return 3 }
func (op *embeddingGrad) Type() hm.Type { return fnType(2, 1, 2, 2) }
func (op *embeddingGrad) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}

func (op *embeddingGrad) Do(in ...G.Value) (G.Value, error) {
	dt := in[2].Dtype()
	v, d := op.shape[0], op.shape[1]
	out := op.out.get(dt, v, d)
	var err error
	if dt == tensor.Float32 {
		err = embScatterAdd(slice[float32](out), slice[float32](in[2]), slice[float32](in[0]), v, d)
	} else {
		err = embScatterAdd(slice[float64](out), slice[float64](in[2]), slice[float64](in[0]), v, d)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// embScatterAdd sets dst (V, D) to zero and adds row i of src into row
// ids[i]. Workers own disjoint ranges of table rows and each scans all ids,
// so there are no races and every row sums in position order whatever the
// worker count.
func embScatterAdd[T Float](dst, src, ids []T, v, d int) error {
	if err := checkIDs(ids, v); err != nil {
		return err
	}
	parallel.For(v, rowGrain(d), func(lo, hi int) {
		clear(dst[lo*d : hi*d])
		for i, f := range ids {
			id := int(f)
			if id < lo || id >= hi {
				continue
			}
			dr, sr := dst[id*d:(id+1)*d], src[i*d:(i+1)*d]
			for j, x := range sr {
				dr[j] += x
			}
		}
	})
	return nil
}
