package blas

import (
	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Sgemv computes y = alpha·op(A)·x + beta·y for a row-major m×n float32
// matrix A with row stride lda (op(A) = Aᵀ when trans is set) and unit
// strides. Matrices of fewer than smallGemv elements, and every matrix on
// the gonum backend or a library without cblas_sgemv, use gonum's
// assembly kernels; larger ones the library (multi-threaded). Bad sizes
// panic with gonum's messages.
func Sgemv(trans bool, m, n int, alpha float32, a []float32, lda int, x []float32, beta float32, y []float32) {
	l := lib()
	if l == nil || l.sgemv == nil || m*n < smallGemv || !fitsInt32(m, n, lda) || m == 0 || n == 0 {
		t := gblas.NoTrans
		if trans {
			t = gblas.Trans
		}
		gonum.Implementation{}.Sgemv(t, m, n, alpha, a, lda, x, 1, beta, y, 1)
		return
	}
	// gonum's checks, so that the library never reads outside the slices.
	lenX, lenY := n, m
	if trans {
		lenX, lenY = m, n
	}
	if lda < max(1, n) {
		panic(badLdA)
	}
	if len(a) < lda*(m-1)+n {
		panic(shortA)
	}
	if len(x) < lenX {
		panic("blas: insufficient length of x")
	}
	if len(y) < lenY {
		panic("blas: insufficient length of y")
	}
	l.sgemv(cblasRowMajor, cblasOp(trans), int32(m), int32(n), alpha, &a[0], int32(lda), &x[0], 1, beta, &y[0], 1)
}

// smallGemv is the matrix size (elements) below which a library call's
// fixed cost (1.5–3 µs through purego) exceeds gonum's whole product.
const smallGemv = 1 << 16
