package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"gorgonia.org/tensor"
)

// Param is one named weight of the model. Names are Hugging Face's, so they
// double as checkpoint keys.
type Param struct {
	Name  string
	Shape []int
	Value *tensor.Dense // float32 (training) or float64 (gradient checks)
	// Frozen marks a weight that training leaves as it is: graphs built
	// after it is set compute no gradient for it (Graph.Compile), and an
	// optimizer over Params.Trainable keeps no state for it.
	Frozen bool
	init   initKind
	decay  bool // subject to weight decay: matrices, not biases or norm gains
}

type initKind int

const (
	initNormal   initKind = iota // N(0, 0.02²), HF's initializer_range default
	initResidual                 // GPT-2 residual projections: N(0, (0.02/√(2L))²)
	initZeros
	initOnes
)

// Decay reports whether AdamW's weight decay applies to the parameter: the
// usual convention (nanoGPT, HF Trainer) decays matrices and embeddings but
// not biases and normalisation gains.
func (p *Param) Decay() bool { return p.decay }

// Numel is the number of elements.
func (p *Param) Numel() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// Specs lists the model's parameters, names and shapes, in a fixed order.
func (c *Config) Specs() []*Param {
	var ps []*Param
	add := func(name string, k initKind, shape ...int) {
		ps = append(ps, &Param{Name: name, Shape: shape, init: k, decay: len(shape) >= 2})
	}
	lin := func(prefix string, out, in int, bias bool) { // nn.Linear: weight (out, in)
		add(prefix+".weight", initNormal, out, in)
		if bias {
			add(prefix+".bias", initZeros, out)
		}
	}
	norm := func(prefix string, bias bool) {
		add(prefix+".weight", initOnes, c.D)
		if bias {
			add(prefix+".bias", initZeros, c.D)
		}
	}
	D, F, S := c.D, c.F, c.S()
	switch c.Family.Layout() {
	case GPT2:
		add("transformer.wte.weight", initNormal, c.Vocab, D)
		add("transformer.wpe.weight", initNormal, c.MaxPos, D)
		for i := 0; i < c.L; i++ {
			p := fmt.Sprintf("transformer.h.%d.", i)
			norm(p+"ln_1", true)
			add(p+"attn.c_attn.weight", initNormal, D, 3*D) // Conv1D: (in, out)
			add(p+"attn.c_attn.bias", initZeros, 3*D)
			add(p+"attn.c_proj.weight", initResidual, D, D)
			add(p+"attn.c_proj.bias", initZeros, D)
			norm(p+"ln_2", true)
			add(p+"mlp.c_fc.weight", initNormal, D, F)
			add(p+"mlp.c_fc.bias", initZeros, F)
			add(p+"mlp.c_proj.weight", initResidual, F, D)
			add(p+"mlp.c_proj.bias", initZeros, D)
		}
		norm("transformer.ln_f", true)
	case BERT, RoBERTa:
		e := string(c.Family) + ".embeddings."
		add(e+"word_embeddings.weight", initNormal, c.Vocab, D)
		add(e+"position_embeddings.weight", initNormal, c.MaxPos, D)
		add(e+"token_type_embeddings.weight", initNormal, c.TypeVocab, D)
		norm(e+"LayerNorm", true)
		for i := 0; i < c.L; i++ {
			p := fmt.Sprintf("%s.encoder.layer.%d.", c.Family, i)
			lin(p+"attention.self.query", D, D, true)
			lin(p+"attention.self.key", D, D, true)
			lin(p+"attention.self.value", D, D, true)
			lin(p+"attention.output.dense", D, D, true)
			norm(p+"attention.output.LayerNorm", true)
			lin(p+"intermediate.dense", F, D, true)
			lin(p+"output.dense", D, F, true)
			norm(p+"output.LayerNorm", true)
		}
	case LLaMA:
		add("model.embed_tokens.weight", initNormal, c.Vocab, D)
		for i := 0; i < c.L; i++ {
			p := fmt.Sprintf("model.layers.%d.", i)
			norm(p+"input_layernorm", false)
			lin(p+"self_attn.q_proj", c.H*S, D, c.AttnBias)
			lin(p+"self_attn.k_proj", c.KVH*S, D, c.AttnBias)
			lin(p+"self_attn.v_proj", c.KVH*S, D, c.AttnBias)
			lin(p+"self_attn.o_proj", D, c.H*S, c.OBias)
			if c.QKNorm { // Qwen3RMSNorm(head_dim), shared by the heads
				add(p+"self_attn.q_norm.weight", initOnes, S)
				add(p+"self_attn.k_norm.weight", initOnes, S)
			}
			norm(p+"post_attention_layernorm", false)
			lin(p+"mlp.gate_proj", F, D, c.MLPBias)
			lin(p+"mlp.up_proj", F, D, c.MLPBias)
			lin(p+"mlp.down_proj", D, F, c.MLPBias)
		}
		norm("model.norm", false)
	}
	ps = append(ps, c.headSpecs()...)
	return ps
}

