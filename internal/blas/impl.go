package blas

import (
	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Impl is a full gonum BLAS implementation whose Sgemm and Dgemm run on the
// chosen backend. Every other routine is gonum's pure-Go one: gorgonia and
// tensor spend their BLAS time in gemm, and gonum's blas package shares the
// row-major convention used here, so no argument needs translating beyond
// the transpose flags.
//
// Impl satisfies gorgonia.BLAS and tensor.BLAS (which also require the
// complex routines, supplied by the embedded gonum implementation).
type Impl struct {
	gonum.Implementation
}

// Implementation returns the value to pass to gorgonia.Use or tensor.Use so
// that stock gorgonia matrix multiplies run on the chosen backend. It returns
// the concrete Impl rather than an interface so that it can be passed to
// both without a type assertion.
func Implementation() Impl {
	return Impl{}
}

// Sgemm is gonum's blas.Float32 Sgemm routed to the package-level Sgemm.
func (Impl) Sgemm(tA, tB gblas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	Sgemm(isTrans(tA), isTrans(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dgemm is gonum's blas.Float64 Dgemm routed to the package-level Dgemm.
func (Impl) Dgemm(tA, tB gblas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	Dgemm(isTrans(tA), isTrans(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// isTrans maps gonum's transpose flag to a bool; for real matrices ConjTrans
// is Trans. Other values panic with gonum's message.
func isTrans(t gblas.Transpose) bool {
	switch t {
	case gblas.NoTrans:
		return false
	case gblas.Trans, gblas.ConjTrans:
		return true
	}
	panic("blas: illegal transpose")
}

// Compile-time check that Impl is what the brief asks for.
var _ interface {
	gblas.Float32
	gblas.Float64
} = Impl{}
