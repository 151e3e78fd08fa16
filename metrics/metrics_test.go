package metrics

import (
	"math"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/nn"
)

// TestRows: LogSumExp is stable for large logits, Softmax sums to 1 and
// matches exp(LogProb), Argmax takes the first of equal maxima.
func TestRows(t *testing.T) {
	row := []float32{1000, 999, 998} // exp(1000) overflows float64
	lse := LogSumExp(row)
	want := 1000 + math.Log(1+math.Exp(-1)+math.Exp(-2))
	if math.Abs(lse-want) > 1e-9 {
		t.Errorf("LogSumExp %v, want %v", lse, want)
	}
	p := Softmax(row)
	var sum float64
	for i, v := range p {
		sum += v
		if math.Abs(v-math.Exp(LogProb(row, i))) > 1e-12 {
			t.Errorf("Softmax[%d] %v, exp(LogProb) %v", i, v, math.Exp(LogProb(row, i)))
		}
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Errorf("Softmax sums to %v", sum)
	}
	if got := Argmax([]float32{0, 3, 1, 3}); got != 1 {
		t.Errorf("Argmax of a tie: %d, want the first, 1", got)
	}
	if got := Argmax([]float32{float32(math.Inf(-1)), -5}); got != 1 {
		t.Errorf("Argmax: %d, want 1", got)
	}
}

// TestClassification: AddRow's figures by hand: accuracy, macro-F1 over
// the labels present and the mean cross-entropy; AddPrediction with the
// graph's AddLoss gives the same accuracy and F1 and the loss it was given.
func TestClassification(t *testing.T) {
	rows := [][]float32{{2, 0, 0}, {0, 2, 0}, {2, 0, 0}, {0, 0, 1}}
	labels := []int{0, 1, 1, 2} // predictions 0, 1, 0, 2
	a, b := New(nn.Classification, 3), New(nn.Classification, 3)
	var nll float64
	for i, r := range rows {
		a.AddRow(r, labels[i])
		b.AddPrediction(r, labels[i])
		nll -= LogProb(r, labels[i])
	}
	b.AddLoss(0.25, 4)
	m := a.Metrics()
	// Label 0: tp 1, fp 1, fn 0 → 2/3; label 1: tp 1, fn 1 → 2/3; label 2: 1.
	if m.Count != 4 || m.Accuracy != 0.75 || math.Abs(m.F1-(2.0/3+2.0/3+1)/3) > 1e-12 || math.Abs(m.Loss-nll/4) > 1e-12 {
		t.Errorf("AddRow: %+v, want count 4, accuracy 0.75, F1 %.4f, loss %.4f", m, (2.0/3+2.0/3+1)/3, nll/4)
	}
	if mb := b.Metrics(); mb.Accuracy != m.Accuracy || mb.F1 != m.F1 || mb.Loss != 0.25 || mb.Count != 4 {
		t.Errorf("AddPrediction+AddLoss: %+v, want AddRow's accuracy and F1, loss 0.25, count 4", mb)
	}
	if m.Main() != m.Accuracy || m.Name() != "accuracy" || m.Sparse {
		t.Errorf("main %v (%s), sparse %v", m.Main(), m.Name(), m.Sparse)
	}
	// A label absent from truth and prediction has no F1 to average.
	c := New(nn.Classification, 3)
	c.AddRow([]float32{1, 0, 0}, 0)
	if m := c.Metrics(); m.F1 != 1 {
		t.Errorf("F1 with absent labels %v, want 1", m.F1)
	}
}

// TestLanguageModel: AddToken's loss is the mean next-token cross-entropy,
// Main its exponent (perplexity); the line and record say perplexity.
func TestLanguageModel(t *testing.T) {
	a := New(nn.CausalLM, 0)
	a.AddToken([]float32{0, 0}, 1)       // log 2
	a.AddToken([]float32{0, 0, 0, 0}, 3) // log 4
	if m := a.Metrics(); m.Count != 2 || math.Abs(m.Loss-1.5*math.Log(2)) > 1e-12 || math.Abs(m.Main()-math.Pow(2, 1.5)) > 1e-9 {
		t.Errorf("%+v: want count 2, loss %.6f, perplexity %.6f", m, 1.5*math.Log(2), math.Pow(2, 1.5))
	}
	m := a.Metrics()
	if r := m.Record(7, "valid"); r["perplexity"] != m.Main() || r["step"] != 7 || r["split"] != "valid" || r["accuracy"] != nil || r["compute"] != nil {
		t.Errorf("record %v", r)
	}
	if s := m.String(); !strings.Contains(s, "perplexity") || !strings.Contains(s, "2 tokens") || strings.Contains(s, "compute") {
		t.Errorf("line %q", s)
	}
	if New(nn.CausalLM, 0).Count() != 0 || !math.IsNaN(New(nn.CausalLM, 0).Metrics().Loss) {
		t.Errorf("an empty accumulator: want count 0 and a NaN loss")
	}
}

// TestCompute: the units a hard-masked model keeps, by layer, with the
// routers' cost; a routed unit never on is dead, one on for every token
// always on; an unrouted unit is computed and counted as neither.
func TestCompute(t *testing.T) {
	a := New(nn.Classification, 2)
	a.AddRow([]float32{1, 0}, 0)
	for tok := range 2 {
		a.AddMaskedToken(1)                   // router cost 1 per token
		a.AddUnit(0, 0, 0, true, true, 4)     // layer 0 head 0: always on
		a.AddUnit(0, 0, 1, true, false, 4)    // head 1: dead
		a.AddUnit(0, 1, 0, true, tok == 0, 2) // group 0: on for one token
		a.AddUnit(1, 0, 0, false, false, 10)  // layer 1: unrouted, always computed
		a.AddUnit(1, 1, 0, true, tok == 1, 6) // layer 1 group 0: one token
		a.AddUnit(1, 1, 1, true, false, 6)    // dead
	}
	m := a.Metrics()
	// Layer 0: active 4+4+2 = 10 of 20; layer 1: 20+6 = 26 of 44; routers 2.
	if !m.Sparse || m.Dead != 2 || m.AlwaysOn != 1 || len(m.LayerCompute) != 2 ||
		m.LayerCompute[0] != 0.5 || m.LayerCompute[1] != 26.0/44 || m.Compute != (2+10+26)/64.0 {
		t.Errorf("%+v: want compute %.4f, layers 0.5 and %.4f, 2 dead, 1 always on", m, 38/64.0, 26.0/44)
	}
	r := m.Record(3, "test")
	for _, k := range []string{"compute", "layer_compute", "dead_units", "always_on_units", "accuracy", "f1"} {
		if _, ok := r[k]; !ok {
			t.Errorf("record lacks %q: %v", k, r)
		}
	}
	if s := m.String(); !strings.Contains(s, "compute 0.5938 | dead 2 | always-on 1") {
		t.Errorf("line %q", s)
	}
	// Compute measured elsewhere (the engine) is reported as it is.
	b := New(nn.CausalLM, 0)
	b.AddToken([]float32{0, 1}, 1)
	b.SetCompute(0.42)
	if m := b.Metrics(); !m.Sparse || m.Compute != 0.42 || m.LayerCompute != nil {
		t.Errorf("SetCompute: %+v", m)
	}
}
