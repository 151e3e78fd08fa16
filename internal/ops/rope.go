package ops

import (
	"fmt"
	"math"
)

// RoPEScaling is a config.json rope_scaling entry: how a checkpoint
// stretches its rotary frequencies for contexts longer than it was
// pre-trained on. The zero value is plain RoPE.
type RoPEScaling struct {
	// Type is "" (none), "linear", "dynamic" or "llama3".
	Type string
	// Factor is the context stretch (rope_scaling.factor).
	Factor float64
	// LowFreqFactor, HighFreqFactor and OrigMaxPos are llama3's
	// low_freq_factor, high_freq_factor and original_max_position_embeddings.
	LowFreqFactor, HighFreqFactor float64
	OrigMaxPos                    int
}

// Validate reports a scaling entry we cannot apply, naming the
// rope_scaling field.
func (r RoPEScaling) Validate() error {
	switch r.Type {
	case "":
		return nil
	case "linear", "dynamic", "llama3":
	default:
		return fmt.Errorf("rope_scaling.rope_type %q is not supported (want linear, dynamic or llama3)", r.Type)
	}
	if !(r.Factor >= 1) || math.IsInf(r.Factor, 1) {
		return fmt.Errorf("rope_scaling.factor must be a finite number ≥ 1, got %g", r.Factor)
	}
	if r.Type == "llama3" {
		if !(r.LowFreqFactor > 0) || !(r.HighFreqFactor > r.LowFreqFactor) {
			return fmt.Errorf("rope_scaling: llama3 needs 0 < low_freq_factor < high_freq_factor, got %g and %g", r.LowFreqFactor, r.HighFreqFactor)
		}
		if r.OrigMaxPos <= 0 {
			return fmt.Errorf("rope_scaling.original_max_position_embeddings must be positive, got %d", r.OrigMaxPos)
		}
	}
	return nil
}

// ropeInvFreq returns the S/2 rotary frequencies inv_freq_i = θ^(-2i/S)
// (Su et al. 2021, RoFormer eq. 15; HF _compute_default_rope_parameters),
// rescaled as sc says:
//
//   - linear (HF _compute_linear_scaling_rope_parameters, Chen et al. 2023,
//     "position interpolation"): every frequency divided by factor.
//   - dynamic (HF _compute_dynamic_ntk_parameters): HF changes the base only
//     once the sequence is longer than max_position_embeddings, and within it
//     is plain RoPE; callers refuse longer sequences, so this is plain RoPE.
//   - llama3 (HF _compute_llama3_parameters): wavelengths 2π/inv_freq longer
//     than original_max_position_embeddings/low_freq_factor are divided by
//     factor, shorter than .../high_freq_factor kept, and those between
//     interpolated with smooth = (orig/wavelen − low)/(high − low) between
//     inv_freq/factor and inv_freq.
//
// HF computes the frequencies in float32; they are rounded to float32 here
// so that positions times frequencies round as HF's do.
func ropeInvFreq(theta float64, s int, sc RoPEScaling) []float32 {
	out := make([]float32, s/2)
	for i := range out {
		f := float64(float32(1.0 / math.Pow(theta, float64(2*i)/float64(s))))
		switch sc.Type {
		case "linear":
			f /= sc.Factor
		case "llama3":
			old := float64(sc.OrigMaxPos)
			lowWavelen, highWavelen := old/sc.LowFreqFactor, old/sc.HighFreqFactor
			wavelen := 2 * math.Pi / f
			switch {
			case wavelen < highWavelen:
			case wavelen > lowWavelen:
				f /= sc.Factor
			default:
				smooth := (old/wavelen - sc.LowFreqFactor) / (sc.HighFreqFactor - sc.LowFreqFactor)
				f = (1-smooth)*f/sc.Factor + smooth*f
			}
		}
		out[i] = float32(f)
	}
	return out
}
