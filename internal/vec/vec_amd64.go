package vec

//go:noescape
func dotAVX2(x, y []float32) float32

//go:noescape
func axpyAVX2(a float32, x, y []float32)
