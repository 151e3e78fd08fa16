package train

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/safetensors"
	"github.com/sparsetune/sparsetune/nn"
)

// TestAdamWMatchesPyTorch replays the reference's 10 AdamW steps (lr 1e-3,
// weight decay 0.1 on matrices, clip 1.0) on one batch and compares losses.
func TestAdamWMatchesPyTorch(t *testing.T) {
	for _, name := range []string{"gpt2", "bert", "roberta", "llama", "gpt2_hub", "llama3_scaled", "llama_linear", "mistral", "qwen2", "qwen3", "llama_cls", "gpt2_cls"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("..", "testdata", "fixtures", name)
			m, err := nn.Load(dir, nn.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ref, err := safetensors.ReadOptions{Ints: true}.Read(filepath.Join(dir, "reference.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			ints := func(key string) []int {
				tt, ok := ref.Tensors[key]
				if !ok {
					return nil
				}
				out := make([]int, len(tt.Ints))
				for i, v := range tt.Ints {
					out[i] = int(v)
				}
				return out
			}
			shape := ref.Tensors["input_ids"].Shape
			gr, err := m.Build(nn.BuildOptions{B: shape[0], T: shape[1]})
			if err != nil {
				t.Fatal(err)
			}
			if err := gr.Feed(&nn.Batch{IDs: ints("input_ids"), Mask: ints("attention_mask"), Types: ints("token_type_ids"), Labels: ints("labels")}); err != nil {
				t.Fatal(err)
			}
			run, err := gr.Compile(true)
			if err != nil {
				t.Fatal(err)
			}
			defer run.Close()
			opt, err := NewAdamW(m.Params.List, AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1, ClipNorm: 1})
			if err != nil {
				t.Fatal(err)
			}
			want := ref.Tensors["adamw_losses"].Data
			worst := 0.0
			defer func() { t.Logf("%s: 10 AdamW losses, max abs difference %.2g", name, worst) }()
			for step := range want {
				if err := run.Run(); err != nil {
					t.Fatal(err)
				}
				loss := run.Loss()
				worst = math.Max(worst, math.Abs(loss-float64(want[step])))
				if d := math.Abs(loss - float64(want[step])); d > 1e-4*math.Max(1, math.Abs(float64(want[step]))) {
					t.Errorf("step %d: loss %.6f, want %.6f", step, loss, want[step])
				}
				for i := range m.Params.List {
					opt.Accumulate(i, run.Grad(i), 1)
				}
				if step == 0 {
					if n, w := opt.GradNorm(), float64(ref.Tensors["grad_norm"].Data[0]); math.Abs(n-w) > 1e-4*w {
						t.Errorf("global grad norm %.6f, want %.6f", n, w)
					}
				}
				opt.Step(1e-3)
			}
		})
	}
}

// TestAdamWBorrowMatchesAccumulate: a step on a borrowed gradient equals
// the step on the same gradient accumulated into the optimizer's buffers,
// bit for bit, and allocates no gradient buffer of its own; a second
// micro-batch after a borrow is summed as with Accumulate.
func TestAdamWBorrowMatchesAccumulate(t *testing.T) {
	newParam := func() *nn.Param {
		v := tensor.New(tensor.WithShape(3, 4), tensor.WithBacking([]float32{1, -2, 3, 0.5, 0, 1, 2, -1, 4, 2, -3, 1}))
		return &nn.Param{Name: "w", Shape: []int{3, 4}, Value: v}
	}
	grad := func(k float32) *tensor.Dense {
		g := make([]float32, 12)
		for i := range g {
			g[i] = k * float32(i%5-2)
		}
		return tensor.New(tensor.WithShape(3, 4), tensor.WithBacking(g))
	}
	cfg := AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1, ClipNorm: 1}
	for _, micro := range []int{1, 2} {
		pa, pb := newParam(), newParam()
		a, err := NewAdamW([]*nn.Param{pa}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := NewAdamW([]*nn.Param{pb}, cfg)
		for step := range 3 {
			for k := range micro {
				scale := float32(1) / float32(micro)
				a.Accumulate(0, grad(float32(step+k+1)), scale)
				b.Borrow(0, grad(float32(step+k+1)), scale)
			}
			if micro == 1 && b.own[0] != nil {
				t.Fatal("Borrow allocated a gradient buffer")
			}
			if na, nb := a.Step(1e-2), b.Step(1e-2); na != nb {
				t.Fatalf("%d micro-batches, step %d: grad norm %v borrowed, %v accumulated", micro, step, nb, na)
			}
			if b.grad[0] != nil {
				t.Fatal("the borrowed gradient is kept after Step")
			}
		}
		if !slices.Equal(pa.Value.Data().([]float32), pb.Value.Data().([]float32)) {
			t.Errorf("%d micro-batches: weights after borrowed steps %v, accumulated %v", micro, pb.Value.Data(), pa.Value.Data())
		}
	}
}
