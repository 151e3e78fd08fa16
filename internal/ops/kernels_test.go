package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/gradcheck"
)

// Error bounds of the float32 approximations against the math package,
// measured over every 61st float32 bit pattern (tanh, erf: all finite
// inputs; exp: [expLo, expHi]; sigmoid: [-87, 87]) with some margin. Each is far inside the 1e-4
// parity tolerance on logits: an FFN output sums F ≈ 1000 activations times
// weights of ~0.02, which scales these by ~0.6 at most.
const (
	tanhMaxErr       = 2.5e-7 // absolute (measured 1.8e-7, at x ≈ 3.49); relative accuracy fades below |x| ≈ 1e-3
	expMaxRelErr     = 1.5e-7 // relative (measured 8.1e-8)
	sigmoidMaxRelErr = 2e-7   // relative on [-87, 87] (measured 1.4e-7, at x ≈ -16.6); beyond, below 1e-37 absolute
	erfMaxErr        = 7e-7   // absolute (measured 6.1e-7, at x ≈ 0.023)
)

// fastMathSeeds are inputs every go test run checks: zeros, tiny and huge
// values, the clamps, the points of worst measured error, and non-finite
// values.
var fastMathSeeds = []float32{
	0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 1e-8, 0.023, -0.023, 0.3, -0.5, 1, -1, -1.2852075, 0.26175, 3.4900289, -16.64731, 2.5, 5.824569, -5.824569,
	7.9, -7.9, 7.91, 9, -9, 20, -20, 87, -87, expLo, expHi, 88.5, -88.5, 100, -100, 1e30, -1e30,
	float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
}

// checkTanh32 compares tanh32s with math.Tanh at x.
func checkTanh32(t *testing.T, x float32) {
	v := []float32{x}
	tanh32s(v)
	want := math.Tanh(float64(x))
	if math.IsNaN(want) != math.IsNaN(float64(v[0])) || math.Abs(float64(v[0])-want) > tanhMaxErr {
		t.Fatalf("tanh32(%v) = %v, want %v ± %g", x, v[0], want, tanhMaxErr)
	}
}

// exp32 is exp32s for one value, in the vector body (element 0 of 8: the
// assembly where it runs) or by the scalar twin.
func exp32(x float32, vector bool) float32 {
	if !vector {
		v := [1]float32{x}
		exp32sGo(v[:])
		return v[0]
	}
	var v [8]float32
	for i := range v {
		v[i] = x
	}
	exp32s(v[:])
	return v[0]
}

// checkExp32 compares exp32s (vector body and scalar twin) with math.Exp
// at x: relative error inside the range, saturation outside it.
func checkExp32(t *testing.T, x float32) {
	for _, vector := range []bool{true, false} {
		got, want := float64(exp32(x, vector)), math.Exp(float64(x))
		switch {
		case math.IsNaN(float64(x)):
			if !math.IsNaN(got) {
				t.Fatalf("exp32(NaN) = %v (vector %v)", got, vector)
			}
		case x < expLo:
			if got > 1.2e-38 || got < 0 {
				t.Fatalf("exp32(%v) = %v (vector %v), want in [0, 1.2e-38]", x, got, vector)
			}
		case x > expHi:
			if sat := exp32(expHi, vector); got != float64(sat) {
				t.Fatalf("exp32(%v) = %v (vector %v), want the saturated %v", x, got, vector, sat)
			}
		default:
			if math.Abs(got-want) > expMaxRelErr*want {
				t.Fatalf("exp32(%v) = %v (vector %v), want %v (relative error %.3g > %g)", x, got, vector, want, math.Abs(got-want)/want, expMaxRelErr)
			}
		}
	}
}

// checkErf32 compares erf32s with math.Erf at x.
func checkErf32(t *testing.T, x float32) {
	v := []float32{x}
	erf32s(v)
	want := math.Erf(float64(x))
	if math.IsNaN(want) != math.IsNaN(float64(v[0])) || math.Abs(float64(v[0])-want) > erfMaxErr {
		t.Fatalf("erf32(%v) = %v, want %v ± %g", x, v[0], want, erfMaxErr)
	}
}

