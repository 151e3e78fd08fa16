package safetensors

import (
	"math"
	"strings"
	"testing"
)

// Bit patterns from Python's struct.pack("<e", x) (IEEE binary16, round to
// nearest even), except the two overflow cases, where struct raises and
// IEEE 754 (numpy, PyTorch) gives Inf.
var f16Cases = []struct {
	f32 uint32 // input float32 bits
	f16 uint16
}{
	{0x3f800000, 0x3c00}, // 1
	{0xc0000000, 0xc000}, // -2
	{0x3f000000, 0x3800}, // 0.5
	{0x477fe000, 0x7bff}, // 65504, the largest half
	{0x477ff000, 0x7c00}, // 65520: the tie between 65504 and 2^16 goes to even, Inf
	{0x47c35000, 0x7c00}, // 100000 overflows to Inf
	{0x477feffd, 0x7bff}, // just under 65520 stays finite
	{0x38800000, 0x0400}, // 2^-14, the smallest normal
	{0x33800000, 0x0001}, // 2^-24, the smallest subnormal
	{0x33000000, 0x0000}, // 2^-25: the tie between 0 and 2^-24 goes to even, 0
	{0x33400000, 0x0001}, // 1.5 * 2^-25 rounds up to 2^-24
	{0x33d6bf95, 0x0002}, // 1e-7
	{0x3eaaaaab, 0x3555}, // 1/3
	{0x40490fdb, 0x4248}, // pi
	{0x80000000, 0x8000}, // -0
	{0x7f800000, 0x7c00}, // +Inf
	{0xff800000, 0xfc00}, // -Inf
	{0x3f801000, 0x3c00}, // 1 + 2^-11: tie, rounds to even 1
	{0x3f803000, 0x3c02}, // 1 + 3*2^-11: tie, rounds to even 1 + 2^-9
	{0x00000001, 0x0000}, // float32 subnormal underflows to 0
	{0x7f800001, 0x7e00}, // NaN whose payload is only in the dropped bits stays NaN
	{0xffc00000, 0xfe00}, // negative quiet NaN
}

func TestF32ToF16KnownBits(t *testing.T) {
	for _, c := range f16Cases {
		f := math.Float32frombits(c.f32)
		if got := f32ToF16(f); got != c.f16 {
			t.Errorf("f32ToF16(%g [%#08x]) = %#04x, want %#04x", f, c.f32, got, c.f16)
		}
	}
}

// Every half value widens exactly and narrows back to itself; this covers
// all subnormals, both infinities and every NaN payload.
func TestF16RoundTripExhaustive(t *testing.T) {
	for h := range 1 << 16 {
		f := f16ToF32(uint16(h))
		if back := f32ToF16(f); back != uint16(h) {
			t.Fatalf("f32ToF16(f16ToF32(%#04x) = %g) = %#04x", h, f, back)
		}
		isNaN := h&0x7c00 == 0x7c00 && h&0x3ff != 0
		if isNaN != math.IsNaN(float64(f)) {
			t.Fatalf("f16ToF32(%#04x) = %g: NaN-ness not preserved", h, f)
		}
	}
}

// f16ToF32 agrees with the textbook formula (-1)^s * 2^(e-15) * (1 + m/1024),
// and 2^-14 * m/1024 for subnormals, evaluated in float64.
func TestF16ToF32Formula(t *testing.T) {
	for h := range 0x7c00 { // all finite positive halves
		e, m := h>>10, float64(h&0x3ff)
		want := math.Ldexp(m/1024, -14)
		if e != 0 {
			want = math.Ldexp(1+m/1024, e-15)
		}
		if got := f16ToF32(uint16(h)); float64(got) != want {
			t.Fatalf("f16ToF32(%#04x) = %g, want %g", h, got, want)
		}
		if got := f16ToF32(uint16(h | 0x8000)); float64(got) != -want {
			t.Fatalf("f16ToF32(%#04x) = %g, want %g", h|0x8000, got, -want)
		}
	}
}

// Between each pair of adjacent finite halves, the exact midpoint goes to the
// even one and the float32 neighbours of the midpoint go to the nearer one.
func TestF32ToF16RoundsToNearestEven(t *testing.T) {
	for h := range 0x7bff {
		lo, hi := f16ToF32(uint16(h)), f16ToF32(uint16(h+1))
		mid := float32((float64(lo) + float64(hi)) / 2) // exact: 12 significant bits
		even := uint16(h)
		if h&1 == 1 {
			even = uint16(h + 1)
		}
		if got := f32ToF16(mid); got != even {
			t.Fatalf("f32ToF16(%g, between %#04x and %#04x) = %#04x, want even %#04x", mid, h, h+1, got, even)
		}
		if got := f32ToF16(math.Nextafter32(mid, 0)); got != uint16(h) {
			t.Fatalf("f32ToF16(just below %g) = %#04x, want %#04x", mid, got, h)
		}
		if got := f32ToF16(math.Nextafter32(mid, 1e9)); got != uint16(h+1) {
			t.Fatalf("f32ToF16(just above %g) = %#04x, want %#04x", mid, got, h+1)
		}
	}
}

func TestBF16KnownBits(t *testing.T) {
	for _, c := range []struct {
		f32  uint32
		bf16 uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x40490fdb, 0x4049}, // pi rounds down
		{0x3f808000, 0x3f80}, // 1 + 2^-8: tie, to even 1
		{0x3f818000, 0x3f82}, // 1 + 3*2^-8: tie, to even
		{0x3f808001, 0x3f81}, // just above the tie rounds up
		{0x7f7fffff, 0x7f80}, // float32 max rounds to +Inf
		{0xff800000, 0xff80}, // -Inf
		{0x00000001, 0x0000}, // smallest float32 subnormal rounds to 0
		{0x00018000, 0x0002}, // subnormal tie rounds to even
		{0x7f800001, 0x7fc0}, // NaN whose payload is only in the low bits stays NaN
	} {
		if got := f32ToBF16(math.Float32frombits(c.f32)); got != c.bf16 {
			t.Errorf("f32ToBF16(%#08x) = %#04x, want %#04x", c.f32, got, c.bf16)
		}
	}
}

func TestBF16RoundTripExhaustive(t *testing.T) {
	for h := range 1 << 16 {
		f := bf16ToF32(uint16(h))
		if math.Float32bits(f) != uint32(h)<<16 {
			t.Fatalf("bf16ToF32(%#04x) has bits %#08x", h, math.Float32bits(f))
		}
		if back := f32ToBF16(f); back != uint16(h) {
			t.Fatalf("f32ToBF16(bf16ToF32(%#04x)) = %#04x", h, back)
		}
	}
}

func TestLookupDtype(t *testing.T) {
	for name, want := range map[string]string{
		"F8_E4M3": "dtype F8_E4M3 is not supported",
		"f32":     `unknown dtype "f32"`,
		"":        `unknown dtype ""`,
	} {
		_, err := lookupDtype(name)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("lookupDtype(%q) = %v, want an error containing %q", name, err, want)
		}
	}
	for name := range dtypes {
		if _, err := lookupDtype(name); err != nil {
			t.Errorf("lookupDtype(%q): %v", name, err)
		}
	}
}
