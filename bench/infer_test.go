package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/harden"
	"github.com/sparsetune/sparsetune/internal/vec"
)

// TestInferReportsKernels: Infer's first log line and its JSON name the
// kernel level the engine ran at.
func TestInferReportsKernels(t *testing.T) {
	e, err := harden.Synthetic(harden.SyntheticConfig{Layers: 1, DModel: 32, Heads: 2, FFN: 64, Vocab: 64, GroupSize: 16, Target: 0.5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	r, err := Infer(e, InferConfig{Batch: 2, SeqLen: 8, Prompt: 2, Gen: 2, Reps: 1}, &log)
	if err != nil {
		t.Fatal(err)
	}
	want := vec.Kernels().String()
	if first, _, _ := strings.Cut(log.String(), "\n"); first != "kernels: "+want {
		t.Fatalf("first log line %q, want %q", first, "kernels: "+want)
	}
	b, _ := json.Marshal(r)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m["kernels"] != want {
		t.Fatalf("JSON kernels %v (%v), want %q: %s", m["kernels"], err, want, b)
	}
}

// A tiny synthetic Qwen3 (grouped-query attention, head_dim 32 other than
// d/heads 16) runs through Infer: the weights a decoded token reads are
// counted exactly (dense: every matrix, the LM head and one embedding row),
// the sparse count between its bound and the dense one.
func TestInferQwen3(t *testing.T) {
	e, err := harden.Synthetic(harden.SyntheticConfig{Family: "qwen3", Layers: 2, DModel: 64, Heads: 4, KVHeads: 2, HeadDim: 32,
		FFN: 128, Vocab: 300, GroupSize: 16, Target: 0.5, CalibSeqs: 2, CalibLen: 16, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Infer(e, InferConfig{Batch: 2, SeqLen: 16, Prompt: 4, Gen: 8, Reps: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Batch != 2 || r.SeqLen != 16 || r.GenTokens != 8 || r.ScoreMsDense <= 0 || r.ScoreMsSparse <= 0 || r.DecodeMsDense <= 0 || r.DecodeMsSparse <= 0 {
		t.Errorf("result %+v: want a 2×16 batch, 8 tokens and positive times", *r)
	}
	if r.Compute <= 0 || r.Compute >= 1 || r.DecodeCompute <= 0 || r.DecodeCompute >= 1 {
		t.Errorf("compute %.3f, decode compute %.3f: want sparse", r.Compute, r.DecodeCompute)
	}
	// Per layer: q and o 4·32·64 each, k and v 2·32·64 each, gate, up and
	// down 128·64 each; then the LM head (300·64) and one embedding row.
	dense := 4 * float64(2*(2*4*32*64+2*2*32*64+3*128*64)+300*64+64)
	if r.DecodeBytesDense != dense {
		t.Errorf("dense bytes per token %.0f, want %.0f", r.DecodeBytesDense, dense)
	}
	if !(r.DecodeBytesBound <= r.DecodeBytesSparse && r.DecodeBytesSparse < r.DecodeBytesDense) {
		t.Errorf("sparse bytes per token %.0f: want between the bound %.0f and dense %.0f", r.DecodeBytesSparse, r.DecodeBytesBound, r.DecodeBytesDense)
	}
	// Weights: per layer 2·4·32·64 + 2·2·32·64 + 3·128·64, the untied LM
	// head and the embedding table (300·64 each), 4 bytes each.
	if want := 4 * float64(2*(2*4*32*64+2*2*32*64+3*128*64)+2*300*64) / 1e6; r.WeightsMB != want {
		t.Errorf("weights %.6f MB, want %.6f", r.WeightsMB, want)
	}
}

// TestInferWeightsMBAsStored: the weights a report gives are the bytes the
// engine holds in its dtype (Engine.WeightBytes), not 4 bytes a weight: a
// BF16 engine reports 2 bytes a matrix weight (the embeddings stay
// float32), an INT8 one less again.
func TestInferWeightsMBAsStored(t *testing.T) {
	mb := map[checkpoints.DType]float64{}
	for _, d := range []checkpoints.DType{checkpoints.F32, checkpoints.BF16, checkpoints.Int8} {
		e, err := harden.Synthetic(harden.SyntheticConfig{Layers: 1, DModel: 64, Heads: 2, FFN: 128, Vocab: 64, GroupSize: 16, Target: 0.5, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		f32 := e.WeightBytes()
		if err := e.Quantize(d); err != nil {
			t.Fatal(err)
		}
		r, err := Infer(e, InferConfig{Batch: 1, SeqLen: 4, Prompt: 2, Gen: 1, Reps: 1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := e.WeightBytes() / 1e6; r.WeightsMB != want {
			t.Errorf("%s: weights %.6f MB, want the engine's %.6f", d, r.WeightsMB, want)
		}
		if d == checkpoints.F32 && r.WeightsMB != f32/1e6 {
			t.Errorf("f32: weights %.6f MB, want %.6f", r.WeightsMB, f32/1e6)
		}
		mb[d] = r.WeightsMB
	}
	// Per layer 4·64·64 + 2·128·64 matrix weights (GPT-2: no gate) go from
	// 4 bytes to 2; the tied LM head (64·64), counted once with the float32
	// embeddings, is held apart from them in BF16.
	mats, head := float64(4*64*64+2*128*64), float64(64*64)
	if want := mb[checkpoints.F32] - (2*mats-2*head)/1e6; math.Abs(mb[checkpoints.BF16]-want) > 1e-12 {
		t.Errorf("bf16: weights %.6f MB, want %.6f (f32 %.6f)", mb[checkpoints.BF16], want, mb[checkpoints.F32])
	}
	if !(mb[checkpoints.Int8] < mb[checkpoints.BF16] && mb[checkpoints.BF16] < mb[checkpoints.F32]) {
		t.Errorf("weights int8 %.6f, bf16 %.6f, f32 %.6f MB: want each smaller than the next", mb[checkpoints.Int8], mb[checkpoints.BF16], mb[checkpoints.F32])
	}
}

// TestMedian: the middle value, the mean of the middle two, 0 for none;
// the input is left in its order.
func TestMedian(t *testing.T) {
	v := []float64{5, 1, 3, 2}
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{4}, 4}, {[]float64{3, 1, 2}, 2}, {v, 2.5}} {
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %g, want %g", tc.in, got, tc.want)
		}
	}
	if v[0] != 5 || v[3] != 2 {
		t.Errorf("Median reordered its input: %v", v)
	}
}
