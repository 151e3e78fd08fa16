//go:build !amd64

package vec

func dotAVX2(x, y []float32) float32     { return dotGo(x, y) }
func axpyAVX2(a float32, x, y []float32) { axpyGo(a, x, y) }
