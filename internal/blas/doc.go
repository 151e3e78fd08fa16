// Package blas picks a BLAS library at run time, without cgo, and exposes its
// matrix multiply to the rest of sparsetune and to gorgonia.
//
// Matrix multiplication is most of the arithmetic of a training step, and an
// optimised BLAS (OpenBLAS, MKL, BLIS) is 10–30 times faster than gonum's
// pure-Go one on the CPUs this project targets. The library is loaded with
// dlopen through github.com/ebitengine/purego, so the program builds with
// CGO_ENABLED=0, needs no C toolchain, and still runs (on gonum) where no
// library is installed.
//
// # Selection
//
// The first call to any function of this package (or an explicit Init) reads
// two environment variables:
//
//	SPARSETUNE_BLAS     "" or "auto": OpenBLAS if it can be loaded, else gonum, silently.
//	                    "gonum": pure Go, no library is loaded.
//	                    "openblas", "mkl", "blis": that library, searched for by its usual names.
//	                    anything else: a path or soname of a shared library exporting
//	                    cblas_sgemm and cblas_dgemm, e.g. /opt/intel/oneapi/mkl/latest/lib/libmkl_rt.so.2.
//	SPARSETUNE_THREADS  the library's thread count; unset leaves the library's own default
//	                    (OpenBLAS reads OPENBLAS_NUM_THREADS, MKL reads MKL_NUM_THREADS).
//
// A library that was asked for by name or path and cannot be loaded is an
// error, returned by Init (for the CLI to print); the package then runs on
// gonum so that a misconfiguration never crashes a run.
//
// # Conventions
//
// Sgemm, Dgemm and Gemm take row-major matrices, like gonum's blas package
// and CBLAS with CblasRowMajor: lda, ldb and ldc are row strides. Argument
// errors (negative sizes, short slices, small strides) are programmer errors
// and panic with gonum's messages, before any library is called, so that a
// bad call can never make C code read or write outside a Go slice.
//
// Implementation returns a value that gorgonia.Use and tensor.Use accept, so
// that the matrix multiplies of stock gorgonia ops run on the chosen library
// too.
package blas
