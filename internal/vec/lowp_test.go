package vec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// lowpRows returns an x of n elements, the BF16 and INT8 forms of a random
// row w of n weights (with its scales), and a y, all starting off elements
// into their backing arrays. Every eighth block of w is scaled by 1e3 and
// one block is zero, so the scales differ from block to block.
func lowpRows(n int, seed uint64, off int) (x []float32, h []uint16, q []int8, s []float32, y []float32) {
	x, w := vecs(n, seed, off)
	for i := range w {
		switch (i / Q8Block) % 8 {
		case 3:
			w[i] *= 1e3
		case 5:
			w[i] = 0
		}
	}
	_, y = vecs(n, seed+1, off)
	h = make([]uint16, off+n)[off:]
	q = make([]int8, off+n)[off:]
	s = make([]float32, Q8Blocks(n))
	ToBF16(h, w)
	QuantizeQ8(q, s, w)
	return x, h, q, s, y
}

// checkLowp compares DotBF16 and DotQ8 at the current level with the
// float64 sums of the dequantised products (bound γ_n·Σ|x·w| for BF16; the
// INT8 kernels sum blocks then scale, so γ of n plus the blocks plus two),
// and AxpyBF16 and AxpyQ8 with their scalar twins (one fused rounding each
// side, as checkAxpy).
func checkLowp(t testing.TB, a float32, x []float32, h []uint16, q []int8, s []float32, y []float32) {
	n := len(x)
	var wantH, magH, wantQ, magQ float64
	for i := range x {
		ph := float64(x[i]) * float64(FromBF16(h[i]))
		pq := float64(x[i]) * float64(q[i]) * float64(s[i/Q8Block])
		wantH, magH = wantH+ph, magH+math.Abs(ph)
		wantQ, magQ = wantQ+pq, magQ+math.Abs(pq)
	}
	if got := DotBF16(x, h); math.Abs(float64(got)-wantH) > gamma(n)*magH {
		t.Fatalf("%s n %d: DotBF16 %v, want %v ± %.3g", kernel, n, got, wantH, gamma(n)*magH)
	}
	tolQ := gamma(n+Q8Blocks(n)+2) * magQ
	if got := DotQ8(x, q, s); math.Abs(float64(got)-wantQ) > tolQ {
		t.Fatalf("%s n %d: DotQ8 %v, want %v ± %.3g", kernel, n, got, wantQ, tolQ)
	}
	got, want := append([]float32(nil), y...), append([]float32(nil), y...)
	AxpyBF16(a, h, got)
	axpyBF16Go(a, h, want)
	for i := range got {
		tol := 2 * u32 * (math.Abs(float64(a*FromBF16(h[i]))) + math.Abs(float64(want[i])))
		if math.Abs(float64(got[i]-want[i])) > tol {
			t.Fatalf("%s n %d: AxpyBF16[%d] %v, twin %v ± %.3g", kernel, n, i, got[i], want[i], tol)
		}
	}
	got, want = append(got[:0], y...), append(want[:0], y...)
	AxpyQ8(a, q, s, got)
	axpyQ8Go(a, q, s, want)
	for i := range got {
		tol := 2 * u32 * (math.Abs(float64(a*s[i/Q8Block]*float32(q[i]))) + math.Abs(float64(want[i])))
		if math.Abs(float64(got[i]-want[i])) > tol {
			t.Fatalf("%s n %d: AxpyQ8[%d] %v, twin %v ± %.3g", kernel, n, i, got[i], want[i], tol)
		}
	}
}

// TestLowpKernels covers every length around the 64/32/16/8 blockings and
// the INT8 blocks' tails, at several offsets within a cache line.
func TestLowpKernels(t *testing.T) {
	atLevels(t, func(t *testing.T) {
		for n := 0; n <= 200; n++ {
			for _, off := range []int{0, 1, 7} {
				x, h, q, s, y := lowpRows(n, uint64(n*16+off), off)
				checkLowp(t, 0.75, x, h, q, s, y)
			}
		}
	})
}

