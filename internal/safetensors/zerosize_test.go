package safetensors

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestZeroSizedTensors: tensors with a 0 dimension (a pruned layer that
// keeps no head) round-trip, alone and beside non-empty ones, including a
// file whose data buffer is empty.
func TestZeroSizedTensors(t *testing.T) {
	for _, ts := range [][]*Tensor{
		{{Name: "a", Shape: []int{16, 0}}, {Name: "b", Shape: []int{0}}},
		{{Name: "a", Shape: []int{0, 3}}, {Name: "b", Shape: []int{2}, Data: []float32{1, 2}}, {Name: "c", Shape: []int{4, 0}, Data: []float32{}}},
	} {
		for _, dt := range []string{F32, BF16} {
			p := filepath.Join(t.TempDir(), "z.safetensors")
			if err := Write(p, ts, WriteOptions{DType: dt}); err != nil {
				t.Fatal(err)
			}
			f, err := Read(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range ts {
				got := f.Tensors[want.Name]
				if got == nil || !slices.Equal(got.Shape, want.Shape) || !slices.Equal(got.Data, want.Data) {
					t.Errorf("%s %s: got %+v, want shape %v data %v", dt, want.Name, got, want.Shape, want.Data)
				}
			}
		}
	}
}
