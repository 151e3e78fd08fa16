package ops

import (
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/parallel"
)

// DistillKL is the knowledge-distillation loss of Hinton et al. (2015, §2):
// τ²·KL(softmax(teacher/τ) ‖ softmax(student/τ)), averaged over the rows
// whose weight is non-zero. student and teacher are (N, V) logits; weights
// is (N), 1 for rows that count and 0 for padding. The τ² factor keeps the
// gradient's scale independent of the temperature. The teacher is a
// constant: only the student gets a gradient,
// d/dstudent = τ·(softmax(student/τ) − softmax(teacher/τ)) / count.
func DistillKL(student, teacher, weights *G.Node, temperature float64) (*G.Node, error) {
	if !student.Shape().Eq(teacher.Shape()) || student.Dims() != 2 {
		return nil, shapeErr("DistillKL", "student %v and teacher %v must be equal (N, V)", student.Shape(), teacher.Shape())
	}
	if weights.Dims() != 1 || weights.Shape()[0] != student.Shape()[0] {
		return nil, shapeErr("DistillKL", "weights %v, want (%d)", weights.Shape(), student.Shape()[0])
	}
	if !(temperature > 0) {
		return nil, shapeErr("DistillKL", "temperature must be positive, got %g", temperature)
	}
	return G.ApplyOp(&distillKL{base: newBase("DistillKL"), temp: temperature}, student, teacher, weights)
}

type distillKL struct {
	base
	temp   float64
	ps, pt []float64 // softmax(student/τ), softmax(teacher/τ) of the last run
	rowKL  []float64
	count  float64
}

func (op *distillKL) Arity() int { return 3 }
func (op *distillKL) Type() hm.Type {
	return fnType(0, 2, 2, 1)
}
func (op *distillKL) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (op *distillKL) DiffWRT(int) []bool { return []bool{true, false, false} }

func (op *distillKL) Do(in ...G.Value) (G.Value, error) {
	var loss float64
	if in[0].Dtype() == tensor.Float32 {
		loss = distillForward[float32](op, in)
	} else {
		loss = distillForward[float64](op, in)
	}
	return scalarValue(in[0].Dtype(), loss), nil
}

func distillForward[T Float](op *distillKL, in []G.Value) float64 {
	s, t, w := slice[T](in[0]), slice[T](in[1]), slice[T](in[2])
	n, v := in[0].Shape()[0], in[0].Shape()[1]
	if len(op.ps) != n*v {
		op.ps, op.pt, op.rowKL = make([]float64, n*v), make([]float64, n*v), make([]float64, n)
	}
	rowKL := op.rowKL
	clear(rowKL)
	parallel.For(n, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			if w[r] == 0 {
				continue
			}
			ls := softmaxTemp(op.ps[r*v:(r+1)*v], s[r*v:(r+1)*v], op.temp)
			lt := softmaxTemp(op.pt[r*v:(r+1)*v], t[r*v:(r+1)*v], op.temp)
			// KL(pt‖ps) = Σ pt (log pt − log ps), with log p = x/τ − lse.
			var kl float64
			for j := 0; j < v; j++ {
				if p := op.pt[r*v+j]; p > 0 {
					kl += p * ((float64(t[r*v+j])/op.temp - lt) - (float64(s[r*v+j])/op.temp - ls))
				}
			}
			rowKL[r] = kl
		}
	})
	var sum float64
	op.count = 0
	for r := range rowKL {
		if w[r] != 0 {
			sum += rowKL[r]
			op.count++
		}
	}
	if op.count == 0 {
		return 0
	}
	return op.temp * op.temp * sum / op.count
}

// softmaxTemp writes softmax(x/τ) into dst and returns log Σ exp(x/τ).
func softmaxTemp[T Float](dst []float64, x []T, temp float64) float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v)/temp)
	}
	var sum float64
	for j, v := range x {
		dst[j] = math.Exp(float64(v)/temp - mx)
		sum += dst[j]
	}
	for j := range dst {
		dst[j] /= sum
	}
	return mx + math.Log(sum)
}

// SymDiff: the student's gradient from the saved distributions.
func (op *distillKL) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&distillGrad{base: newBase("DistillKLGrad"), fwd: op}, in[0], in[2], out, grad)
	return G.Nodes{d, nil, nil}, err
}

type distillGrad struct {
	base
	fwd *distillKL
	out buffer
}

func (op *distillGrad) Arity() int    { return 4 }
func (op *distillGrad) Type() hm.Type { return fnType(2, 2, 1, 0, 0) }
func (op *distillGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *distillGrad) Do(in ...G.Value) (G.Value, error) {
	out := op.out.get(in[0].Dtype(), in[0].Shape()...)
	g := scalar(in[3])
	if in[0].Dtype() == tensor.Float32 {
		distillBackward(op.fwd, slice[float32](out), slice[float32](in[1]), g, in[0].Shape()[1])
	} else {
		distillBackward(op.fwd, slice[float64](out), slice[float64](in[1]), g, in[0].Shape()[1])
	}
	return out, nil
}

func distillBackward[T Float](f *distillKL, dst, w []T, g float64, v int) {
	if f.count == 0 {
		clear(dst)
		return
	}
	scale := g * f.temp / f.count
	for r := range w {
		row := dst[r*v : (r+1)*v]
		if w[r] == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] = T(scale * (f.ps[r*v+j] - f.pt[r*v+j]))
		}
	}
}
