package metrics

import "github.com/sparsetune/sparsetune/nn"

// Accumulator gathers an evaluation's figures batch by batch: the loss of
// every counted target (a classifier's example, a language model's
// predicted token), a classifier's predictions against its labels, and, for
// a hard-masked model, the compute its masks spent. Metrics reads them out.
//
// The count of an evaluation is the number of targets whose loss was
// added (AddRow, AddToken, AddLoss); AddPrediction counts toward accuracy
// and F1 only.
type Accumulator struct {
	task  nn.Task
	conf  [][]int // conf[true][predicted] (classification)
	nll   float64 // summed cross-entropy of the counted targets
	count int
	units *units // nil until a unit's compute is added
	// measured is compute measured elsewhere (SetCompute), used when no
	// unit was added.
	measured    float64
	hasMeasured bool
}

// New returns an empty accumulator for a model of task with labels
// classes (classification; ignored for a language model).
func New(task nn.Task, labels int) *Accumulator {
	a := &Accumulator{task: task}
	if task == nn.Classification {
		a.conf = make([][]int, labels)
		for i := range a.conf {
			a.conf[i] = make([]int, labels)
		}
	}
	return a
}

// AddRow adds a classifier's logits for one example of the given label:
// its prediction (the argmax) and its cross-entropy.
func (a *Accumulator) AddRow(logits []float32, label int) {
	a.AddPrediction(logits, label)
	a.nll -= LogProb(logits, label)
	a.count++
}

// AddPrediction adds a classifier's prediction for one example of the
// given label (the argmax of its logits) without its loss, which the
// caller adds with AddLoss (the training graph computes it).
func (a *Accumulator) AddPrediction(logits []float32, label int) {
	a.conf[label][Argmax(logits)]++
}

// AddToken adds a language model's next-token logits and the token that
// followed: that token's cross-entropy.
func (a *Accumulator) AddToken(logits []float32, target int) {
	a.nll -= LogProb(logits, target)
	a.count++
}

// AddLoss adds n targets whose mean cross-entropy is mean (a batch's loss
// as the training graph computes it).
func (a *Accumulator) AddLoss(mean float64, n int) {
	a.nll += mean * float64(n)
	a.count += n
}

// Count is the number of targets counted so far.
func (a *Accumulator) Count() int { return a.count }

// SetCompute records a compute measured elsewhere (the inference engine's
// Stats): Metrics reports it as a sparse model's compute.
func (a *Accumulator) SetCompute(c float64) {
	a.measured, a.hasMeasured = c, true
}

// Metrics returns the figures accumulated so far. With nothing counted
// the loss is NaN: callers report an empty evaluation as an error first.
func (a *Accumulator) Metrics() Metrics {
	m := Metrics{Task: a.task, Loss: a.nll / float64(a.count), Count: a.count}
	if a.task == nn.Classification {
		m.Accuracy, m.F1 = accuracyF1(a.conf)
	}
	switch {
	case a.units != nil:
		a.units.finish(&m)
	case a.hasMeasured:
		m.Sparse, m.Compute = true, a.measured
	}
	return m
}

// accuracyF1 returns accuracy and macro-F1 from a confusion matrix. A label
// with no true and no predicted examples has no F1 (0/0): macro-F1 averages
// over the labels present in truth or prediction.
func accuracyF1(conf [][]int) (acc, f1 float64) {
	total, correct := 0, 0
	var f1s []float64
	for c := range conf {
		tp, fp, fn := conf[c][c], 0, 0
		for o := range conf {
			total += conf[c][o]
			if o != c {
				fn += conf[c][o]
				fp += conf[o][c]
			}
		}
		correct += tp
		if tp+fp+fn > 0 {
			f1s = append(f1s, 2*float64(tp)/float64(2*tp+fp+fn))
		}
	}
	for _, f := range f1s {
		f1 += f / float64(len(f1s))
	}
	return float64(correct) / float64(total), f1
}
