package train

import (
	"os"
	"strconv"
	"strings"
)

// PeakGFLOPSPerCore estimates one core's fp32 peak from /proc/cpuinfo:
// clock × FLOPs per cycle, where a core with two FMA pipes does 2 × 2 × 8
// = 32 FLOPs per cycle on 256-bit AVX2 vectors and 64 on 512-bit AVX-512.
// It returns 0 when the clock is unknown (then MFU is not reported).
func PeakGFLOPSPerCore() float64 {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	var mhz float64
	flops := 16.0 // SSE-only fallback: 2 pipes × 4 lanes × 2 (mul+add)
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "cpu MHz":
			if mhz == 0 {
				mhz, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
			}
		case "flags":
			f := " " + v + " "
			switch {
			case strings.Contains(f, " avx512f "):
				flops = 64
			case strings.Contains(f, " fma ") && strings.Contains(f, " avx2 "):
				flops = 32
			}
		}
	}
	return mhz / 1000 * flops
}
