package checkpoints

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sparsetune/sparsetune/internal/gguf"
	"github.com/sparsetune/sparsetune/internal/ops"
	"github.com/sparsetune/sparsetune/nn"
)

// ggufMatrix returns tensor name of f as float32 rows: dims {in, out}
// read as a row-major (out, in) matrix.
func ggufMatrix(t *testing.T, f *gguf.File, name string) (rows, cols int, data []float32) {
	t.Helper()
	for _, tn := range f.Tensors {
		if tn.Name != name {
			continue
		}
		data, err := gguf.Decode(tn.Type, tn.Data, int(tn.Elems()))
		if err != nil {
			t.Fatal(err)
		}
		if len(tn.Dims) == 1 {
			return int(tn.Dims[0]), 1, data
		}
		return int(tn.Dims[1]), int(tn.Dims[0]), data
	}
	t.Fatalf("no tensor %s", name)
	return 0, 0, nil
}

func matVec(w []float32, rows, cols int, x []float64) []float64 {
	out := make([]float64, rows)
	for r := range out {
		for c := 0; c < cols; c++ {
			out[r] += float64(w[r*cols+c]) * x[c]
		}
	}
	return out
}

func metaU32(t *testing.T, f *gguf.File, key string) int {
	t.Helper()
	v, ok := f.Get(key)
	if !ok {
		t.Fatalf("no metadata %s", key)
	}
	return int(v.(uint32))
}

func TestGGUFNamesAndMetadata(t *testing.T) {
	for _, c := range []struct {
		name                      string
		arch                      string
		heads, kvHeads, ffn, keyL int
		extra, absent             []string
	}{
		{"llama", "llama", 3, 3, 24, 4, []string{"output.weight"}, []string{"blk.0.attn_q.bias"}},
		{"llama-gqa", "llama", 4, 2, 24, 0, nil, []string{"output.weight"}},
		{"llama-bias", "llama", 3, 3, 24, 4, []string{"blk.2.attn_q.bias", "blk.2.attn_output.bias", "blk.1.ffn_gate.bias", "rope_freqs.weight"}, nil},
		{"mistral", "llama", 4, 2, 24, 0, nil, nil},
		{"qwen2", "qwen2", 4, 4, 24, 0, []string{"blk.1.attn_q.bias", "blk.1.attn_k.bias", "blk.1.attn_v.bias"}, []string{"blk.1.attn_output.bias", "output.weight"}},
		{"qwen3-mha", "qwen3", 3, 3, 24, 8, nil, nil},
		{"qwen3", "qwen3", 4, 2, 24, 8, []string{"blk.0.attn_q_norm.weight", "blk.0.attn_k_norm.weight"}, []string{"blk.0.attn_q.bias"}},
		{"gpt2", "gpt2", 4, 0, 24, 0, []string{"position_embd.weight", "blk.0.attn_qkv.weight", "output_norm.bias"}, []string{"output.weight"}},
	} {
		s := ggufSparse(t, c.name)
		f, notes, err := BuildGGUF(s, GGUFOptions{Type: gguf.F32})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if v, _ := f.Get("general.architecture"); v != c.arch {
			t.Errorf("%s: architecture %v, want %s", c.name, v, c.arch)
		}
		a := c.arch + "."
		if got := metaU32(t, f, a+"attention.head_count"); got != c.heads {
			t.Errorf("%s: head_count %d, want %d", c.name, got, c.heads)
		}
		if got := metaU32(t, f, a+"feed_forward_length"); got != c.ffn {
			t.Errorf("%s: feed_forward_length %d, want %d", c.name, got, c.ffn)
		}
		if c.kvHeads > 0 && metaU32(t, f, a+"attention.head_count_kv") != c.kvHeads {
			t.Errorf("%s: head_count_kv %d, want %d", c.name, metaU32(t, f, a+"attention.head_count_kv"), c.kvHeads)
		}
		if _, has := f.Get(a + "attention.key_length"); has != (c.keyL > 0) || c.keyL > 0 && metaU32(t, f, a+"attention.key_length") != c.keyL {
			t.Errorf("%s: key_length present %v, want %d", c.name, has, c.keyL)
		}
		if metaU32(t, f, a+"block_count") != 3 || metaU32(t, f, a+"embedding_length") != 16 || metaU32(t, f, a+"context_length") != 16 {
			t.Errorf("%s: block_count, embedding_length or context_length wrong", c.name)
		}
		names := map[string]bool{}
		for _, tn := range f.Tensors {
			names[tn.Name] = true
		}
		for _, n := range append([]string{"token_embd.weight", "output_norm.weight", "blk.2.attn_norm.weight", "blk.2.ffn_norm.weight", "blk.1.ffn_up.weight", "blk.1.ffn_down.weight", "blk.0.attn_output.weight"}, c.extra...) {
			if !names[n] {
				t.Errorf("%s: no tensor %s", c.name, n)
			}
		}
		for _, n := range c.absent {
			if names[n] {
				t.Errorf("%s: unexpected tensor %s", c.name, n)
			}
		}
		// Every layer pads to 3 groups; 2 + 3 + 0 kept leave 4 zero groups,
		// and heads that close up leave 3 + 0 + 2 of 3 per layer: 4.
		if !slices.ContainsFunc(notes, func(n string) bool { return n[:len("4 removed FFN groups")] == "4 removed FFN groups" }) {
			t.Errorf("%s: notes %q do not count the padded groups", c.name, notes)
		}
	}
}

