package data

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
)

// Shuffle returns the order in which to visit n examples in the given epoch:
// a permutation of 0..n-1 that depends only on (n, seed, epoch), never on the
// clock. Each epoch is a separate PCG stream (math/rand/v2, seeded with
// (seed, epoch)), and the Fisher–Yates draws are done here rather than with
// rand.Perm so that the order does not change with the Go version.
//
// Shuffle panics if n < 0 or epoch < 0 (epochs count from 0; the streams
// of negative epochs are left to other uses, such as carving a validation
// split).
func Shuffle(n int, seed uint64, epoch int) []int {
	if n < 0 || epoch < 0 {
		panic(fmt.Sprintf("data: Shuffle: negative n %d or epoch %d", n, epoch))
	}
	return permutation(n, rand.NewPCG(seed, uint64(epoch)))
}

// permutation is a Fisher–Yates shuffle of 0..n-1 driven by src.
func permutation(n int, src *rand.PCG) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := Uniform(src, uint64(i+1))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// Uniform returns a uniform integer in [0, n) drawn from src, by Lemire's
// multiply-and-reject method ("Fast Random Integer Generation in an
// Interval", 2019, Algorithm 5), which is unbiased. It is written out rather
// than taken from rand.Rand because rand.Rand's methods do not promise the
// same values across Go versions; every seeded draw in the project (example
// order, coreset sampling) goes through it. n must be positive.
func Uniform(src *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(src.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(src.Uint64(), n)
		}
	}
	return hi
}
