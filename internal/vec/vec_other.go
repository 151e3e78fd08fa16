//go:build !amd64

package vec

// hasAsm reports whether this architecture has the assembly kernels: only
// Scalar is Supported here, so none of the functions below is called.
const hasAsm = false

const noAsm = "vec: no assembly on this architecture"

func dotAVX2(x, y []float32) float32                                       { panic(noAsm) }
func axpyAVX2(a float32, x, y []float32)                                   { panic(noAsm) }
func dotRows3AVX2(x0, x1, x2, w *float32, d, k int, o0, o1, o2 *float32)   { panic(noAsm) }
func axpyRows6AVX2(a0, a1, a2, a3, a4, a5, hb, w *float32, d, k int)       { panic(noAsm) }
func dotAVX512(x, y []float32) float32                                     { panic(noAsm) }
func axpyAVX512(a float32, x, y []float32)                                 { panic(noAsm) }
func gemvNAVX512(w, x *float32, d, k int, y *float32)                      { panic(noAsm) }
func gemvTAVX512(w, h *float32, k, n int, y *float32)                      { panic(noAsm) }
func dotRows3AVX512(x0, x1, x2, w *float32, d, k int, o0, o1, o2 *float32) { panic(noAsm) }
func axpyRows6AVX512(a0, a1, a2, a3, a4, a5, hb, w *float32, d, k int)     { panic(noAsm) }
func dotBF16AVX2(x []float32, w []uint16) float32                          { panic(noAsm) }
func axpyBF16AVX2(a float32, w []uint16, y []float32)                      { panic(noAsm) }
func dotQ8AVX2(x []float32, q []int8, s []float32) float32                 { panic(noAsm) }
func axpyQ8AVX2(a float32, q []int8, s []float32, y []float32)             { panic(noAsm) }
func dotBF16AVX512(x []float32, w []uint16) float32                        { panic(noAsm) }
func axpyBF16AVX512(a float32, w []uint16, y []float32)                    { panic(noAsm) }
func dotQ8AVX512(x []float32, q []int8, s []float32) float32               { panic(noAsm) }
func axpyQ8AVX512(a float32, q []int8, s []float32, y []float32)           { panic(noAsm) }
func widenBF16AVX2(dst []float32, h []uint16)                              { panic(noAsm) }
func dequantQ8AVX2(dst []float32, q []int8, s []float32)                   { panic(noAsm) }
