package router

import (
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/ops"
)

// The gate ops use internal/ops' framework under the short names its own
// ops use.

type float = ops.Float
type base = ops.Base
type buffer = ops.Buffer

func newBase(name string) base                       { return ops.NewBase("router." + name) }
func fnType(out int, ins ...int) hm.Type             { return ops.FnType(out, ins...) }
func slice[T float](v G.Value) []T                   { return ops.Slice[T](v) }
func scalarOf(v G.Value) float64                     { return ops.Scalar(v) }
func scalarValue(dt tensor.Dtype, x float64) G.Value { return ops.ScalarValue(dt, x) }
