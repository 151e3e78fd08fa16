package bench

import (
	"os"
	"testing"
)

// TestCPUInfoGFLOPS: clock × FLOPs per cycle by the widest FMA the flags
// name; the first core's clock; 0 without one.
func TestCPUInfoGFLOPS(t *testing.T) {
	for _, tc := range []struct {
		name, cpuinfo string
		want          float64
	}{
		{"avx512", "processor\t: 0\ncpu MHz\t\t: 2000.000\nflags\t\t: fpu sse avx2 fma avx512f\n\nprocessor\t: 1\ncpu MHz\t\t: 3000.000\n", 2 * 64},
		{"avx2", "cpu MHz\t\t: 2500.000\nflags\t\t: fpu sse fma avx2\n", 2.5 * 32},
		{"avx2 without fma", "cpu MHz\t\t: 2500.000\nflags\t\t: fpu sse avx2\n", 2.5 * 16},
		{"no clock", "flags\t\t: fpu avx512f\n", 0},
	} {
		if got := cpuinfoGFLOPS(tc.cpuinfo); got != tc.want {
			t.Errorf("%s: %g GFLOPS, want %g", tc.name, got, tc.want)
		}
	}
}

// TestRSS: the resident set is positive and the peak at least the current
// one (Linux; elsewhere /proc is missing and both are 0).
func TestRSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc/self/status on this system")
	}
	buf := make([]byte, 8<<20)
	for i := range buf {
		buf[i] = 1
	}
	cur, peak := CurrentRSSMB(), PeakRSSMB()
	if cur <= 0 || peak < cur {
		t.Errorf("rss %.1f MB, peak %.1f MB: want 0 < rss ≤ peak", cur, peak)
	}
	_ = buf[len(buf)-1]
}
