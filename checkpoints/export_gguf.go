package checkpoints

import (
	"errors"
	"fmt"

	"github.com/sparsetune/sparsetune/internal/gguf"
	"github.com/sparsetune/sparsetune/nn"
)

// GGUFOptions says how ExportGGUF writes a model.
type GGUFOptions struct {
	// Type is the type of the matrices: gguf.F32, gguf.F16 or gguf.Q8_0.
	// Vectors (norms, biases, rope_freqs) stay F32, as llama.cpp keeps them;
	// a Q8_0 matrix whose rows are not a multiple of 32 long is written F16,
	// as llama.cpp's convert_hf_to_gguf.py does.
	Type gguf.TensorType
	// TokenizerDir is the directory whose tokenizer.json (and
	// tokenizer_config.json) the file's tokenizer metadata comes from; ""
	// writes a placeholder byte-level vocabulary (GGUFVocab).
	TokenizerDir string
}

// ErrGGUFUnsupported is wrapped by the errors of models GGUF export cannot
// write (encoders, classifiers).
var ErrGGUFUnsupported = errors.New("not supported by GGUF export")

// ggufArch is the llama.cpp architecture of each family it can run.
var ggufArch = map[nn.Family]string{nn.LLaMA: "llama", nn.Mistral: "llama", nn.Qwen2: "qwen2", nn.Qwen3: "qwen3", nn.GPT2: "gpt2"}

// GGUFFileType is general.file_type for a matrix type (llama_ftype:
// ALL_F32, MOSTLY_F16, MOSTLY_Q8_0).
var GGUFFileType = map[gguf.TensorType]uint32{gguf.F32: 0, gguf.F16: 1, gguf.Q8_0: 7}

// ExportGGUF writes the static part of s as a GGUF file for llama.cpp at
// path, atomically (internal/atomicfile), and returns notes: one line for
// each way the file is bigger than the sparse model (see BuildGGUF).
func ExportGGUF(s *Sparse, path string, opt GGUFOptions) ([]string, error) {
	f, notes, err := BuildGGUF(s, opt)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", path, err)
	}
	if err := gguf.WriteFile(path, f); err != nil {
		return nil, fmt.Errorf("export %s: %w", path, err)
	}
	return notes, nil
}

// BuildGGUF maps s to a GGUF file as llama.cpp reads it: architecture
// "llama" (families llama and mistral), "qwen2", "qwen3" or "gpt2", the
// tensor names and hyperparameter keys of llama.cpp's convert_hf_to_gguf.py,
// and tokenizer metadata (GGUFVocab). Docs: docs/gguf.md.
//
// llama.cpp's llama, qwen2, qwen3 and gpt2 graphs take one head count and
// one FFN width for every layer, so the kept units are laid out in the
// widest layer's shape and the rest zero-padded, which adds exactly 0:
//
//   - FFN groups close up from slot 0 in every layer; the FFN width is the
//     widest layer's kept groups (at least one group).
//   - Without grouped-query attention (KVH = H) heads close up the same way
//     for llama.cpp's llama and qwen3 graphs: the head count is the most
//     heads a layer keeps (at least one), a padded head has zero query, key
//     and value weights (and biases) and zero output columns. With
//     grouped-query attention, and in the qwen2 and gpt2 graphs (which size
//     the query projection, or the fused q|k|v, by D), heads keep their
//     slots among all H.
//
// Routers are dropped, as in ExportHF: the file equals the sparse model
// when every kept unit is dense (RoutedUnits() == 0) and is the superset
// model otherwise. The notes say how many zero units padding added.
func BuildGGUF(s *Sparse, opt GGUFOptions) (*gguf.File, []string, error) {
	if err := checkSparse(s); err != nil {
		return nil, nil, err
	}
	c := s.Config
	arch, ok := ggufArch[c.Family]
	if !ok || c.Task != nn.CausalLM {
		return nil, nil, fmt.Errorf("%s %s: %w (want a causal language model of family llama, mistral, qwen2, qwen3 or gpt2)", c.Family, c.Task, ErrGGUFUnsupported)
	}
	if _, ok := GGUFFileType[opt.Type]; !ok {
		return nil, nil, fmt.Errorf("tensor type %s: %w (want F32, F16 or Q8_0)", opt.Type, ErrGGUFUnsupported)
	}
	lay := newGGUFLayout(s)
	b := &ggufBuilder{typ: opt.Type, arch: arch}
	if c.Family.Layout() == nn.GPT2 {
		b.gpt2(s, lay)
	} else {
		b.llama(s, lay)
	}
	if b.err != nil {
		return nil, nil, b.err
	}
	vocab, err := GGUFVocab(c, opt.TokenizerDir)
	if err != nil {
		return nil, nil, err
	}
	f := &gguf.File{KV: append(b.meta(c, lay), vocab...), Tensors: b.tensors}
	if err := f.Check(); err != nil {
		return nil, nil, err
	}
	return f, lay.notes(c, s.Manifest.GroupSize), nil
}

// ggufLayout is where each layer's kept units go in the padded shapes.
type ggufLayout struct {
	heads, groups   int     // head and group slots per layer
	k               int     // neurons per group
	headPos, grpPos [][]int // per layer: the slot of each kept unit
	padHeads        int     // zero heads added over all layers
	padGroups       int     // zero groups added over all layers
}

