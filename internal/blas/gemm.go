package blas

import (
	"math"
	"unsafe"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// CBLAS enum values (cblas.h: CBLAS_ORDER, CBLAS_TRANSPOSE).
const (
	cblasRowMajor = 101
	cblasNoTrans  = 111
	cblasTrans    = 112
)

// Panic messages, the same as gonum's so that a bad call fails the same way
// on every backend.
const (
	mLT0   = "blas: m < 0"
	nLT0   = "blas: n < 0"
	kLT0   = "blas: k < 0"
	badLdA = "blas: bad leading dimension of A"
	badLdB = "blas: bad leading dimension of B"
	badLdC = "blas: bad leading dimension of C"
	shortA = "blas: insufficient length of a"
	shortB = "blas: insufficient length of b"
	shortC = "blas: insufficient length of c"
)

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major float32
// matrices, where op(X) is X, or Xᵀ when the matching trans flag is set.
// op(A) is m×k, op(B) is k×n and C is m×n; lda, ldb and ldc are the row
// strides of A, B and C as stored (A is k×m when transA is set, and B is n×k
// when transB is set). When beta is 0, C is overwritten and may hold NaNs
// on entry. Bad sizes, strides or slice lengths panic with gonum's messages.
// Empty products (m, n or k zero), alpha == 0 and products of fewer than
// 1024 multiply-adds are computed in Go without calling the library.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmOn(libFor(m, n, k), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dgemm is Sgemm for float64.
func Dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	dgemmOn(libFor(m, n, k), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Gemm is Sgemm or Dgemm, chosen by the element type, for code that is
// generic over the float width.
func Gemm[T float32 | float64](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	// The assertion on a zero value and the slice casts compile to nothing
	// for each instantiation and, unlike converting a slice to any, never
	// allocate.
	var zero T
	if _, ok := any(zero).(float32); ok {
		Sgemm(transA, transB, m, n, k, float32(alpha), cast[float32](a), lda, cast[float32](b), ldb, float32(beta), cast[float32](c), ldc)
		return
	}
	Dgemm(transA, transB, m, n, k, float64(alpha), cast[float64](a), lda, cast[float64](b), ldb, float64(beta), cast[float64](c), ldc)
}

// smallGemm is the number of multiply-adds below which gonum finishes before
// a library call would return. A call through purego (reflection, then a
// switch to the system stack) plus OpenBLAS's own set-up costs 1.5–3 µs, so
// gonum is 3 times faster at 8×8×8 (about 1 µs) and the two break even near
// 12×12×12 (BenchmarkSgemmSmall, 2-core Zen 5, OpenBLAS 0.3.21).
const smallGemm = 1024

// libFor returns the library to use for an m×n×k product: the chosen
// backend, or gonum (nil) for products too small to pay for the call.
func libFor(m, n, k int) *library {
	l := lib()
	if m < smallGemm && n < smallGemm && k < smallGemm && m*n*k < smallGemm {
		return nil
	}
	return l
}

// cast reinterprets a slice whose element type is known to be U.
func cast[U, T float32 | float64](s []T) []U {
	return unsafe.Slice((*U)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

// sgemmOn is Sgemm on the given library (nil: gonum), whatever the size.
func sgemmOn(l *library, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !check(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc) {
		return
	}
	if alpha == 0 || k == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	if l == nil || !fitsInt32(m, n, k, lda, ldb, ldc) {
		gonum.Implementation{}.Sgemm(gonumTrans(transA), gonumTrans(transB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	l.sgemm(cblasRowMajor, cblasOp(transA), cblasOp(transB), int32(m), int32(n), int32(k),
		alpha, &a[0], int32(lda), &b[0], int32(ldb), beta, &c[0], int32(ldc))
}

// dgemmOn is Dgemm on the given library (nil: gonum), whatever the size.
func dgemmOn(l *library, transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if !check(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc) {
		return
	}
	if alpha == 0 || k == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	if l == nil || !fitsInt32(m, n, k, lda, ldb, ldc) {
		gonum.Implementation{}.Dgemm(gonumTrans(transA), gonumTrans(transB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	l.dgemm(cblasRowMajor, cblasOp(transA), cblasOp(transB), int32(m), int32(n), int32(k),
		alpha, &a[0], int32(lda), &b[0], int32(ldb), beta, &c[0], int32(ldc))
}

// check validates a gemm call the way gonum does (same rules, same order,
// same messages, except for k == 0, below) and reports whether there is anything to compute. It is
// what guarantees that the library never touches memory outside a, b and c.
func check(transA, transB bool, m, n, k, lenA, lda, lenB, ldb, lenC, ldc int) bool {
	if m < 0 {
		panic(mLT0)
	}
	if n < 0 {
		panic(nLT0)
	}
	if k < 0 {
		panic(kLT0)
	}
	rowA, colA := m, k // A as stored
	if transA {
		rowA, colA = k, m
	}
	rowB, colB := k, n
	if transB {
		rowB, colB = n, k
	}
	if lda < max(1, colA) {
		panic(badLdA)
	}
	if ldb < max(1, colB) {
		panic(badLdB)
	}
	if ldc < max(1, n) {
		panic(badLdC)
	}
	if m == 0 || n == 0 {
		return false
	}
	// With k == 0 neither A nor B is read, so, unlike gonum (which asks
	// for (m-1)*lda elements of an m×0 A), empty or nil operands are fine.
	if k > 0 && lenA < (rowA-1)*lda+colA {
		panic(shortA)
	}
	if k > 0 && lenB < (rowB-1)*ldb+colB {
		panic(shortB)
	}
	if lenC < (m-1)*ldc+n {
		panic(shortC)
	}
	return true
}

// scale sets C = beta*C, the whole product when alpha or k is zero. As in
// reference BLAS, beta == 0 overwrites C (NaNs included) and beta == 1
// leaves it untouched.
func scale[T float32 | float64](m, n int, beta T, c []T, ldc int) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// fitsInt32 reports whether all sizes fit the 32-bit ints of the CBLAS
// interface; larger calls go to gonum, which takes Go ints.
func fitsInt32(xs ...int) bool {
	for _, x := range xs {
		if x > math.MaxInt32 {
			return false
		}
	}
	return true
}

func cblasOp(trans bool) int32 {
	if trans {
		return cblasTrans
	}
	return cblasNoTrans
}

func gonumTrans(trans bool) gblas.Transpose {
	if trans {
		return gblas.Trans
	}
	return gblas.NoTrans
}
