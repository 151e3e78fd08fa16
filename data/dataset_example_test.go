package data

import "fmt"

// ExampleLoad tokenizes a small classification file with a BERT tokenizer,
// carving a validation record out of it, and batches one shuffled epoch.
func ExampleLoad() {
	tok, err := LoadTokenizer("testdata/tokenizer/bert-base-uncased")
	if err != nil {
		fmt.Println(err)
		return
	}
	spec := Spec{Task: Classification, Train: "testdata/datasets/reviews.csv", SeqLen: 8, Seed: 1}
	ds, err := Load(spec, tok, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("labels:", ds.Labels)
	fmt.Println("valid:", ds.Valid.IDs)
	const epoch = 0
	for b := range ds.Train.Batches(Shuffle(ds.Train.Len(), spec.Seed, epoch), 2, spec.SeqLen, tok.PAD()) {
		fmt.Println("rows", b.Rows, "examples", b.Index, "labels", b.Labels)
	}
	// Output:
	// labels: [neg pos]
	// valid: [a3]
	// rows 2 examples [2 0] labels [0 1]
	// rows 1 examples [1 -1] labels [0 -100]
}