// checkSigmoid32 compares sigmoid32s with the float64 logistic at x, both
// in the vector body (element 0 of 9: the assembly where it runs) and in the
// scalar tail (element 8), and the scalar twin alone.
func checkSigmoid32(t *testing.T, x float32) {
	v := make([]float32, 9)
	for i := range v {
		v[i] = x
	}
	sigmoid32s(v)
	one := []float32{x}
	sigmoid32sGo(one)
	want := 1 / (1 + math.Exp(-float64(x)))
	tol := sigmoidMaxRelErr * want
	if x < -87 || x > 87 {
		tol = 1e-37
	}
	for _, c := range []struct {
		where string
		got   float32
	}{{"vector body", v[0]}, {"tail", v[8]}, {"scalar twin", one[0]}} {
		got := float64(c.got)
		if math.IsNaN(want) != math.IsNaN(got) || math.Abs(got-want) > tol {
			t.Fatalf("sigmoid32(%v) = %v (%s), want %v ± %g", x, got, c.where, want, tol)
		}
	}
}

func FuzzSigmoid32(f *testing.F) {
	for _, x := range fastMathSeeds {
		f.Add(x)
	}
	f.Fuzz(checkSigmoid32)
}

func FuzzTanh32(f *testing.F) {
	for _, x := range fastMathSeeds {
		f.Add(x)
	}
	f.Fuzz(checkTanh32)
}

func FuzzExp32(f *testing.F) {
	for _, x := range fastMathSeeds {
		f.Add(x)
	}
	f.Fuzz(checkExp32)
}

func FuzzErf32(f *testing.F) {
	for _, x := range fastMathSeeds {
		f.Add(x)
	}
	f.Fuzz(checkErf32)
}

// TestFastMathGrid sweeps the ranges that matter densely (the fuzz seeds
// pin the edges).
func TestFastMathGrid(t *testing.T) {
	for i := -200000; i <= 200000; i++ {
		x := float32(i) * 5e-5 // [-10, 10]
		checkTanh32(t, x)
		checkErf32(t, x)
		checkSigmoid32(t, x*9)
		checkExp32(t, x*9) // [-90, 90]
	}
}

// TestExpShiftSum checks the fused exp-and-sum against a naive float64 loop.
func TestExpShiftSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	src := make([]float32, 4097)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * 5)
	}
	dst := make([]float32, len(src))
	got := expShiftSum(dst, src, 3)
	var want float64
	for i, x := range src {
		e := math.Exp(float64(x - 3)) // the shift is a float32 subtraction, as in PyTorch
		want += e
		if math.Abs(float64(dst[i])-e) > 2*expMaxRelErr*e+1e-45 {
			t.Fatalf("dst[%d] = %v, want %v", i, dst[i], e)
		}
	}
	if math.Abs(got-want) > 2*expMaxRelErr*want {
		t.Fatalf("sum %v, want %v", got, want)
	}
}

// TestKernelsDoNotAllocate guards the zero-allocation hot path.
func TestKernelsDoNotAllocate(t *testing.T) {
	v := make([]float32, 1024)
	w := make([]float64, 1024)
	for name, f := range map[string]func(){
		"vtanh32":     func() { vtanh(v) },
		"vexp32":      func() { vexp(v) },
		"vsigmoid32":  func() { vsigmoid(v) },
		"verf32":      func() { verf(v) },
		"vtanh64":     func() { vtanh(w) },
		"expShiftSum": func() { expShiftSum(v, v, 0) },
	} {
		if a := testing.AllocsPerRun(10, f); a != 0 {
			t.Errorf("%s allocates %v times", name, a)
		}
	}
}

func TestMaxOf(t *testing.T) {
	for n := 1; n < 10; n++ {
		for at := range n {
			v := make([]float32, n)
			for i := range v {
				v[i] = -float32(i)
			}
			v[at] = 5
			if m := maxOf(v); m != 5 {
				t.Fatalf("maxOf(%v) = %v", v, m)
			}
		}
	}
}

