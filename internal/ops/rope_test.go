package ops

import (
	"math"
	"testing"
)

// TestRoPEInvFreqBands checks each rope_scaling rule on head size 12,
// θ = 10⁴, whose wavelengths 2π/inv_freq are 6.3, 29, 135, 628, 2917 and
// 13535: llama3 with original 64, low 1, high 4 keeps the first (below
// 64/4 = 16), divides the last four (above 64/1) by the factor and
// interpolates the second between the two.
func TestRoPEInvFreqBands(t *testing.T) {
	plain := ropeInvFreq(1e4, 12, RoPEScaling{})
	lin := ropeInvFreq(1e4, 12, RoPEScaling{Type: "linear", Factor: 4})
	dyn := ropeInvFreq(1e4, 12, RoPEScaling{Type: "dynamic", Factor: 4})
	l3 := ropeInvFreq(1e4, 12, RoPEScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OrigMaxPos: 64})
	for i, p := range plain {
		if want := float32(1 / math.Pow(1e4, float64(2*i)/12)); p != want {
			t.Fatalf("plain %d: %v, want %v", i, p, want)
		}
		if lin[i] != p/4 {
			t.Errorf("linear %d: %v, want %v", i, lin[i], p/4)
		}
		if dyn[i] != p {
			t.Errorf("dynamic %d: %v, want the plain %v within max_position_embeddings", i, dyn[i], p)
		}
	}
	if l3[0] != plain[0] {
		t.Errorf("llama3 high frequency: %v, want it kept (%v)", l3[0], plain[0])
	}
	for i := 2; i < 6; i++ {
		if l3[i] != plain[i]/8 {
			t.Errorf("llama3 low frequency %d: %v, want %v", i, l3[i], plain[i]/8)
		}
	}
	// Between: smooth = (64/wavelen − 1)/3, f = (1−smooth)·f/8 + smooth·f.
	f := float64(plain[1])
	s := (64/(2*math.Pi/f) - 1) / 3
	if want := float32((1-s)*f/8 + s*f); l3[1] != want || !(l3[1] > plain[1]/8 && l3[1] < plain[1]) {
		t.Errorf("llama3 middle frequency: %v, want %v between %v and %v", l3[1], want, plain[1]/8, plain[1])
	}
}

func TestRoPEScalingValidate(t *testing.T) {
	for _, bad := range []RoPEScaling{
		{Type: "yarn", Factor: 4},
		{Type: "linear", Factor: 0.5},
		{Type: "linear", Factor: math.Inf(1)},
		{Type: "llama3", Factor: 8, LowFreqFactor: 4, HighFreqFactor: 1, OrigMaxPos: 64},
		{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
