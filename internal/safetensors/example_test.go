package safetensors_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/sparsetune/sparsetune/internal/safetensors"
)

func Example() {
	dir, err := os.MkdirTemp("", "safetensors-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	err = safetensors.Write(path, []*safetensors.Tensor{
		{Name: "wte.weight", Shape: []int{2, 3}, Data: []float32{0.1, 0.2, 0.3, 0.4, 0.5, 0.6}},
		{Name: "input_ids", DType: safetensors.I64, Shape: []int{1, 2}, Ints: []int64{15496, 995}},
	}, safetensors.WriteOptions{DType: safetensors.BF16, Metadata: map[string]string{"format": "pt"}})
	if err != nil {
		panic(err)
	}

	// Read alone rejects the integer tensor; fixtures with token ids ask
	// for them.
	_, err = safetensors.Read(path)
	fmt.Println(err != nil)

	f, err := safetensors.ReadOptions{Ints: true}.Read(path)
	if err != nil {
		panic(err)
	}
	wte, _ := f.Lookup("wte.weight")
	ids, _ := f.Ints("input_ids")
	fmt.Println(f.Names, f.Metadata)
	fmt.Println(wte.DType, wte.Shape, wte.Data) // BF16 keeps about 3 significant digits
	fmt.Println(ids)
	// Output:
	// true
	// [input_ids wte.weight] map[format:pt]
	// BF16 [2 3] [0.100097656 0.20019531 0.30078125 0.40039062 0.5 0.6015625]
	// [15496 995]
}
