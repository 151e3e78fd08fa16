package blas_test

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/sparsetune/sparsetune/internal/blas"
)

// Implementation must plug into both gorgonia and tensor without assertions.
var (
	_ G.BLAS      = blas.Implementation()
	_ tensor.BLAS = blas.Implementation()
)

// counting is an Impl that counts the Sgemm calls tensor makes, to show that
// tensor's matrix multiply reaches Impl.Sgemm.
type counting struct {
	blas.Impl
	calls *int
}

func (c counting) Sgemm(tA, tB gblas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, cc []float32, ldc int) {
	*c.calls++
	c.Impl.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, cc, ldc)
}

// TestTensorUse multiplies through tensor.MatMul, with a transposed operand,
// after tensor.Use(Implementation()).
func TestTensorUse(t *testing.T) {
	calls := 0
	tensor.Use(counting{blas.Implementation(), &calls})
	defer tensor.Use(gonum.Implementation{}) // tensor's default
	a := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 2, 3, 4, 5, 6}))
	b := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 0, 2, 0, 1, 3}))
	if err := b.T(); err != nil {
		t.Fatal(err)
	}
	c, err := tensor.MatMul(a, b) // (2,3)·(3,2)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{7, 11, 16, 23}
	got := c.Data().([]float32)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("MatMul via %s = %v, want %v", blas.Name(), got, want)
		}
	}
	if calls == 0 {
		t.Fatal("tensor.MatMul did not call Sgemm")
	}
}

func TestImplTranspose(t *testing.T) {
	c := make([]float64, 1)
	blas.Implementation().Dgemm(gblas.ConjTrans, gblas.NoTrans, 1, 1, 2, 1, []float64{1, 2}, 1, []float64{3, 4}, 1, 0, c, 1)
	if c[0] != 11 {
		t.Fatalf("ConjTrans Dgemm = %v, want 11", c[0])
	}
	defer func() {
		if r := recover(); r != "blas: illegal transpose" {
			t.Fatalf("recovered %v, want blas: illegal transpose", r)
		}
	}()
	blas.Implementation().Sgemm('x', gblas.NoTrans, 1, 1, 1, 1, []float32{1}, 1, []float32{1}, 1, 0, make([]float32, 1), 1)
}
