package ops

import "github.com/sparsetune/sparsetune/internal/vec"

// kernel is the level the float32 exp, sigmoid and GELU kernels run at:
// package vec's (the best the CPU supports, or SPARSETUNE_KERNELS's
// choice), so that the engine's row kernels and these agree; tests set it
// to run each level in turn. Off amd64 only vec.Scalar is supported.
var kernel = vec.Kernels()