func newGGUFLayout(s *Sparse) *ggufLayout {
	c, m := s.Config, &s.Manifest
	// llama.cpp's qwen2 graph sizes the query projection D × D whatever the
	// head count, so there heads keep their slots too.
	closeHeads := c.Family.Layout() == nn.LLaMA && c.KVH == c.H && c.Family != nn.Qwen2
	lay := &ggufLayout{heads: 1, groups: 1, k: m.GroupSize}
	if !closeHeads {
		lay.heads = c.H
	}
	for _, l := range m.Layers {
		lay.groups = max(lay.groups, len(l.Groups))
		if closeHeads {
			lay.heads = max(lay.heads, len(l.Heads))
		}
	}
	for _, l := range m.Layers {
		hp := l.Heads // GQA and GPT-2: own slots
		if closeHeads {
			hp = seq(len(l.Heads))
		}
		lay.headPos = append(lay.headPos, hp)
		lay.grpPos = append(lay.grpPos, seq(len(l.Groups)))
		lay.padHeads += lay.heads - len(l.Heads)
		lay.padGroups += lay.groups - len(l.Groups)
	}
	return lay
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// notes says what the padding added, in one line each.
func (lay *ggufLayout) notes(c *nn.Config, k int) []string {
	var out []string
	if lay.padHeads > 0 {
		out = append(out, fmt.Sprintf("%d removed attention heads are zero-padded (llama.cpp's %s graph has one head count for all layers: %d per layer)", lay.padHeads, ggufArch[c.Family], lay.heads))
	}
	if lay.padGroups > 0 {
		out = append(out, fmt.Sprintf("%d removed FFN groups (%d neurons) are zero-padded (llama.cpp's %s graph has one FFN width for all layers: %d)", lay.padGroups, lay.padGroups*k, ggufArch[c.Family], lay.groups*k))
	}
	return out
}

// padded returns tensor name of s in the padded layout: a tensor that
// pruning cut is scattered into a zero tensor with the layout's slots, any
// other is returned as it is.
func padded(s *Sparse, lay *ggufLayout, rules map[string]PruneRule, name string) ([]int, []float32) {
	t := s.Tensors[name]
	r, ok := rules[name]
	if !ok {
		return t.Shape, t.Data
	}
	pos, units := lay.grpPos[r.Layer], lay.groups
	if r.Unit == HeadUnits {
		pos, units = lay.headPos[r.Layer], lay.heads
	}
	shape := append([]int(nil), t.Shape...)
	shape[r.Axis] = r.Blocks * units * r.Width
	dst := make([]float32, numel(shape))
	r.Scatter(dst, shape, t.Data, t.Shape, pos, units)
	return shape, dst
}

// ggufBuilder collects tensors and remembers the first error.
type ggufBuilder struct {
	typ     gguf.TensorType
	arch    string
	tensors []gguf.Tensor
	err     error
}

// add encodes a row-major tensor of shape (rows…, cols) under name: dims
// are listed innermost first. Matrices get b.typ, vectors F32.
func (b *ggufBuilder) add(name string, shape []int, data []float32) {
	if b.err != nil {
		return
	}
	typ := gguf.F32
	if len(shape) == 2 {
		typ = b.typ
		if typ == gguf.Q8_0 && shape[1]%gguf.Q8Block != 0 {
			typ = gguf.F16
		}
	}
	dims := make([]uint64, len(shape))
	for i, d := range shape {
		dims[len(shape)-1-i] = uint64(d)
	}
	enc, err := gguf.Encode(typ, data, shape[len(shape)-1])
	if err != nil {
		b.err = fmt.Errorf("tensor %s: %w", name, err)
		return
	}
	b.tensors = append(b.tensors, gguf.Tensor{Name: name, Dims: dims, Type: typ, Data: enc})
}

// meta is the hyperparameter metadata, under llama.cpp's keys.
func (b *ggufBuilder) meta(c *nn.Config, lay *ggufLayout) []gguf.KV {
	a := b.arch + "."
	kv := []gguf.KV{
		{Key: "general.architecture", Value: b.arch},
		{Key: "general.name", Value: "sparsetune " + string(c.Family)},
		{Key: "general.file_type", Value: GGUFFileType[b.typ]},
		{Key: a + "block_count", Value: uint32(c.L)},
		{Key: a + "context_length", Value: uint32(c.MaxPos)},
		{Key: a + "embedding_length", Value: uint32(c.D)},
		{Key: a + "feed_forward_length", Value: uint32(lay.groups * lay.k)},
		{Key: a + "attention.head_count", Value: uint32(lay.heads)},
	}
	if c.Family.Layout() == nn.GPT2 {
		return append(kv, gguf.KV{Key: a + "attention.layer_norm_epsilon", Value: float32(c.NormEps)})
	}
	kvh := lay.heads // heads close up with their key/value heads
	if c.KVH < c.H {
		kvh = c.KVH
	}
	S := c.S()
	kv = append(kv,
		gguf.KV{Key: a + "attention.head_count_kv", Value: uint32(kvh)},
		gguf.KV{Key: a + "attention.layer_norm_rms_epsilon", Value: float32(c.NormEps)},
		gguf.KV{Key: a + "rope.freq_base", Value: float32(c.RoPETheta)},
		gguf.KV{Key: a + "rope.dimension_count", Value: uint32(S)},
	)
	if S*lay.heads != c.D { // llama.cpp's default head size is D / head_count
		kv = append(kv, gguf.KV{Key: a + "attention.key_length", Value: uint32(S)}, gguf.KV{Key: a + "attention.value_length", Value: uint32(S)})
	}
	if c.RoPEScale.Type == "linear" {
		kv = append(kv, gguf.KV{Key: a + "rope.scaling.type", Value: "linear"}, gguf.KV{Key: a + "rope.scaling.factor", Value: float32(c.RoPEScale.Factor)})
	}
	return kv
}
