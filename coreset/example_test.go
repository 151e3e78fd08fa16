package coreset_test

import (
	"fmt"

	"github.com/sparsetune/sparsetune/coreset"
)

// Record two epochs of logits, score by AUM and keep half with CCS.
func Example() {
	d := coreset.NewDynamics(2)
	logits := map[string][2][]float32{ // id → epoch 0, epoch 1; every label is 0
		"easy":   {{4, 0}, {5, 0}},
		"medium": {{1, 0}, {2, 0}},
		"hard":   {{0, 1}, {1, 0}},
		"noisy":  {{0, 3}, {0, 4}},
	}
	for id, z := range logits {
		for epoch := range 2 {
			if err := d.Record(epoch, id, z[epoch], 0); err != nil {
				fmt.Println(err)
				return
			}
		}
	}
	scores, err := d.Scores(coreset.AUM, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	budget, _ := coreset.Budget(d.Len(), 0.5)
	// β 0.25 drops the one hardest example, "noisy"; 2 strata over the rest.
	ids, rep, err := coreset.CCS(scores, budget, 0.25, 2, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("-AUM of noisy:", scores["noisy"])
	fmt.Println("dropped:", rep.Dropped)
	for _, s := range rep.Strata {
		fmt.Printf("stratum [%g, %g]: %d available, %d taken\n", s.Lo, s.Hi, s.Available, s.Taken)
	}
	fmt.Println(len(ids), "kept")
	// Output:
	// -AUM of noisy: 3.5
	// dropped: 1
	// stratum [-4.5, -2.25]: 1 available, 1 taken
	// stratum [-2.25, 0]: 2 available, 1 taken
	// 2 kept
}