// TestGGUFLayerEqualsSparse runs one token through each layer's attention
// (a single key: the output is o_proj of the values), its query·key scores
// at two positions with RoPE, and its FFN, once from the sparse tensors with
// Hugging Face's conventions and once from the GGUF tensors with llama.cpp's
// (adjacent-pair RoPE for arch "llama", rotate-half for qwen2/qwen3). The
// permutation of q and k, the padding and the transposes must give the same
// numbers.
func TestGGUFLayerEqualsSparse(t *testing.T) {
	for _, name := range []string{"llama", "llama-gqa", "llama-bias", "mistral", "qwen2", "qwen3", "qwen3-mha"} {
		s := ggufSparse(t, name)
		f, _, err := BuildGGUF(s, GGUFOptions{Type: gguf.F32})
		if err != nil {
			t.Fatal(err)
		}
		for l := 0; l < s.Config.L; l++ {
			checkLayer(t, name, s, f, l)
		}
	}
}

func checkLayer(t *testing.T, name string, s *Sparse, f *gguf.File, l int) {
	c := s.Config
	S, D := c.S(), c.D
	rng := rand.New(rand.NewPCG(uint64(l), 4))
	x := make([]float64, D)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	p, q := fmt.Sprintf("model.layers.%d.", l), fmt.Sprintf("blk.%d.", l)
	hf := func(n string) (int, int, []float32) {
		st, ok := s.Tensors[p+n]
		if !ok {
			return 0, 0, nil
		}
		if len(st.Shape) == 1 {
			return st.Shape[0], 1, st.Data
		}
		return st.Shape[0], st.Shape[1], st.Data
	}
	proj := func(r, cols int, w []float32, bias []float32, in []float64) []float64 {
		y := matVec(w, r, cols, in)
		for i := range bias {
			y[i] += float64(bias[i])
		}
		return y
	}
	hfProj := func(n string, in []float64) []float64 {
		r, cols, w := hf(n + ".weight")
		_, _, b := hf(n + ".bias")
		return proj(r, cols, w, b, in)
	}
	ggProj := func(n string, in []float64) []float64 {
		r, cols, w := ggufMatrix(t, f, q+n+".weight")
		var b []float32
		if slices.ContainsFunc(f.Tensors, func(tn gguf.Tensor) bool { return tn.Name == q+n+".bias" }) {
			_, _, b = ggufMatrix(t, f, q+n+".bias")
		}
		return proj(r, cols, w, b, in)
	}
	// FFN: down(silu(gate x) · up x)
	ffn := func(pj func(string, []float64) []float64, gate, up, down string) []float64 {
		g, u := pj(gate, x), pj(up, x)
		for i := range g {
			g[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
		}
		return pj(down, g)
	}
	want := ffn(hfProj, "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
	got := ffn(ggProj, "ffn_gate", "ffn_up", "ffn_down")
	closeTo(t, name, l, "ffn", got, want)

	// Attention with one key: output = o_proj(v of each head's kv head).
	arch, _ := f.Get("general.architecture")
	H, KVH := metaU32(t, f, arch.(string)+".attention.head_count"), metaU32(t, f, arch.(string)+".attention.head_count_kv")
	kept := s.Manifest.Layers[l].Heads
	hfKV := func(i int) int { // the k/v head (row block) of the i-th kept head in the sparse tensors
		if c.KVH < c.H {
			return kept[i] / (c.H / c.KVH)
		}
		return i
	}
	slot := func(i int) int { // the GGUF head slot of the i-th kept head
		if c.KVH < c.H || c.Family == nn.Qwen2 { // heads in their own slots
			return kept[i]
		}
		return i
	}
	hq, hk, hv := hfProj("self_attn.q_proj", x), hfProj("self_attn.k_proj", x), hfProj("self_attn.v_proj", x)
	gq, gk, gv := ggProj("attn_q", x), ggProj("attn_k", x), ggProj("attn_v", x)
	vcat := make([]float64, len(kept)*S)
	gvcat := make([]float64, H*S)
	for i := range kept {
		copy(vcat[i*S:], hv[hfKV(i)*S:][:S])
	}
	for h := 0; h < H; h++ {
		copy(gvcat[h*S:], gv[h/(H/KVH)*S:][:S])
	}
	if len(kept) > 0 {
		closeTo(t, name, l, "attention output", ggProj("attn_output", gvcat), hfProj("self_attn.o_proj", vcat))
	}
	// Scores q(pos 5)·k(pos 2) per kept head, after the q/k norms and RoPE.
	rope := ops.NewRoPE(c.RoPETheta, c.RoPEScale, S, 8)
	var factors []float32
	if slices.ContainsFunc(f.Tensors, func(tn gguf.Tensor) bool { return tn.Name == "rope_freqs.weight" }) {
		_, _, factors = ggufMatrix(t, f, "rope_freqs.weight")
	}
	scale := 1.0
	if v, ok := f.Get(arch.(string) + ".rope.scaling.factor"); ok {
		scale = float64(v.(float32))
	}
	for i := range kept {
		hqv, hkv := vec32(hq[i*S:][:S]), vec32(hk[hfKV(i)*S:][:S])
		gqv, gkv := gq[slot(i)*S:][:S], gk[slot(i)/(H/KVH)*S:][:S]
		if c.QKNorm {
			_, _, qn := hf("self_attn.q_norm.weight")
			_, _, kn := hf("self_attn.k_norm.weight")
			rmsNorm(hqv, qn, c.NormEps)
			rmsNorm(hkv, kn, c.NormEps)
			_, _, gqn := ggufMatrix(t, f, q+"attn_q_norm.weight")
			_, _, gkn := ggufMatrix(t, f, q+"attn_k_norm.weight")
			gqv, gkv = rmsNorm64(gqv, gqn, c.NormEps), rmsNorm64(gkv, gkn, c.NormEps)
		}
		rope.Rotate(hqv, 5)
		rope.Rotate(hkv, 2)
		adjacent := arch == "llama"
		a, b := ggmlRoPE(gqv, 5, c.RoPETheta, scale, factors, adjacent), ggmlRoPE(gkv, 2, c.RoPETheta, scale, factors, adjacent)
		var sh, sg float64
		for j := 0; j < S; j++ {
			sh += float64(hqv[j]) * float64(hkv[j])
			sg += a[j] * b[j]
		}
		closeTo(t, name, l, fmt.Sprintf("head %d score", kept[i]), []float64{sg}, []float64{sh})
	}
}

// ggmlRoPE rotates one head as ggml's rope does: mode NORM (adjacent pairs
// x[2i], x[2i+1]) when adjacent, NEOX (x[i], x[i+S/2]) otherwise, by the
// angle pos·θ^(−2i/S) / (linear scale · rope_freqs[i]).
func ggmlRoPE(x []float64, pos int, theta, scale float64, factors []float32, adjacent bool) []float64 {
	S := len(x)
	out := slices.Clone(x)
	for i := 0; i < S/2; i++ {
		ang := float64(pos) * math.Pow(theta, -2*float64(i)/float64(S)) / scale
		if factors != nil {
			ang /= float64(factors[i])
		}
		a, b := i, i+S/2
		if adjacent {
			a, b = 2*i, 2*i+1
		}
		cs, sn := math.Cos(ang), math.Sin(ang)
		out[a], out[b] = x[a]*cs-x[b]*sn, x[a]*sn+x[b]*cs
	}
	return out
}

func vec32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

func rmsNorm(x []float32, w []float32, eps float64) {
	y := rmsNorm64(slices.Collect(func(yield func(float64) bool) {
		for _, v := range x {
			yield(float64(v))
		}
	}), w, eps)
	for i := range x {
		x[i] = float32(y[i])
	}
}

func rmsNorm64(x []float64, w []float32, eps float64) []float64 {
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	r := 1 / math.Sqrt(ss/float64(len(x))+eps)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v * r * float64(w[i])
	}
	return out
}

func closeTo(t *testing.T, name string, l int, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s layer %d %s: %d values, want %d", name, l, what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-4*(1+math.Abs(want[i])) {
			t.Fatalf("%s layer %d %s[%d]: %g, want %g", name, l, what, i, got[i], want[i])
		}
	}
}

