package checkpoints

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/sparsetune/sparsetune/internal/safetensors"
	"github.com/sparsetune/sparsetune/internal/vec"
	"github.com/sparsetune/sparsetune/nn"
)

// DType is how a sparse checkpoint stores its weight matrices.
type DType string

// The weight dtypes.
const (
	F32  DType = "f32"  // float32, as version 1
	BF16 DType = "bf16" // bfloat16: half the bytes, 8 bits of mantissa
	// Int8 is int8 weights with a float32 scale per block of 32 along each
	// row (1.125 bytes a weight; llama.cpp's Q8_0 with a float32 scale).
	Int8 DType = "int8"
)

// DTypes lists the weight dtypes.
var DTypes = []DType{F32, BF16, Int8}

// ParseDType returns the dtype named s: f32, bf16 or int8.
func ParseDType(s string) (DType, error) {
	for _, d := range DTypes {
		if s == string(d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("dtype %q is not f32, bf16 or int8", s)
}

// orF32 returns d, F32 when it is empty (a version-1 manifest).
func (d DType) orF32() DType {
	if d == "" {
		return F32
	}
	return d
}

// ScaleSuffix ends the name of an Int8 tensor's scales in
// model.safetensors: transformer.h.0.mlp.c_fc.weight_scale.
const ScaleSuffix = "_scale"

// Quantizable reports whether the tensor name of model c, of the given
// shape, is one that Quantize converts: a two-dimensional weight of a
// transformer layer (attention and FFN projections; router tensors are
// not layer tensors), the token embedding or the LM head. Norms, biases,
// position and token-type embeddings, routers and classification heads
// stay float32: they are small, and the routers' gates and the heads'
// outputs are where rounding would show first.
func Quantizable(c *nn.Config, name string, shape []int) bool {
	if len(shape) != 2 {
		return false
	}
	var layers, embed string
	switch c.Family.Layout() {
	case nn.GPT2:
		layers, embed = "transformer.h.", "transformer.wte.weight"
	case nn.BERT, nn.RoBERTa:
		layers, embed = string(c.Family)+".encoder.layer.", string(c.Family)+".embeddings.word_embeddings.weight"
	case nn.LLaMA:
		layers, embed = "model.layers.", "model.embed_tokens.weight"
	}
	return strings.HasPrefix(name, layers) || name == embed || name == "lm_head.weight"
}

// Quantize converts every Quantizable tensor of s to dtype d (rounding to
// nearest: ties to even for BF16, vec.QuantizeQ8 for Int8), setting Data
// to new slices of the values stored (the old ones, which may be a
// model's, are left alone), and sets the manifest's DType. Converting back
// to F32 keeps the rounded values. WriteSparse then stores them in d.
func Quantize(s *Sparse, d DType) error {
	if _, err := ParseDType(string(d)); err != nil {
		return err
	}
	for _, name := range sortedKeys(s.Tensors) {
		t := s.Tensors[name]
		if t != nil && Quantizable(s.Config, name, t.Shape) {
			quantizeTensor(t, d)
		}
	}
	s.Manifest.DType = d
	return nil
}

// quantizeTensor converts t to d from its float32 values, into new
// slices: Data may be shared with the model it was pruned from.
func quantizeTensor(t *SparseTensor, d DType) {
	t.DType, t.BF16, t.Q8, t.Scales = d, nil, nil, nil
	t.Data = slices.Clone(t.Data)
	switch d {
	case BF16:
		t.BF16 = make([]uint16, len(t.Data))
		vec.ToBF16(t.BF16, t.Data)
		vec.WidenBF16(t.Data, t.BF16)
	case Int8:
		rows, cols := rowsCols(t.Shape)
		nb := vec.Q8Blocks(cols)
		t.Q8, t.Scales = make([]int8, len(t.Data)), make([]float32, rows*nb)
		for r := 0; r < rows; r++ {
			q, s := t.Q8[r*cols:(r+1)*cols], t.Scales[r*nb:(r+1)*nb]
			vec.QuantizeQ8(q, s, t.Data[r*cols:(r+1)*cols])
			vec.DequantizeQ8(t.Data[r*cols:(r+1)*cols], q, s)
		}
	default:
		t.DType = F32
	}
}

// rowsCols reads a 2-D shape as (rows, cols).
func rowsCols(shape []int) (int, int) { return shape[0], shape[1] }

// scaleShape is the shape of the scales of an Int8 tensor of shape.
func scaleShape(shape []int) []int {
	rows, cols := rowsCols(shape)
	return []int{rows, vec.Q8Blocks(cols)}
}

// checkDTypes checks that the tensors are stored as the manifest's dtype
// d says (the Quantizable ones in d, the others in F32) and that each
// low-precision tensor's stored form is whole and finite (Data's values
// are checkTensors' job).
func checkDTypes(c *nn.Config, ts map[string]*SparseTensor, d DType) error {
	if _, err := ParseDType(string(d.orF32())); err != nil {
		return fmt.Errorf("manifest %w", err)
	}
	for _, name := range sortedKeys(ts) {
		t := ts[name]
		if t == nil {
			continue
		}
		want := F32
		if Quantizable(c, name, t.Shape) {
			want = d.orF32()
		}
		if got := t.DType.orF32(); got != want {
			return fmt.Errorf("tensor %q is stored as %s, the manifest's dtype %s needs %s", name, got, d.orF32(), want)
		}
		n := len(t.Data)
		switch want {
		case BF16:
			if len(t.BF16) != n {
				return fmt.Errorf("tensor %q: %d bfloat16 values for %d weights", name, len(t.BF16), n)
			}
		case Int8:
			if len(t.Q8) != n {
				return fmt.Errorf("tensor %q: %d int8 values for %d weights", name, len(t.Q8), n)
			}
			ss := scaleShape(t.Shape)
			if len(t.Scales) != ss[0]*ss[1] {
				return fmt.Errorf("tensor %q: %d scales, shape %v needs %v", name+ScaleSuffix, len(t.Scales), t.Shape, ss)
			}
			if err := checkScales(name, t.Scales); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkScales rejects a negative, NaN or infinite scale.
func checkScales(name string, s []float32) error {
	for i, v := range s {
		if !(v >= 0) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("tensor %q: scale %d is %v; scales must be finite and ≥ 0", name+ScaleSuffix, i, v)
		}
	}
	return nil
}

// readTensors turns the tensors of model.safetensors into a Sparse's,
// joining each Int8 tensor with its scales, for a checkpoint of model c
// whose manifest says dtype d and whose tensors have the given shapes.
// It checks the dtypes (see checkDTypes) and the scales' shapes; the
// caller checks the rest.
func readTensors(f *safetensors.File, c *nn.Config, d DType, shapes map[string][]int) (map[string]*SparseTensor, error) {
	ts := make(map[string]*SparseTensor, len(f.Tensors))
	for _, name := range f.Names {
		t := f.Tensors[name]
		if base, ok := strings.CutSuffix(name, ScaleSuffix); ok && f.Tensors[base] != nil && f.Tensors[base].DType == safetensors.I8 {
			continue // read with its tensor
		}
		st := &SparseTensor{Shape: t.Shape, Data: t.Data}
		want := F32
		if Quantizable(c, name, shapes[name]) {
			want = d.orF32()
		}
		switch {
		case want == Int8 && t.DType == safetensors.I8:
			if err := readQ8(f, name, st, t, shapes[name]); err != nil {
				return nil, err
			}
		case t.IsInt():
			return nil, fmt.Errorf("tensor %q is stored as %s; only the weight matrices of an int8 checkpoint are integers (I8)", name, t.DType)
		case want == Int8:
			return nil, fmt.Errorf("tensor %q is stored as %s, the manifest's dtype int8 needs I8 with a %s%s tensor", name, t.DType, name, ScaleSuffix)
		case want == BF16 && t.DType != safetensors.BF16:
			return nil, fmt.Errorf("tensor %q is stored as %s, the manifest's dtype bf16 needs BF16", name, t.DType)
		case want == BF16:
			st.DType, st.BF16 = BF16, make([]uint16, len(t.Data))
			vec.ToBF16(st.BF16, t.Data) // exact: the values are bfloat16s
		}
		ts[name] = st
	}
	return ts, nil
}

// readQ8 fills st, of an I8 tensor t, from t and its scales tensor.
func readQ8(f *safetensors.File, name string, st *SparseTensor, t *safetensors.Tensor, shape []int) error {
	if len(t.Shape) != 2 || len(shape) != 2 || t.Shape[0] != shape[0] || t.Shape[1] != shape[1] {
		return fmt.Errorf("tensor %q has shape %v, the config and manifest need %v", name, t.Shape, shape)
	}
	sc := f.Tensors[name+ScaleSuffix]
	ss := scaleShape(shape)
	switch {
	case sc == nil:
		return fmt.Errorf("tensor %q is I8 but its scales %q are missing", name, name+ScaleSuffix)
	case sc.DType != safetensors.F32:
		return fmt.Errorf("tensor %q is stored as %s; scales are F32", name+ScaleSuffix, sc.DType)
	case len(sc.Shape) != 2 || sc.Shape[0] != ss[0] || sc.Shape[1] != ss[1]:
		return fmt.Errorf("tensor %q has shape %v; the scales of %v weights in blocks of %d are %v", name+ScaleSuffix, sc.Shape, shape, vec.Q8Block, ss)
	}
	if err := checkScales(name, sc.Data); err != nil {
		return err
	}
	st.DType, st.Scales = Int8, sc.Data
	st.Q8, st.Data = make([]int8, len(t.Ints)), make([]float32, len(t.Ints))
	for i, v := range t.Ints {
		st.Q8[i] = int8(v)
	}
	for r := 0; r < ss[0]; r++ {
		cols := shape[1]
		vec.DequantizeQ8(st.Data[r*cols:(r+1)*cols], st.Q8[r*cols:(r+1)*cols], st.Scales[r*ss[1]:(r+1)*ss[1]])
	}
	return nil
}

// writeTensors lists the safetensors tensors of ts (sorted by name), each
// Int8 tensor followed by its scales, and the float dtype of each BF16
// one.
func writeTensors(ts map[string]*SparseTensor) ([]*safetensors.Tensor, map[string]string) {
	var out []*safetensors.Tensor
	dtypes := map[string]string{}
	for _, n := range sortedKeys(ts) {
		t := ts[n]
		switch t.DType {
		case BF16:
			out = append(out, &safetensors.Tensor{Name: n, Shape: t.Shape, Data: t.Data})
			dtypes[n] = safetensors.BF16
		case Int8:
			ints := make([]int64, len(t.Q8))
			for i, v := range t.Q8 {
				ints[i] = int64(v)
			}
			out = append(out, &safetensors.Tensor{Name: n, DType: safetensors.I8, Shape: t.Shape, Ints: ints},
				&safetensors.Tensor{Name: n + ScaleSuffix, Shape: scaleShape(t.Shape), Data: t.Scales})
		default:
			out = append(out, &safetensors.Tensor{Name: n, DType: safetensors.F32, Shape: t.Shape, Data: t.Data})
		}
	}
	return out, dtypes
}

// QuantizeDir re-stores the sparse checkpoint directory dir with its weight
// matrices in dtype d (ReadSparse, Quantize, WriteSparse): atomically, the
// manifest otherwise unchanged, the directory's other files (tokenizer)
// kept. It is how a hardened checkpoint becomes a low-precision one.
func QuantizeDir(dir string, d DType) error {
	if _, err := ParseDType(string(d)); err != nil {
		return err
	}
	s, err := ReadSparse(dir)
	if err != nil {
		return err
	}
	if err := Quantize(s, d); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var extra []string
	for _, en := range entries {
		switch n := en.Name(); {
		case n == modelConfigFile || n == modelWeightsFile || n == SparseManifestFile || !en.Type().IsRegular():
		default:
			extra = append(extra, n)
		}
	}
	return WriteSparse(dir, s, dir, extra)
}
