package ops

import (
	"fmt"
	"math"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/gradcheck"
)

const ignoreHF = -100 // Hugging Face's ignore_index

// naiveLSE returns a row's maximum m and log Σ exp(l - m), so that
// log Σ exp(l) = m + logS, in float64.
func naiveLSE(row []float64) (m, logS float64) {
	m = math.Inf(-1)
	for _, l := range row {
		m = max(m, l)
	}
	var s float64
	for _, l := range row {
		s += math.Exp(l - m)
	}
	return m, math.Log(s)
}

// naiveCE is the definition in float64: the mean over counted rows of
// log Σ exp(l) - l[target], with the max subtracted for range.
func naiveCE(logits, targets []float64, v, ignore int) float64 {
	var sum float64
	count := 0
	for r, t := range targets {
		if int(t) == ignore {
			continue
		}
		row := logits[r*v : (r+1)*v]
		m, logS := naiveLSE(row)
		sum += m + logS - row[int(t)]
		count++
	}
	if count == 0 {
		return 0
	}
	return sum / float64(count)
}

func buildCE(scale float64) gradcheck.BuildFunc {
	return func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		l, err := SoftmaxCrossEntropy(in[0], in[1], ignoreHF)
		if err != nil || scale == 1 {
			return l, err
		}
		return G.Mul(l, G.NewConstant(scale))
	}
}

func ceInputs(logits, targets []float64, v int) []gradcheck.Input {
	return []gradcheck.Input{
		{Name: "logits", Value: denseValue(logits, len(targets), v), Check: true},
		{Name: "targets", Value: denseValue(targets, len(targets))},
	}
}

// TestSoftmaxCrossEntropyValues checks rows by hand: -log softmax([0,1,2])[2]
// = log(1 + e^-1 + e^-2); [100,0,0] with target 0 costs log(1 + 2e^-100) ≈
// 0 and with target 1 costs 100. Gorgonia's stock softmax gives NaN for the
// [100,0,0] rows after [0,1,2]; here both dtypes must be finite and exact.
func TestSoftmaxCrossEntropyValues(t *testing.T) {
	logits := []float64{0, 1, 2, 100, 0, 0, 100, 0, 0, 5, 5, 5}
	targets := []float64{2, 0, 1, ignoreHF}
	want := (math.Log(1+math.Exp(-1)+math.Exp(-2)) + math.Log1p(2*math.Exp(-100)) + 100) / 3
	if got := naiveCE(logits, targets, 3, ignoreHF); math.Abs(got-want) > 1e-14 {
		t.Fatalf("naive reference %v, want %v", got, want)
	}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		res, err := evalGraph(t, dt, ceInputs(logits, targets, 3), buildCE(1), 1)
		if err != nil {
			t.Fatal(err)
		}
		tol := 1e-15
		if dt == tensor.Float32 {
			tol = 1e-7
		}
		if msg := closeTo(res.out, []float64{want}, tol); msg != "" {
			t.Errorf("%v loss: %s", dt, msg)
		}
		// d/dl = (softmax - onehot)/3 on counted rows, 0 on the ignored one.
		e := []float64{1, math.E, math.E * math.E}
		s := e[0] + e[1] + e[2]
		p := 1 / (1 + 2*math.Exp(-100))
		q := math.Exp(-100) * p
		wantGrad := []float64{e[0] / s / 3, e[1] / s / 3, (e[2]/s - 1) / 3, (p - 1) / 3, q / 3, q / 3, p / 3, (q - 1) / 3, q / 3, 0, 0, 0}
		if msg := closeTo(res.grads[0], wantGrad, tol); msg != "" {
			t.Errorf("%v gradient: %s", dt, msg)
		}
	}
}

// TestSoftmaxCrossEntropyNaN checks that a NaN logit anywhere in a counted
// row makes the loss NaN, for the training loop to catch.
func TestSoftmaxCrossEntropyNaN(t *testing.T) {
	for at := range 6 {
		logits := []float64{0, 1, 2, 3, 4, 5}
		logits[at] = math.NaN()
		res, err := evalGraph(t, tensor.Float32, ceInputs(logits, []float64{1}, 6), buildCE(1), 1)
		if err != nil {
			t.Fatal(err)
		}
		if !math.IsNaN(res.out[0]) {
			t.Errorf("NaN at %d: loss %v", at, res.out[0])
		}
	}
}

func TestSoftmaxCrossEntropyAllIgnored(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		res, err := evalGraph(t, dt, ceInputs([]float64{1, 2, 3, 4}, []float64{ignoreHF, ignoreHF}, 2), buildCE(1), 2)
		if err != nil {
			t.Fatal(err)
		}
		if res.out[0] != 0 {
			t.Errorf("%v: loss %v, want 0", dt, res.out[0])
		}
		for i, g := range res.grads[0] {
			if g != 0 {
				t.Errorf("%v: gradient[%d] = %v, want 0", dt, i, g)
			}
		}
	}
}

