//go:build !amd64

package ops

func sigmoid32s(v []float32) { sigmoid32sGo(v) }

func exp32s(v []float32) { exp32sGo(v) }
