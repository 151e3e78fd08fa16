package gguf

import (
	"math"
	"math/rand/v2"
	"testing"
)

// f16Naive is the twin of F32ToF16: it rounds in float64 to the nearest
// point of the half-precision grid around f (ties to even) and encodes it.
func f16Naive(f float32) uint16 {
	if f != f {
		return 0x7e00
	}
	x := float64(f)
	sign := uint16(0)
	if math.Signbit(x) {
		sign, x = 0x8000, -x
	}
	if x >= 65520 { // halfway between the largest half, 65504, and 2^16
		return sign | 0x7c00
	}
	// spacing of the half grid at x
	e := math.Floor(math.Log2(x))
	if x == 0 || e < -14 {
		e = -14
	}
	ulp := math.Ldexp(1, int(e)-10)
	q := x / ulp
	r := math.RoundToEven(q) * ulp
	// encode r exactly
	if r == 0 {
		return sign
	}
	re := math.Floor(math.Log2(r))
	if re < -14 {
		return sign | uint16(r/math.Ldexp(1, -24))
	}
	m := r/math.Ldexp(1, int(re)) - 1
	return sign | uint16(int(re)+15)<<10 | uint16(math.Round(m*1024))
}

func TestF16AgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	check := func(f float32) {
		if got, want := F32ToF16(f), f16Naive(f); got != want {
			t.Fatalf("F32ToF16(%g) = %#04x, naive %#04x", f, got, want)
		}
	}
	for _, f := range []float32{0, 1, -1, 65504, 65519, 65520, 1e-8, 2.9802322e-08, 5.960464e-08, 6.1035156e-05, 6.1e-05, 0.1, 1.0009765625, 1.00048828125, 1.00146484375} {
		check(f)
		check(-f)
	}
	for i := 0; i < 200000; i++ {
		check(float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(14)-9))))
	}
	// every half value survives the round trip
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		if f != f {
			continue
		}
		if got := F32ToF16(f); got != uint16(h) {
			t.Fatalf("half %#04x → %g → %#04x", h, f, got)
		}
	}
	if F32ToF16(float32(math.Inf(1))) != 0x7c00 || F32ToF16(float32(math.NaN()))&0x7c00 != 0x7c00 {
		t.Fatal("Inf or NaN not kept")
	}
}

// q8Naive quantizes one block the obvious way, in float64: d = max|x|/127,
// q = round(x/d).
func q8Naive(x []float32) (d float64, q []int) {
	for _, v := range x {
		d = math.Max(d, math.Abs(float64(v)))
	}
	d /= 127
	for _, v := range x {
		if d == 0 {
			q = append(q, 0)
			continue
		}
		q = append(q, int(math.Round(float64(v)/d)))
	}
	return d, q
}

func TestQ8_0AgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 2000; trial++ {
		n := Q8Block * (1 + rng.IntN(4))
		x := make([]float32, n)
		scale := math.Pow(10, float64(rng.IntN(8)-4))
		for i := range x {
			x[i] = float32(rng.NormFloat64() * scale)
		}
		if trial%50 == 0 {
			clear(x[:Q8Block]) // an all-zero block
		}
		b, err := Encode(Q8_0, x, n)
		if err != nil {
			t.Fatal(err)
		}
		y, err := Decode(Q8_0, b, n)
		if err != nil {
			t.Fatal(err)
		}
		for blk := 0; blk < n/Q8Block; blk++ {
			xs := x[blk*Q8Block:][:Q8Block]
			d, q := q8Naive(xs)
			d16 := float64(F16ToF32(F32ToF16(float32(d))))
			if math.Abs(d16-d) > math.Max(d/2048, 0x1p-25) { // half an ulp, normal or subnormal
				t.Fatalf("scale %g stored as %g", d, d16)
			}
			for i, v := range xs {
				got := int(int8(b[blk*34+2+i]))
				if got-q[i] > 1 || q[i]-got > 1 {
					t.Fatalf("block %d value %g: q %d, naive %d", blk, v, got, q[i])
				}
				// |x − d16·q| ≤ d/2 (rounding) + |q|·|d16 − d| + one step
				// where float32 rounding moved q across a half.
				bound := d/2 + 127*math.Abs(d16-d) + 1e-12
				if got != q[i] {
					bound += d
				}
				if e := math.Abs(float64(v) - float64(y[blk*Q8Block+i])); e > bound {
					t.Fatalf("value %g decoded %g: error %g > %g", v, y[blk*Q8Block+i], e, bound)
				}
			}
		}
	}
}

func TestEncodeDecodeF32F16(t *testing.T) {
	x := []float32{1, -2.5, 3.14159, 1e-3, 70000, 0}
	for _, tt := range []TensorType{F32, F16} {
		b, err := Encode(tt, x, 3)
		if err != nil {
			t.Fatal(err)
		}
		y, err := Decode(tt, b, len(x))
		if err != nil {
			t.Fatal(err)
		}
		for i := range x {
			want := x[i]
			if tt == F16 {
				want = F16ToF32(F32ToF16(x[i]))
			}
			if y[i] != want {
				t.Fatalf("%s: %g → %g, want %g", tt, x[i], y[i], want)
			}
		}
	}
	if !math.IsInf(float64(F16ToF32(F32ToF16(70000))), 1) {
		t.Fatal("70000 does not overflow to +Inf in F16")
	}
	if _, err := Encode(Q8_0, make([]float32, 48), 48); err == nil {
		t.Fatal("Q8_0 rows of 48: no error")
	}
	if _, err := Encode(F32, make([]float32, 5), 2); err == nil {
		t.Fatal("5 values in rows of 2: no error")
	}
	if _, err := Decode(F16, make([]byte, 3), 2); err == nil {
		t.Fatal("3 bytes for 2 F16 values: no error")
	}
}
