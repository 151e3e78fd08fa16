package metrics

import "math"

// LogSumExp is log Σ exp(row), computed in float64 after shifting by the
// row's maximum so that large logits do not overflow.
func LogSumExp(row []float32) float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	var s float64
	for _, v := range row {
		s += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(s)
}

// LogProb is log softmax(row)[target]: the log-probability a row of logits
// gives to target (the negative of its cross-entropy).
func LogProb(row []float32, target int) float64 {
	return float64(row[target]) - LogSumExp(row)
}

// Softmax returns softmax(row) in float64.
func Softmax(row []float32) []float64 {
	lse := LogSumExp(row)
	out := make([]float64, len(row))
	for i, v := range row {
		out[i] = math.Exp(float64(v) - lse)
	}
	return out
}

// Argmax returns the index of the largest logit (the first on ties): a
// classifier's prediction and greedy decoding's choice.
func Argmax(row []float32) int {
	best := 0
	for i, x := range row {
		if x > row[best] {
			best = i
		}
	}
	return best
}
