package router_test

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/loss"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
)

// Stage 1 wiring: a model built with soft router gates, the expected
// compute ĉ of its routers and the Lagrangian penalty towards a target.
// Fresh routers are open with probability 0.95 for every token, so ĉ is
// 0.95 and the penalty λ1·(ĉ − t) + λ2·(ĉ − t)² at t = 0.9 is small.
func ExampleSet_GateFunc() {
	c := &nn.Config{Family: nn.GPT2, Task: nn.CausalLM, Vocab: 11, D: 8, L: 2, H: 2, KVH: 2, F: 16, MaxPos: 8,
		NormEps: 1e-5, Act: "gelu_new", Tied: true, PadID: -1, BOSID: -1, EOSID: -1}
	m := &nn.Model{Config: c, Params: nn.InitParams(c, 1, tensor.Float32)}
	rc := router.DefaultConfig()
	rc.GroupSize = 4
	rs, err := router.New(rc, c, 1, tensor.Float32)
	if err != nil {
		panic(err)
	}
	gr, err := m.Build(nn.BuildOptions{B: 1, T: 4, Gates: rs.GateFunc(router.Soft)})
	if err != nil {
		panic(err)
	}
	if err := gr.Feed(&nn.Batch{IDs: []int{1, 2, 3, 4}}); err != nil {
		panic(err)
	}
	cost, err := loss.NewCost(c, rc.GroupSize, 4, rs.FLOPsPerLayer())
	if err != nil {
		panic(err)
	}
	head, ffn := rs.Probs()
	cHat, err := loss.ExpectedCompute(cost, head, ffn)
	if err != nil {
		panic(err)
	}
	lag := &loss.Lagrangian{Lambda1: 1, Lambda2: 1, LR: 0.01}
	pen, err := lag.Penalty(cHat)
	if err != nil {
		panic(err)
	}
	if err := lag.Feed(0.9); err != nil {
		panic(err)
	}
	vm := G.NewTapeMachine(gr.G)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		panic(err)
	}
	fmt.Printf("%d router parameters, %.0f FLOPs per token and layer\n", len(rs.Params()), rs.FLOPsPerLayer())
	fmt.Printf("ĉ = %.3f, penalty = %.4f\n", cHat.Value().Data(), pen.Value().Data())
	// Output:
	// 8 router parameters, 102 FLOPs per token and layer
	// ĉ = 0.950, penalty = 0.0525
}