// FuzzLowpKernels fuzzes every level's BF16 and INT8 kernels against the
// float64 sums and the scalar twins.
func FuzzLowpKernels(f *testing.F) {
	f.Add(uint16(33), uint64(1), uint8(0), float32(0.5))
	f.Add(uint16(768), uint64(2), uint8(3), float32(-2))
	f.Add(uint16(15), uint64(3), uint8(1), float32(1e-3))
	f.Add(uint16(1000), uint64(4), uint8(9), float32(7))
	f.Fuzz(func(t *testing.T, n uint16, seed uint64, off uint8, a float32) {
		if math.IsNaN(float64(a)) || math.Abs(float64(a)) > 1e6 {
			a = 1
		}
		x, h, q, s, y := lowpRows(int(n%4096), seed, int(off%16))
		eachLevel(func(Level) { checkLowp(t, a, x, h, q, s, y) })
	})
}

func TestBF16(t *testing.T) {
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{1, 0x3f80},
		{-2, 0xc000},
		{0, 0},
		{float32(math.Inf(1)), 0x7f80},
		{float32(math.Inf(-1)), 0xff80},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie, to even
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie, to even
		{math.Float32frombits(0x3f808001), 0x3f81}, // above the tie
		{math.MaxFloat32, 0x7f80},                  // rounds to infinity
	} {
		if got := BF16(c.f); got != c.want {
			t.Errorf("BF16(%v = %#x) = %#x, want %#x", c.f, math.Float32bits(c.f), got, c.want)
		}
	}
	if got := FromBF16(BF16(float32(math.NaN()))); !math.IsNaN(float64(got)) {
		t.Errorf("BF16(NaN) widens to %v", got)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		f := float32(r.NormFloat64() * math.Exp(10*r.NormFloat64()))
		g := FromBF16(BF16(f))
		if d := math.Abs(float64(g - f)); d > math.Abs(float64(f))/256 {
			t.Fatalf("BF16 of %v widens to %v: off by more than half a unit of 8 bits", f, g)
		}
	}
}

// TestQuantizeQ8 checks the INT8 rows' rounding: each block's scale is its
// largest magnitude over 127, that weight comes back to float32 rounding,
// every weight within half a scale, zero blocks stay zero.
func TestQuantizeQ8(t *testing.T) {
	for _, n := range []int{0, 1, 31, 32, 33, 100, 768} {
		w, _ := vecs(n, uint64(n), 0)
		for i := range min(n, 40) {
			if i >= 32 {
				w[i] = 0 // the second block is zero
			}
		}
		q, s, back := make([]int8, n), make([]float32, Q8Blocks(n)), make([]float32, n)
		QuantizeQ8(q, s, w)
		DequantizeQ8(back, q, s)
		for b := range s {
			blk := w[b*Q8Block : min((b+1)*Q8Block, n)]
			var m float64
			for _, v := range blk {
				m = max(m, math.Abs(float64(v)))
			}
			if float64(s[b]) != float64(float32(m)/127) {
				t.Fatalf("n %d block %d: scale %v, want max|w|/127 = %v", n, b, s[b], m/127)
			}
		}
		for i, v := range w {
			sc := float64(s[i/Q8Block])
			if d := math.Abs(float64(back[i] - v)); d > sc/2*(1+1e-5)+1e-30 {
				t.Fatalf("n %d: weight %d = %v comes back as %v, more than half the scale %v off", n, i, v, back[i], sc)
			}
			if back[i] != float32(q[i])*s[i/Q8Block] {
				t.Fatalf("n %d: DequantizeQ8[%d] = %v, want q·s = %v", n, i, back[i], float32(q[i])*s[i/Q8Block])
			}
			if q[i] < -127 {
				t.Fatalf("n %d: q[%d] = -128; the range is symmetric", n, i)
			}
		}
	}
}