// headSpecs are the task head's parameters.
func (c *Config) headSpecs() []*Param {
	nl := len(c.Labels)
	switch {
	case c.Task == CausalLM && !c.Tied:
		return []*Param{{Name: "lm_head.weight", Shape: []int{c.Vocab, c.D}, decay: true}}
	case c.Task == Classification && c.Family == BERT:
		return []*Param{
			{Name: "bert.pooler.dense.weight", Shape: []int{c.D, c.D}, decay: true},
			{Name: "bert.pooler.dense.bias", Shape: []int{c.D}, init: initZeros},
			{Name: "classifier.weight", Shape: []int{nl, c.D}, decay: true},
			{Name: "classifier.bias", Shape: []int{nl}, init: initZeros},
		}
	case c.Task == Classification && c.Family == RoBERTa:
		return []*Param{
			{Name: "classifier.dense.weight", Shape: []int{c.D, c.D}, decay: true},
			{Name: "classifier.dense.bias", Shape: []int{c.D}, init: initZeros},
			{Name: "classifier.out_proj.weight", Shape: []int{nl, c.D}, decay: true},
			{Name: "classifier.out_proj.bias", Shape: []int{nl}, init: initZeros},
		}
	case c.Task == Classification: // GPT-2, LLaMA: a bias-free score head on the last real token
		return []*Param{{Name: "score.weight", Shape: []int{nl, c.D}, decay: true}}
	}
	return nil
}

// HeadNames are the names of the task head's parameters (lm_head, score,
// classifier, BERT's pooler): the tensors a new task replaces.
func (c *Config) HeadNames() []string {
	var out []string
	for _, p := range c.headSpecs() {
		out = append(out, p.Name)
	}
	return out
}

// Params holds a model's weights by name, in Specs order.
type Params struct {
	List   []*Param
	byName map[string]*Param
}

func newParams(list []*Param) *Params {
	p := &Params{List: list, byName: make(map[string]*Param, len(list))}
	for _, q := range list {
		p.byName[q.Name] = q
	}
	return p
}

// Get returns the named parameter, or nil.
func (p *Params) Get(name string) *Param { return p.byName[name] }

// Trainable lists the parameters that are not Frozen, in Specs order: the
// order of a compiled graph's gradients.
func (p *Params) Trainable() []*Param {
	var out []*Param
	for _, q := range p.List {
		if !q.Frozen {
			out = append(out, q)
		}
	}
	return out
}

// Count is the total number of scalar parameters.
func (p *Params) Count() int {
	n := 0
	for _, q := range p.List {
		n += q.Numel()
	}
	return n
}

// InitParams creates random parameters for c as Hugging Face initialises
// them (normal weights with std 0.02, GPT-2's residual projections scaled by
// 1/√(2L) as in the GPT-2 paper §2.3, zero biases, unit norm gains).
func InitParams(c *Config, seed uint64, dt tensor.Dtype) *Params {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	list := c.Specs()
	for _, p := range list {
		p.Value = tensor.New(tensor.Of(dt), tensor.WithShape(p.Shape...))
		std := 0.02
		if p.init == initResidual {
			std = 0.02 / math.Sqrt(2*float64(c.L))
		}
		fill(p.Value, func() float64 {
			switch p.init {
			case initZeros:
				return 0
			case initOnes:
				return 1
			}
			return rng.NormFloat64() * std
		})
	}
	return newParams(list)
}

func fill(t *tensor.Dense, f func() float64) {
	switch d := t.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = float32(f())
		}
	case []float64:
		for i := range d {
			d[i] = f()
		}
	}
}

// Convert returns a deep copy of p with values of dtype dt.
func (p *Params) Convert(dt tensor.Dtype) *Params {
	list := make([]*Param, len(p.List))
	for i, q := range p.List {
		c := *q
		c.Value = tensor.New(tensor.Of(dt), tensor.WithShape(q.Shape...))
		src := floats64(q.Value)
		j := 0
		fill(c.Value, func() float64 { j++; return src[j-1] })
		list[i] = &c
	}
	return newParams(list)
}

// floats64 copies a float tensor's values as float64.
func floats64(t *tensor.Dense) []float64 {
	switch d := t.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out
	case []float64:
		return append([]float64(nil), d...)
	}
	return nil
}

// isBuffer reports tensors that HF checkpoints carry but that are not
// parameters (causal-mask and position-id buffers of older exports).
func isBuffer(name string) bool {
	return strings.HasSuffix(name, ".attn.bias") && !strings.Contains(name, "c_attn") ||
		strings.HasSuffix(name, ".attn.masked_bias") ||
		strings.HasSuffix(name, "embeddings.position_ids") ||
		strings.HasSuffix(name, "rotary_emb.inv_freq")
}

// sortedNames returns map keys in order, for deterministic messages.
func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
