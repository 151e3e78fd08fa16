package vec

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/cpu"
)

// Level is an instruction-set level of the kernels: each fast kernel has a
// variant per level, and the scalar Go loops are the reference the others
// are tested against.
type Level int

// The kernel levels, lowest first.
const (
	Scalar Level = iota // plain Go
	AVX2                // amd64 AVX2 with FMA, 8 lanes
	AVX512              // amd64 AVX-512 F and VL, 16 lanes with masked tails
)

// Levels lists every level, lowest first.
var Levels = []Level{Scalar, AVX2, AVX512}

// EnvVar names the environment variable that overrides the detected level
// (scalar, avx2 or avx512), for tests and benchmarks. It is read once, at
// start; an unknown value, or a level this machine lacks, falls back to
// Best with one warning line on standard error.
const EnvVar = "SPARSETUNE_KERNELS"

// String returns the level's name as EnvVar spells it.
func (l Level) String() string {
	switch l {
	case Scalar:
		return "scalar"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// Supported reports whether this machine runs the kernels of level l: the
// CPU has the instructions and the operating system saves their registers
// (golang.org/x/sys/cpu checks both).
func Supported(l Level) bool {
	switch l {
	case Scalar:
		return true
	case AVX2:
		return hasAsm && cpu.X86.HasAVX2 && cpu.X86.HasFMA
	case AVX512:
		return hasAsm && cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL
	}
	return false
}

// Best returns the highest level this machine supports.
func Best() Level {
	for l := AVX512; l > Scalar; l-- {
		if Supported(l) {
			return l
		}
	}
	return Scalar
}

// chooseLevel returns the level to run given EnvVar's value: the best
// supported one when it is empty, the named one when the machine supports
// it, and otherwise the best one with a warning saying why.
func chooseLevel(env string) (Level, string) {
	env = strings.TrimSpace(strings.ToLower(env))
	if env == "" {
		return Best(), ""
	}
	for _, l := range Levels {
		if env != l.String() {
			continue
		}
		if !Supported(l) {
			return Best(), fmt.Sprintf("%s=%s: this CPU lacks %s; using %s", EnvVar, env, l, Best())
		}
		return l, ""
	}
	return Best(), fmt.Sprintf("%s=%q is not scalar, avx2 or avx512; using %s", EnvVar, env, Best())
}

// kernel is the level every kernel of this package dispatches on, chosen
// once at start; tests set it to run each level in turn.
var kernel = func() Level {
	l, warning := chooseLevel(os.Getenv(EnvVar))
	if warning != "" {
		fmt.Fprintln(os.Stderr, "sparsetune: "+warning)
	}
	return l
}()

// Kernels returns the level the kernels run at: Best, or EnvVar's choice.
// Package ops's exp, sigmoid and GELU kernels follow it too.
func Kernels() Level { return kernel }

// SetKernels switches every kernel to level l and returns the level before,
// or an error if this machine lacks l. It is for tests and benchmarks that
// compare levels in one process, token by token, so that every level sees
// the same machine state; no kernel may be running while it is called.
func SetKernels(l Level) (Level, error) {
	if !Supported(l) {
		return kernel, fmt.Errorf("vec: this CPU lacks %s", l)
	}
	prev := kernel
	kernel = l
	return prev, nil
}