// BenchmarkLowp times a decoding step's product of one input with a
// matrix larger than the last-level cache (4096 rows of 768, as GPT-2
// small's FFN), row by row with Dot (and AxpyBF16/AxpyQ8 for the output
// projection's Axpy), for each dtype and level; bytes/s count the weight
// bytes read, scales included.
func BenchmarkLowp(b *testing.B) {
	defer func(l Level) { kernel = l }(kernel)
	const m, n = 4096, 768
	w, _ := vecs(m*n, 1)
	x, y := vecs(n, 2)
	h := make([]uint16, m*n)
	ToBF16(h, w)
	nb := Q8Blocks(n)
	q, s := make([]int8, m*n), make([]float32, m*nb)
	for r := range m {
		QuantizeQ8(q[r*n:(r+1)*n], s[r*nb:(r+1)*nb], w[r*n:(r+1)*n])
	}
	wide := make([]float32, 64*n)
	type bench struct {
		name  string
		bytes int
		run   func()
	}
	cases := []bench{
		{"Dot/f32", 4 * m * n, func() {
			for r := range m {
				Dot(x, w[r*n:(r+1)*n])
			}
		}},
		{"Dot/bf16", 2 * m * n, func() {
			for r := range m {
				DotBF16(x, h[r*n:(r+1)*n])
			}
		}},
		{"Dot/int8", m*n + 4*m*nb, func() {
			for r := range m {
				DotQ8(x, q[r*n:(r+1)*n], s[r*nb:(r+1)*nb])
			}
		}},
		{"Axpy/f32", 4 * m * n, func() {
			for r := range m {
				Axpy(1e-3, w[r*n:(r+1)*n], y)
			}
		}},
		{"Axpy/bf16", 2 * m * n, func() {
			for r := range m {
				AxpyBF16(1e-3, h[r*n:(r+1)*n], y)
			}
		}},
		{"Axpy/int8", m*n + 4*m*nb, func() {
			for r := range m {
				AxpyQ8(1e-3, q[r*n:(r+1)*n], s[r*nb:(r+1)*nb], y)
			}
		}},
		// Widening a 64-row block, as the engine's batched products do per
		// unit (the output stays in cache).
		{"Widen/bf16", 2 * 64 * n, func() { WidenBF16(wide, h[:64*n]) }},
		{"Widen/int8", 64*n + 4*64*nb, func() {
			for r := range 64 {
				DequantizeQ8(wide[r*n:(r+1)*n], q[r*n:(r+1)*n], s[r*nb:(r+1)*nb])
			}
		}},
	}
	for _, c := range cases {
		for _, l := range Levels {
			b.Run(fmt.Sprintf("%s/%dx%d/%s", c.name, m, n, l), func(b *testing.B) {
				if !Supported(l) {
					b.Skipf("this CPU lacks %s", l)
				}
				kernel = l
				b.SetBytes(int64(c.bytes))
				for b.Loop() {
					c.run()
				}
			})
		}
	}
}

// TestWidenExact: WidenBF16 and DequantizeQ8 give the scalar twins' values
// bit for bit at every level (widening is exact; dequantizing rounds each
// product once), for every length around the blockings.
func TestWidenExact(t *testing.T) {
	atLevels(t, func(t *testing.T) {
		for n := 0; n <= 130; n++ {
			_, h, q, s, _ := lowpRows(n, uint64(n), n%3)
			got, want := make([]float32, n), make([]float32, n)
			WidenBF16(got, h)
			for i := range h {
				want[i] = FromBF16(h[i])
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s n %d: WidenBF16 differs from the twin", kernel, n)
			}
			DequantizeQ8(got, q, s)
			for i := range q {
				want[i] = float32(q[i]) * s[i/Q8Block]
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s n %d: DequantizeQ8 differs from q·s", kernel, n)
			}
		}
	})
}