// TestGGUFGPT2EqualsSparse: GPT-2's Conv1D weights (in, out) come out as
// llama.cpp's (out, in) rows: one token's FFN and single-key attention
// output agree, with the heads in their slots and the groups closed up.
func TestGGUFGPT2EqualsSparse(t *testing.T) {
	s := ggufSparse(t, "gpt2")
	f, _, err := BuildGGUF(s, GGUFOptions{Type: gguf.F32})
	if err != nil {
		t.Fatal(err)
	}
	c := s.Config
	for l := 0; l < c.L; l++ {
		p, q := fmt.Sprintf("transformer.h.%d.", l), fmt.Sprintf("blk.%d.", l)
		x := make([]float64, c.D)
		for i := range x {
			x[i] = float64(i%5) - 2
		}
		conv := func(n string, in []float64) []float64 { // x·W + b, W (in, out)
			w, b := s.Tensors[p+n+".weight"], s.Tensors[p+n+".bias"]
			out := make([]float64, w.Shape[1])
			for o := range out {
				out[o] = float64(b.Data[o])
				for i := range in {
					out[o] += in[i] * float64(w.Data[i*w.Shape[1]+o])
				}
			}
			return out
		}
		lin := func(n string, in []float64) []float64 {
			r, cols, w := ggufMatrix(t, f, q+n+".weight")
			_, _, b := ggufMatrix(t, f, q+n+".bias")
			y := matVec(w, r, cols, in)
			for i := range y {
				y[i] += float64(b[i])
			}
			return y
		}
		closeTo(t, "gpt2", l, "ffn", lin("ffn_down", lin("ffn_up", x)), conv("mlp.c_proj", conv("mlp.c_fc", x)))
		// Single key: attention output = c_proj(v); v is the third block of
		// c_attn, h·S wide in the sparse model and D wide in the GGUF.
		kept, S := s.Manifest.Layers[l].Heads, c.S()
		hv := conv("attn.c_attn", x)[2*len(kept)*S:]
		gv := lin("attn_qkv", x)[2*c.D:]
		for i, h := range kept {
			closeTo(t, "gpt2", l, "v", gv[h*S:][:S], hv[i*S:][:S])
		}
		if len(kept) > 0 {
			closeTo(t, "gpt2", l, "attention output", lin("attn_output", gv), conv("attn.c_proj", hv))
		}
	}
}
