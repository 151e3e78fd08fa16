// Package gradcheck compares the symbolic gradients of a gorgonia graph with
// central finite differences in float64.
//
// Every op, gate and loss in sparsetune is checked this way, with open,
// partly open and closed gates. The checker has its own negative control (a
// deliberately wrong derivative must be caught) in its tests.
package gradcheck

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Input is one float64 input of the function under test.
type Input struct {
	Name  string
	Value *tensor.Dense // float64; perturbed in place during the check, restored after
	Check bool          // compare the gradient with respect to this input
}

// BuildFunc builds the function under test on the input nodes. Its output may
// have any shape: the checker projects it to a scalar with fixed random
// weights, so every output element takes part.
type BuildFunc func(g *G.ExprGraph, in []*G.Node) (*G.Node, error)

// Options tune the comparison.
type Options struct {
	Eps     float64 // finite-difference step (default 1e-6)
	ATol    float64 // absolute tolerance (default 1e-7)
	RTol    float64 // relative tolerance (default 1e-5)
	MaxElem int     // elements checked per input, chosen at random when exceeded (default 64)
	Seed    uint64
}

// Mismatch describes the worst disagreement found for one input.
type Mismatch struct {
	Input             string
	Index             int
	Analytic, Numeric float64
}

func (m Mismatch) String() string {
	return fmt.Sprintf("%s[%d]: analytic %.9g, numeric %.9g", m.Input, m.Index, m.Analytic, m.Numeric)
}

// Check returns nil when every checked gradient element agrees with its
// finite difference within tolerance, and otherwise an error listing the
// worst element of each failing input.
func Check(ins []Input, build BuildFunc, opt Options) error {
	opt = opt.withDefaults()
	g := G.NewGraph()
	nodes := make([]*G.Node, len(ins))
	var wrt []*G.Node
	for i, in := range ins {
		if in.Value.Dtype() != tensor.Float64 {
			return fmt.Errorf("gradcheck: input %s is %v, want float64", in.Name, in.Value.Dtype())
		}
		nodes[i] = G.NewTensor(g, tensor.Float64, in.Value.Dims(), G.WithShape(in.Value.Shape()...), G.WithValue(in.Value), G.WithName(in.Name))
		if in.Check {
			wrt = append(wrt, nodes[i])
		}
	}
	out, err := build(g, nodes)
	if err != nil {
		return err
	}
	loss := out
	if !out.IsScalar() {
		rng := rand.New(rand.NewPCG(opt.Seed, 99))
		w := tensor.New(tensor.WithShape(out.Shape()...), tensor.Of(tensor.Float64))
		for i, d := 0, w.Data().([]float64); i < len(d); i++ {
			d[i] = rng.NormFloat64()
		}
		wn := G.NewTensor(g, tensor.Float64, out.Dims(), G.WithShape(out.Shape()...), G.WithValue(w), G.WithName("projection"))
		prod, err := G.HadamardProd(out, wn)
		if err != nil {
			return err
		}
		if loss, err = G.Sum(prod); err != nil {
			return err
		}
	}
	return CheckGraph(g, loss, wrt, opt)
}

// CheckGraph is Check on a graph built elsewhere: loss is a scalar node of g
// and wrt are float64 input nodes of g whose values (*tensor.Dense) are
// perturbed in place and restored.
func CheckGraph(g *G.ExprGraph, loss *G.Node, wrt []*G.Node, opt Options) error {
	opt = opt.withDefaults()
	grads, err := G.Grad(loss, wrt...)
	if err != nil {
		return err
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	run := func() (float64, error) {
		m.Reset()
		if err := m.RunAll(); err != nil {
			return 0, err
		}
		return loss.Value().Data().(float64), nil
	}
	if _, err := run(); err != nil {
		return err
	}
	analytic := make([][]float64, len(grads))
	for i, gn := range grads {
		analytic[i] = append([]float64(nil), gn.Value().Data().([]float64)...)
	}
	var fails []string
	rng := rand.New(rand.NewPCG(opt.Seed, 7))
	for k, node := range wrt {
		a := analytic[k]
		data := node.Value().Data().([]float64)
		idx := make([]int, len(data))
		for i := range idx {
			idx[i] = i
		}
		if len(idx) > opt.MaxElem {
			rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
			idx = idx[:opt.MaxElem]
		}
		worst, worstExcess := Mismatch{}, 0.0
		for _, j := range idx {
			orig := data[j]
			data[j] = orig + opt.Eps
			fp, err := run()
			if err != nil {
				return err
			}
			data[j] = orig - opt.Eps
			fm, err := run()
			if err != nil {
				return err
			}
			data[j] = orig
			num := (fp - fm) / (2 * opt.Eps)
			diff := math.Abs(num - a[j])
			tol := opt.ATol + opt.RTol*math.Max(math.Abs(num), math.Abs(a[j]))
			if excess := diff / tol; excess > 1 && excess > worstExcess || math.IsNaN(diff) {
				worst, worstExcess = Mismatch{node.Name(), j, a[j], num}, excess
			}
		}
		if worstExcess > 1 {
			fails = append(fails, worst.String())
		}
	}
	if len(fails) > 0 {
		return fmt.Errorf("gradient mismatch: %v", fails)
	}
	return nil
}

func (opt Options) withDefaults() Options {
	if opt.Eps == 0 {
		opt.Eps = 1e-6
	}
	if opt.ATol == 0 {
		opt.ATol = 1e-7
	}
	if opt.RTol == 0 {
		opt.RTol = 1e-5
	}
	if opt.MaxElem == 0 {
		opt.MaxElem = 64
	}
	return opt
}

// Rand returns a float64 tensor of the given shape with entries drawn from
// N(0, scale²), deterministic in seed.
func Rand(seed uint64, scale float64, shape ...int) *tensor.Dense {
	rng := rand.New(rand.NewPCG(seed, 1))
	t := tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float64))
	for i, d := 0, t.Data().([]float64); i < len(d); i++ {
		d[i] = rng.NormFloat64() * scale
	}
	return t
}

// Const returns a float64 tensor holding the given values.
func Const(vals []float64, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float64(nil), vals...)))
}
