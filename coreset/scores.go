package coreset

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/sparsetune/sparsetune/metrics"
)

// ScoreKind names a difficulty score computed from training dynamics. Every
// kind is oriented so that a higher score means a harder example.
type ScoreKind int

const (
	// AUM is the negated area under the margin (Pleiss, Zhang, Elenberg &
	// Weinberger 2020, "Identifying Mislabeled Data using the Area Under the
	// Margin Ranking", NeurIPS, eq. 1–2). With z^(t) the logits in recorded
	// epoch t, y the label and T the number of recorded epochs,
	//
	//	M^(t) = z_y^(t) − max_{i≠y} z_i^(t),   AUM = (1/T) Σ_t M^(t),
	//
	// and the score is −AUM: a low (negative) margin marks a hard or
	// mislabelled example. Pleiss et al. record the margin after every
	// minibatch step; here it is one value per recorded epoch.
	AUM ScoreKind = iota + 1
	// Forgetting counts forgetting events (Toneva, Sordoni, Combes,
	// Trischler, Bengio & Gordon 2019, "An Empirical Study of Example
	// Forgetting during Deep Neural Network Learning", ICLR): with
	// acc^(t) = 1[argmax_i z_i^(t) = y], an event is a pair of consecutive
	// recorded epochs with acc^(t) = 1 and acc^(t+1) = 0. Examples never
	// predicted correctly in any recorded epoch are "unforgettable" only in
	// the wrong sense: Toneva et al. rank them as forgotten infinitely often,
	// so here they score (largest count among the learned examples) + 1,
	// strictly harder than every learned example. The argmax takes the
	// lowest class index among equal logits (as torch.argmax does).
	Forgetting
	// EL2N is the error L2 norm (Paul, Ganguli & Dziugaite 2021, "Deep
	// Learning on a Data Diet: Finding Important Examples Early in
	// Training", NeurIPS):
	//
	//	EL2N = (1/k) Σ_{t<k} ‖softmax(z^(t)) − onehot(y)‖₂,
	//
	// over the example's first k recorded epochs. Paul et al. score early in
	// training (epoch 20 of 200) and average over 10 runs; a fine-tuning run
	// is a few epochs, so the default k = 1 takes the first recorded epoch.
	EL2N
	// Entropy is the mean over recorded epochs of the entropy (in nats) of
	// the predicted distribution, H = −Σ_i p_i log p_i with
	// p = softmax(z^(t)): uncertainty sampling, as used for data selection
	// by Coleman et al. 2020 ("Selection via Proxy: Efficient Data
	// Selection for Deep Learning", ICLR). It ignores the label, so it is
	// defined for unlabelled data too.
	Entropy
)

// DefaultEL2NEpochs is the k of EL2N when Scores is given 0: the first
// recorded epoch, the earliest point of a short fine-tuning run.
const DefaultEL2NEpochs = 1

var scoreNames = map[ScoreKind]string{AUM: "aum", Forgetting: "forgetting", EL2N: "el2n", Entropy: "entropy"}

// String is the kind's lower-case name, as ParseScoreKind reads it.
func (k ScoreKind) String() string {
	if s, ok := scoreNames[k]; ok {
		return s
	}
	return fmt.Sprintf("ScoreKind(%d)", int(k))
}

// ParseScoreKind reads "aum", "forgetting", "el2n" or "entropy"
// (case-insensitive), for configs and flags.
func ParseScoreKind(s string) (ScoreKind, error) {
	for k, name := range scoreNames {
		if strings.EqualFold(s, name) {
			return k, nil
		}
	}
	return 0, fmt.Errorf("coreset: unknown score %q: want aum, forgetting, el2n or entropy", s)
}

// Scores computes one difficulty score per recorded example (higher =
// harder; see ScoreKind for each formula). el2nEpochs is the k of EL2N (0
// means DefaultEL2NEpochs) and is ignored by the other kinds.
//
// Errors: an empty table, an unknown kind, a negative el2nEpochs, and for
// EL2N an example recorded in fewer than k epochs (naming it).
func (d *Dynamics) Scores(kind ScoreKind, el2nEpochs int) (map[string]float64, error) {
	if len(d.ex) == 0 {
		return nil, errors.New("coreset: scores: no examples recorded")
	}
	if el2nEpochs < 0 {
		return nil, fmt.Errorf("coreset: scores: negative EL2N epochs %d", el2nEpochs)
	}
	if el2nEpochs == 0 {
		el2nEpochs = DefaultEL2NEpochs
	}
	out := make(map[string]float64, len(d.ex))
	switch kind {
	case AUM:
		for id, s := range d.ex {
			// 0 − x rather than −x, so that a zero margin scores +0, not −0.
			out[id] = 0 - meanOver(s.logits, func(z []float32) float64 { return margin(z, s.label) })
		}
	case Entropy:
		for id, s := range d.ex {
			out[id] = meanOver(s.logits, entropy)
		}
	case EL2N:
		for id, s := range d.ex {
			if len(s.logits) < el2nEpochs {
				return nil, fmt.Errorf("coreset: scores: EL2N over the first %d epochs, but %q is recorded in %d", el2nEpochs, id, len(s.logits))
			}
			out[id] = meanOver(s.logits[:el2nEpochs], func(z []float32) float64 { return el2n(z, s.label) })
		}
	case Forgetting:
		forgetting(d.ex, out)
	default:
		return nil, fmt.Errorf("coreset: scores: unknown score kind %d", int(kind))
	}
	return out, nil
}

// meanOver is the mean of f over the epochs' logits.
func meanOver(logits [][]float32, f func([]float32) float64) float64 {
	sum := 0.0
	for _, z := range logits {
		sum += f(z)
	}
	return sum / float64(len(logits))
}

// margin is z_y − max_{i≠y} z_i (Pleiss et al. 2020, eq. 1).
func margin(z []float32, y int) float64 {
	other := math.Inf(-1)
	for i, v := range z {
		if i != y {
			other = max(other, float64(v))
		}
	}
	return float64(z[y]) - other
}

// el2n is ‖softmax(z) − onehot(y)‖₂.
func el2n(z []float32, y int) float64 {
	sq := 0.0
	for i, pi := range metrics.Softmax(z) {
		if i == y {
			pi -= 1
		}
		sq += pi * pi
	}
	return math.Sqrt(sq)
}

// entropy is −Σ p log p of softmax(z), in nats; 0·log 0 counts as 0.
func entropy(z []float32) float64 {
	h := 0.0
	for _, pi := range metrics.Softmax(z) {
		if pi > 0 {
			h -= pi * math.Log(pi)
		}
	}
	return h
}

// forgetting fills out with forgetting-event counts (Toneva et al. 2019),
// giving never-learned examples the largest learned count + 1.
func forgetting(ex map[string]*series, out map[string]float64) {
	var never []string
	most := 0
	for id, s := range ex {
		learned, events, prev := false, 0, false
		for t, z := range s.logits {
			acc := metrics.Argmax(z) == s.label
			if t > 0 && prev && !acc {
				events++
			}
			learned = learned || acc
			prev = acc
		}
		if !learned {
			never = append(never, id)
			continue
		}
		out[id] = float64(events)
		most = max(most, events)
	}
	for _, id := range never {
		out[id] = float64(most + 1)
	}
}