func TestSoftmaxCrossEntropyGradients(t *testing.T) {
	logits := gradcheck.Rand(1, 3, 5, 7).Data().([]float64)
	targets := []float64{3, ignoreHF, 0, 6, 3}
	for _, scale := range []float64{1, -2.5} { // the incoming gradient scales d logits
		if err := gradcheck.Check(ceInputs(logits, targets, 7), buildCE(scale), gradcheck.Options{}); err != nil {
			t.Fatalf("scale %g: %v", scale, err)
		}
	}
}

func TestSoftmaxCrossEntropyFloat32(t *testing.T) {
	const n, v = 16, 300
	targets := make([]float64, n)
	for i := range targets {
		targets[i] = float64(i * 37 % v)
	}
	targets[5] = ignoreHF
	checkFloat32(t, ceInputs(gradcheck.Rand(2, 4, n, v).Data().([]float64), targets, v), buildCE(1), 1e-6)
}

// TestSoftmaxCrossEntropyRepeatedRuns checks that reusing the softmax buffer
// for the gradient leaves later runs unaffected.
func TestSoftmaxCrossEntropyRepeatedRuns(t *testing.T) {
	ins := ceInputs(gradcheck.Rand(3, 2, 4, 9).Data().([]float64), []float64{1, 8, ignoreHF, 0}, 9)
	once, err := evalGraph(t, tensor.Float32, ins, buildCE(1), 1)
	if err != nil {
		t.Fatal(err)
	}
	thrice, err := evalGraph(t, tensor.Float32, ins, buildCE(1), 3)
	if err != nil {
		t.Fatal(err)
	}
	if msg := closeTo(thrice.out, once.out, 0); msg != "" {
		t.Fatalf("loss: %s", msg)
	}
	if msg := closeTo(thrice.grads[0], once.grads[0], 0); msg != "" {
		t.Fatalf("gradient: %s", msg)
	}
}

func TestSoftmaxCrossEntropyRejectsBadTargets(t *testing.T) {
	for _, c := range []struct {
		target float64
		want   string
	}{{3, "target 3 at row 1"}, {-1, "target -1 at row 1"}, {1.5, "target 1.5 at row 1"}} {
		_, err := evalGraph(t, tensor.Float64, ceInputs([]float64{1, 2, 3, 4, 5, 6}, []float64{0, c.target}, 3), buildCE(1), 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("target %v: error %v, want one containing %q", c.target, err, c.want)
		}
	}
}

func TestCrossEntropyCount(t *testing.T) {
	g := G.NewGraph()
	l := G.NewTensor(g, tensor.Float32, 2, G.WithShape(3, 4), G.WithValue(convertTensor(gradcheck.Rand(1, 1, 3, 4), tensor.Float32)))
	tg := G.NewTensor(g, tensor.Float32, 1, G.WithShape(3), G.WithValue(tensor.New(tensor.WithBacking([]float32{1, 0, 0}))))
	loss, err := SoftmaxCrossEntropy(l, tg, 0) // pad id 0 is ignored
	if err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	if c := CrossEntropyCount(loss); c != 1 {
		t.Fatalf("count %d, want 1", c)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("CrossEntropyCount of a non-loss node did not panic")
		}
	}()
	CrossEntropyCount(l)
}

func TestLogSoftmaxRows(t *testing.T) {
	const n, v = 4, 700 // v spans several scratch chunks
	x := gradcheck.Rand(9, 5, n, v).Data().([]float64)
	copy(x[:3], []float64{0, 1, 2})
	x[v] = 100 // row 1 starts with the large logit
	want := make([]float64, n*v)
	for r := range n {
		row := x[r*v : (r+1)*v]
		m, logS := naiveLSE(row)
		for j, l := range row {
			want[r*v+j] = l - m - logS
		}
	}
	got := make([]float64, n*v)
	LogSoftmaxRows(got, x, n, v)
	if msg := closeTo(got, want, 1e-15); msg != "" {
		t.Fatalf("float64: %s", msg)
	}
	x32 := convertTensor(denseValue(x, n, v), tensor.Float32).Data().([]float32)
	LogSoftmaxRows(x32, x32, n, v) // in place
	if msg := closeTo(toF64(tensor.New(tensor.WithBacking(x32))), want, 1e-6); msg != "" {
		t.Fatalf("float32 in place: %s", msg)
	}
}