func TestColSums(t *testing.T) {
	const n, d = 37, 70
	src := gradcheck.Rand(5, 1, n, d).Data().([]float64)
	dst := make([]float64, d)
	colSums(dst, src, n, d, make([]float64, d))
	for j := range d {
		var s float64
		for r := range n {
			s += src[r*d+j]
		}
		if math.Abs(dst[j]-s) > 1e-12 {
			t.Fatalf("column %d: %v, want %v", j, dst[j], s)
		}
	}
}

// The helpers below are shared by the op tests of this package.

// gateKinds are the gate patterns every gated op is checked with: fully
// open, partly open with exact zeros, fully closed.
var gateKinds = []string{"dense", "ones", "partial", "zeros"}

// gateValue returns an (n, g) gate of the given kind (nil for "dense").
func gateValue(kind string, n, g int) *tensor.Dense {
	if kind == "dense" {
		return nil
	}
	v := gradcheck.Rand(77, 1, n, g)
	d := v.Data().([]float64)
	for i := range d {
		switch kind {
		case "ones":
			d[i] = 1
		case "zeros":
			d[i] = 0
		case "partial":
			if i%3 == 0 {
				d[i] = 0
			} else {
				d[i] = 0.25 + math.Abs(d[i])/2
			}
		}
	}
	return v
}

// evalResult is what evalGraph returns: the output and the gradients of
// the checked inputs, as float64.
type evalResult struct {
	out   []float64
	grads [][]float64
}

