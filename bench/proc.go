package bench

import (
	"os"
	"strconv"
	"strings"
)

// PeakRSSMB is the process's peak resident set (VmHWM), in MB; 0 where
// /proc cannot be read.
func PeakRSSMB() float64 { return procStatusMB("VmHWM:") }

// CurrentRSSMB is the process's resident set now (VmRSS), in MB; 0 where
// /proc cannot be read.
func CurrentRSSMB() float64 { return procStatusMB("VmRSS:") }

// procStatusMB reads the kB figure of key in /proc/self/status, in MB.
func procStatusMB(key string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key) {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// PeakGFLOPSPerCore estimates one core's fp32 peak from /proc/cpuinfo:
// clock × FLOPs per cycle, where a core with two FMA pipes does 2 × 2 × 8
// = 32 FLOPs per cycle on 256-bit AVX2 vectors and 64 on 512-bit AVX-512.
// It returns 0 when the clock is unknown (then MFU is not reported).
func PeakGFLOPSPerCore() float64 {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return cpuinfoGFLOPS(string(b))
}

// cpuinfoGFLOPS is PeakGFLOPSPerCore's reading of a /proc/cpuinfo text:
// the first "cpu MHz" and the widest FMA the flags name.
func cpuinfoGFLOPS(cpuinfo string) float64 {
	var mhz float64
	flops := 16.0 // SSE-only fallback: 2 pipes × 4 lanes × 2 (mul+add)
	for _, line := range strings.Split(cpuinfo, "\n") {
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
