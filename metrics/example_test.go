package metrics_test

import (
	"fmt"

	"github.com/sparsetune/sparsetune/metrics"
	"github.com/sparsetune/sparsetune/nn"
)

// A classifier's evaluation: each example's logits and label in, the
// figures of a run's evaluation line out (the loss is the mean of
// log(1+e⁻²), log(1+e⁻¹) and log(1+e)).
func ExampleAccumulator() {
	acc := metrics.New(nn.Classification, 2)
	acc.AddRow([]float32{2, 0}, 0) // right
	acc.AddRow([]float32{0, 1}, 1) // right
	acc.AddRow([]float32{1, 0}, 1) // wrong
	m := acc.Metrics()
	fmt.Println(m.Name(), m.Main())
	fmt.Println(m)
	// Output:
	// accuracy 0.6666666666666666
	// loss   0.5845 | accuracy 0.6667 | macro-F1 0.6667 | 3 examples
}