// evalGraph builds fn in dtype dt on the inputs (converted from float64),
// projects its output to a scalar with the same fixed weights as
// gradcheck.Check, differentiates with respect to the checked inputs and
// runs the machine runs times.
func evalGraph(t testing.TB, dt tensor.Dtype, ins []gradcheck.Input, fn gradcheck.BuildFunc, runs int) (evalResult, error) {
	t.Helper()
	g := G.NewGraph()
	nodes := make([]*G.Node, len(ins))
	var wrt G.Nodes
	for i, in := range ins {
		v := convertTensor(in.Value, dt)
		nodes[i] = G.NewTensor(g, dt, v.Dims(), G.WithShape(v.Shape()...), G.WithValue(v), G.WithName(in.Name))
		if in.Check {
			wrt = append(wrt, nodes[i])
		}
	}
	out, err := fn(g, nodes)
	if err != nil {
		return evalResult{}, err
	}
	var outVal G.Value
	G.Read(out, &outVal)
	loss := out
	if !out.IsScalar() {
		rng := rand.New(rand.NewPCG(0, 99))
		w := make([]float64, out.Shape().TotalSize())
		for i := range w {
			w[i] = rng.NormFloat64()
		}
		wv := convertTensor(tensor.New(tensor.WithShape(out.Shape()...), tensor.WithBacking(w)), dt)
		wn := G.NewTensor(g, dt, out.Dims(), G.WithShape(out.Shape()...), G.WithValue(wv), G.WithName("projection"))
		if loss, err = G.HadamardProd(out, wn); err != nil {
			return evalResult{}, err
		}
		if loss, err = G.Sum(loss); err != nil {
			return evalResult{}, err
		}
	}
	var grads G.Nodes
	if len(wrt) > 0 {
		if grads, err = G.Grad(loss, wrt...); err != nil {
			return evalResult{}, err
		}
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	for range runs {
		m.Reset()
		if err := m.RunAll(); err != nil {
			return evalResult{}, err
		}
	}
	res := evalResult{out: toF64(outVal)}
	for _, gn := range grads {
		res.grads = append(res.grads, toF64(gn.Value()))
	}
	return res, nil
}

// convertTensor returns a copy of a float64 tensor in dtype dt.
func convertTensor(v *tensor.Dense, dt tensor.Dtype) *tensor.Dense {
	src := v.Data().([]float64)
	if dt == tensor.Float64 {
		return tensor.New(tensor.WithShape(v.Shape()...), tensor.WithBacking(append([]float64(nil), src...)))
	}
	f := make([]float32, len(src))
	for i, x := range src {
		f[i] = float32(x)
	}
	return tensor.New(tensor.WithShape(v.Shape()...), tensor.WithBacking(f))
}

// toF64 copies a value's data as float64.
func toF64(v G.Value) []float64 {
	switch d := v.Data().(type) {
	case float32:
		return []float64{float64(d)}
	case float64:
		return []float64{d}
	case []float32:
		r := make([]float64, len(d))
		for i, x := range d {
			r[i] = float64(x)
		}
		return r
	case []float64:
		return append([]float64(nil), d...)
	}
	panic(fmt.Sprintf("toF64: %T", v.Data()))
}

// closeTo reports the first element where got and want differ by more
// than tol times the largest magnitude in want, or "" when none does.
func closeTo(got, want []float64, tol float64) string {
	if len(got) != len(want) {
		return fmt.Sprintf("length %d, want %d", len(got), len(want))
	}
	scale := 0.0
	for _, w := range want {
		scale = max(scale, math.Abs(w))
	}
	scale = max(scale, 1e-20)
	for i := range got {
		if !(math.Abs(got[i]-want[i]) <= tol*scale) {
			return fmt.Sprintf("element %d: %.9g, want %.9g (scale %.3g, tol %g)", i, got[i], want[i], scale, tol)
		}
	}
	return ""
}

// checkFloat32 runs fn in float32 and float64 and compares the outputs and
// gradients: the float32 kernels (fast math included) must agree with the
// finite-difference-checked float64 ones.
func checkFloat32(t *testing.T, ins []gradcheck.Input, fn gradcheck.BuildFunc, tol float64) {
	t.Helper()
	r64, err := evalGraph(t, tensor.Float64, ins, fn, 1)
	if err != nil {
		t.Fatal(err)
	}
	r32, err := evalGraph(t, tensor.Float32, ins, fn, 1)
	if err != nil {
		t.Fatal(err)
	}
	if msg := closeTo(r32.out, r64.out, tol); msg != "" {
		t.Errorf("float32 output: %s", msg)
	}
	k := 0
	for _, in := range ins {
		if !in.Check {
			continue
		}
		if msg := closeTo(r32.grads[k], r64.grads[k], tol); msg != "" {
			t.Errorf("float32 gradient of %s: %s", in.Name, msg)
		}
		k++
	}
}

// denseValue wraps float64 data as a tensor of the given shape.
func denseValue(data []float64, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

// benchTensor returns a float32 tensor of normal values, deterministic in seed.
func benchTensor(seed uint64, scale float64, shape ...int) *tensor.Dense {
	return convertTensor(gradcheck.Rand(seed, scale, shape...), tensor.Float32)
}

// BenchmarkFastMath compares each float32 kernel with its naive twin (the
// math package through float64) on one 4096-element row.
func BenchmarkFastMath(b *testing.B) {
	const n = 4096
	src := benchTensor(1, 3, n).Data().([]float32)
	v := make([]float32, n)
	naive := func(f func(float64) float64) func([]float32) {
		return func(v []float32) {
			for i, x := range v {
				v[i] = float32(f(float64(x)))
			}
		}
	}
	for _, c := range []struct {
		name        string
		fast, naive func([]float32)
	}{
		{"exp", exp32s, naive(math.Exp)},
		{"exp-scalar", exp32sGo, naive(math.Exp)},
		{"sigmoid", sigmoid32s, naive(func(x float64) float64 { return 1 / (1 + math.Exp(-x)) })},
		{"sigmoid-scalar", sigmoid32sGo, naive(func(x float64) float64 { return 1 / (1 + math.Exp(-x)) })},
		{"tanh", tanh32s, naive(math.Tanh)},
		{"erf", erf32s, naive(math.Erf)},
	} {
		for _, k := range []struct {
			name string
			f    func([]float32)
		}{{"fast", c.fast}, {"math", c.naive}} {
			b.Run(fmt.Sprintf("%s/%s/n=%d", c.name, k.name, n), func(b *testing.B) {
				for b.Loop() {
					copy(v, src)
					k.f(v)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
			})
		}
	}
}

// TestOpsAtSplitSizes runs every op of this package at sizes where
// parallel.For splits rows (or columns, or mask blocks) across workers, in
// float32 and float64; run with -race it also checks the splits for races.
func TestOpsAtSplitSizes(t *testing.T) {
	const n, d, v = 96, 512, 1024 // n·d and n·v are several minChunks
	targets := make([]float64, n)
	ids := make([]float64, n)
	for i := range targets {
		targets[i], ids[i] = float64(i*37%v), float64(i*11%v)
	}
	targets[3] = ignoreHF
	x := gradcheck.Rand(1, 2, n, d)
	w, b := gradcheck.Rand(2, 1, d), gradcheck.Rand(3, 1, d)
	in := func(check bool, vals ...*tensor.Dense) []gradcheck.Input {
		ins := make([]gradcheck.Input, len(vals))
		for i, val := range vals {
			ins[i] = gradcheck.Input{Name: fmt.Sprint("in", i), Value: val, Check: check}
		}
		return ins
	}
	ceIns := ceInputs(gradcheck.Rand(4, 3, n, v).Data().([]float64), targets, v)
	embIns := []gradcheck.Input{{Name: "table", Value: gradcheck.Rand(5, 1, v, 64), Check: true}, {Name: "ids", Value: denseValue(ids, n)}}
	biasIns, biasBuild := biasActCase(ActGELUTanh, n, d, 32, 2, true, "partial")
	swiIns, swiBuild := swiGLUCase(n, d, 32, 2, "partial")
	for name, c := range map[string]struct {
		ins   []gradcheck.Input
		build gradcheck.BuildFunc
	}{
		"LayerNorm":  {in(true, x, w, b), buildLayerNorm(1e-5)},
		"RMSNorm":    {in(true, x, w), buildRMSNorm(1e-6)},
		"CE":         {ceIns, buildCE(1)},
		"Embedding":  {embIns, buildEmbedding},
		"BiasAct":    {biasIns, biasBuild},
		"SwiGLU":     {swiIns, swiBuild},
		"SelectRows": {in(true, x), buildSelectRows(8)},
	} {
		t.Run(name, func(t *testing.T) { checkFloat32(t, c.ins, c.build, 1e-5) })
	}
}

// TestSoftmaxRowMatchesAttention: the engine's fast softmax agrees with
// attention's float64 one to float32 rounding.
func TestSoftmaxRowMatchesAttention(t *testing.T) {
	for _, n := range []int{1, 7, 128} {
		row := make([]float32, 130)
		for i := range row {
			row[i] = float32(math.Sin(float64(i)*1.7)) * 12
		}
		want := append([]float32(nil), row...)
		softmaxRow[float32](want, nil, true, n-1)
		SoftmaxRow(row, n)
		for i := range row {
			if d := math.Abs(float64(row[i] - want[i])); d > 1e-6 {
				t.Fatalf("n %d: p[%d] = %v, attention's %v", n, i, row[i], want[i])
			}
		}
	}
}

// TestGELUStepsMatchLoops: the vectorised steps of the float32 tanh GELU
// (its sigmoid argument, then (x + b)·a·s) equal the scalar loops bit for
// bit, at every length around the 8-wide blocking.
func TestGELUStepsMatchLoops(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for n := 0; n < 40; n++ {
		x, b, a, y := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		for j := range x {
			x[j], b[j] = float32(r.NormFloat64()*3), float32(r.NormFloat64())
		}
		geluArg32(a, x, b)
		for j := range x {
			u := x[j] + b[j]
			if want := 2 * geluK * u * (1 + geluC*u*u); a[j] != want {
				t.Fatalf("n %d: argument[%d] = %v, loop %v", n, j, a[j], want)
			}
		}
		const s = 0.7
		biasMul32(y, x, b, a, s)
		for j := range x {
			if want := (x[j] + b[j]) * a[j] * s; y[j] != want {
				t.Fatalf("n %d: product[%d] = %v, loop %v", n, j, y[j], want)
			}
		}
	}
}