func BenchmarkSoftmaxCrossEntropy(b *testing.B) {
	const n, v = 1024, 4096
	logits := benchTensor(1, 3, n, v)
	tg := make([]float32, n)
	for i := range tg {
		tg[i] = float32(i * 7 % v)
	}
	targets := tensor.New(tensor.WithBacking(tg))
	fwd := &softmaxCE{base: newBase("bench"), ignore: ignoreHF}
	bwd := &softmaxCEGrad{base: newBase("bench"), fwd: fwd}
	one := G.NewF32(1)
	b.Run(fmt.Sprintf("N=%d,V=%d/fwd", n, v), func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(2 * 4 * n * v)
		for b.Loop() {
			fwd.Do(logits, targets)
		}
	})
	b.Run(fmt.Sprintf("N=%d,V=%d/fwd+bwd", n, v), func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(4 * 4 * n * v)
		for b.Loop() {
			loss, _ := fwd.Do(logits, targets)
			if _, err := bwd.Do(logits, targets, loss, one); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// tinyModel is a one-block language model built from this package's ops:
// tied embedding and output weights, pre-norm FFN with a gated tanh GELU,
// a residual add, dropout (off), RMSNorm and the loss. Shared nodes (the
// residual stream, the tied table) make gorgonia sum gradients from several
// ops, and the graph runs every fused backward op in one tape.
func tinyModel(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
	table, ids, targets := in[0], in[1], in[2]
	lnW, lnB, w1, b1, gate, w2, rmsW := in[3], in[4], in[5], in[6], in[7], in[8], in[9]
	h, err := Embedding(table, ids) // (N, D)
	if err != nil {
		return nil, err
	}
	x, err := LayerNorm(h, lnW, lnB, 1e-5)
	if err != nil {
		return nil, err
	}
	if x, err = MatMul(x, w1, false); err != nil { // (N, F)
		return nil, err
	}
	if x, err = BiasAct(x, b1, ActGELUTanh, gate, 4); err != nil {
		return nil, err
	}
	if x, err = MatMul(x, w2, false); err != nil { // (N, D)
		return nil, err
	}
	if x, err = Add(h, x); err != nil {
		return nil, err
	}
	s := NewDropoutState(1)
	s.SetTraining(false)
	if x, err = DropoutWith(x, 0.1, s); err != nil {
		return nil, err
	}
	if x, err = RMSNorm(x, rmsW, 1e-6); err != nil {
		return nil, err
	}
	logits, err := MatMul(x, table, true) // (N, V), tied to the embedding
	if err != nil {
		return nil, err
	}
	return SoftmaxCrossEntropy(logits, targets, ignoreHF)
}

func tinyModelInputs() []gradcheck.Input {
	const n, v, d, f = 6, 7, 4, 8
	return []gradcheck.Input{
		{Name: "table", Value: gradcheck.Rand(1, 1, v, d), Check: true},
		{Name: "ids", Value: denseValue([]float64{3, 0, 6, 3, 2, 5}, n)},
		{Name: "targets", Value: denseValue([]float64{0, 6, 3, ignoreHF, 5, 1}, n)},
		{Name: "ln.w", Value: gradcheck.Rand(2, 1, d), Check: true},
		{Name: "ln.b", Value: gradcheck.Rand(3, 1, d), Check: true},
		{Name: "w1", Value: gradcheck.Rand(4, 0.5, d, f), Check: true},
		{Name: "b1", Value: gradcheck.Rand(5, 0.5, f), Check: true},
		{Name: "gate", Value: gateValue("partial", n, f/4), Check: true},
		{Name: "w2", Value: gradcheck.Rand(6, 0.5, f, d), Check: true},
		{Name: "rms.w", Value: gradcheck.Rand(7, 1, d), Check: true},
	}
}

func TestTinyModelGradients(t *testing.T) {
	if err := gradcheck.Check(tinyModelInputs(), tinyModel, gradcheck.Options{}); err != nil {
		t.Fatal(err)
	}
}

// TestTinyModelRuns checks float32 against float64 through the whole graph
// and that repeated runs of one machine (buffers reused, gradient written
// over the saved exponentials) give the first run's loss and gradients.
func TestTinyModelRuns(t *testing.T) {
	checkFloat32(t, tinyModelInputs(), tinyModel, 1e-5)
	once, err := evalGraph(t, tensor.Float32, tinyModelInputs(), tinyModel, 1)
	if err != nil {
		t.Fatal(err)
	}
	thrice, err := evalGraph(t, tensor.Float32, tinyModelInputs(), tinyModel, 3)
	if err != nil {
		t.Fatal(err)
	}
	if msg := closeTo(thrice.out, once.out, 0); msg != "" {
		t.Fatalf("loss: %s", msg)
	}
	for i := range once.grads {
		if msg := closeTo(thrice.grads[i], once.grads[i], 0); msg != "" {
			t.Fatalf("gradient %d: %s", i, msg)
		}
	}
}
