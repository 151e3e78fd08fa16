package safetensors

import (
	"path/filepath"
	"strings"
	"testing"
)

// WriteOptions.DTypes stores the tensors it names in their own float
// dtype, the others in DType, in one file.
func TestWritePerTensorDTypes(t *testing.T) {
	in := []*Tensor{
		{Name: "a", Shape: []int{2}, Data: []float32{1.5, -2}},
		{Name: "b", Shape: []int{2}, Data: []float32{1.00390625, 3}}, // 1+2^-8 is not a bfloat16
		{Name: "c", DType: I8, Shape: []int{2}, Ints: []int64{-127, 5}},
	}
	path := filepath.Join(t.TempDir(), "mixed.safetensors")
	if err := Write(path, in, WriteOptions{DTypes: map[string]string{"b": BF16}}); err != nil {
		t.Fatal(err)
	}
	f, err := ReadOptions{Ints: true}.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"a": F32, "b": BF16, "c": I8} {
		if got := f.Tensors[name].DType; got != want {
			t.Errorf("tensor %s stored as %s, want %s", name, got, want)
		}
	}
	if got := f.Tensors["b"].Data[0]; got != 1 {
		t.Errorf("b[0] = %v, want the bfloat16 nearest 1+2^-8, 1", got)
	}
	err = Write(path, in, WriteOptions{DTypes: map[string]string{"a": I8}})
	if err == nil || !strings.Contains(err.Error(), `tensor "a"`) {
		t.Errorf("an integer dtype in DTypes: error %v, want one naming tensor \"a\"", err)
	}
}
