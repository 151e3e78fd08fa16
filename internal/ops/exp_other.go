//go:build !amd64

package ops

func sigmoid32s(v []float32) { sigmoid32sGo(v) }

func exp32s(v []float32) { exp32sGo(v) }

func geluArg32(a, x, b []float32) {
	for j := range a {
		u := x[j] + b[j]
		a[j] = 2 * geluK * u * (1 + geluC*u*u)
	}
}

func biasMul32(y, x, b, a []float32, s float32) {
	for j := range y {
		y[j] = (x[j] + b[j]) * a[j] * s
	}
}
