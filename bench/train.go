package bench

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"time"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/blas"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/train"
)

// TrainConfig describes a synthetic training-step benchmark.
type TrainConfig struct {
	Family                nn.Family
	Layers, D, Heads, FFN int
	KVHeads               int // key/value heads (LLaMA's grouped-query attention); 0: Heads
	Vocab, Seq, Batch     int
	Steps, Warmup         int
	PeakGFLOPS            float64 // the machine's fp32 peak, for MFU
	Seed                  uint64
	RSSEvery              int // print RSS every this many steps (0: never)
	// Target > 0 times a sparse run's stage-1 step instead: routers, the
	// compute objective and, with Trainable "routers", the frozen base and
	// the distillation from it (train.Config.Trainable, Distill).
	Target    float64
	Trainable string // "all" (or "") or "routers"
}

// TrainResult is what Train measured. JSON keys are stable: scripts
// compare them with the PyTorch baseline.
type TrainResult struct {
	MedianStepS float64 `json:"median_step_s"`
	TokensPerS  float64 `json:"tokens_per_s"`
	GFLOPS      float64 `json:"gflops"`
	MFU         float64 `json:"mfu"`
	PeakRSSMB   float64 `json:"peak_rss_mb"`
	BLAS        string  `json:"blas"`
	Threads     int     `json:"threads"`
	Params      int     `json:"params"`
	Trained     int     `json:"trained_params"` // parameters the optimizer updates (routers included)
	Trainable   string  `json:"train"`          // all or routers
	Target      float64 `json:"target,omitempty"`
}

// ModelConfig is the random model a training benchmark trains.
func ModelConfig(c TrainConfig) (*nn.Config, error) {
	kvh := c.KVHeads
	if kvh == 0 {
		kvh = c.Heads
	}
	m := &nn.Config{Family: c.Family, Task: nn.CausalLM, Vocab: c.Vocab, D: c.D, L: c.Layers, H: c.Heads, KVH: kvh,
		F: c.FFN, MaxPos: c.Seq, NormEps: 1e-5, PadID: -1, BOSID: -1, EOSID: -1}
	switch c.Family {
	case nn.GPT2:
		m.Act, m.Tied = "gelu_new", true
	case nn.LLaMA:
		m.Act, m.RoPETheta = "silu", 10000
	case nn.BERT:
		m.Task, m.Act, m.TypeVocab, m.Labels, m.NormEps = nn.Classification, "gelu", 2, []string{"0", "1"}, 1e-12
	default:
		return nil, fmt.Errorf("--family %q: want gpt2, bert or llama", c.Family)
	}
	return m, m.Validate()
}

// Train times full training steps (forward, backward, clip, AdamW; with a
// target, the routers' step too) on random data, through the trainer a run
// uses (train.Stepper), and with RSSEvery prints a line every so many steps
// to w.
func Train(c TrainConfig, w io.Writer) (*TrainResult, error) {
	cfg, err := ModelConfig(c)
	if err != nil {
		return nil, err
	}
	rc := runConfig(c)
	if err := rc.Validate(); err != nil {
		return nil, err
	}
	model := &nn.Model{Config: cfg, Params: nn.InitParams(cfg, c.Seed, tensor.Float32)}
	st, err := train.NewStepper(rc, model)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	rng := rand.New(rand.NewPCG(c.Seed, 1))
	batch := &nn.Batch{IDs: make([]int, c.Batch*c.Seq), Labels: make([]int, c.Batch*c.Seq)}
	if cfg.Task == nn.Classification {
		batch.Labels = make([]int, c.Batch)
	}
	var times []float64
	for step := 0; step < c.Warmup+c.Steps; step++ {
		for i := range batch.IDs {
			batch.IDs[i] = rng.IntN(c.Vocab)
		}
		if cfg.Task == nn.Classification {
			for i := range batch.Labels {
				batch.Labels[i] = rng.IntN(2)
			}
		} else {
			copy(batch.Labels, batch.IDs)
		}
		t0 := time.Now()
		loss, err := st.Step(step, batch, 1e-3)
		if err != nil {
			return nil, err
		}
		dt := time.Since(t0).Seconds()
		if step >= c.Warmup {
			times = append(times, dt)
		}
		if c.RSSEvery > 0 && (step+1)%c.RSSEvery == 0 {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Fprintf(w, "step %5d  loss %.4f  %.3fs  rss %.1f MB  go heap %.1f MB in use, %.1f MB from the OS\n",
				step+1, loss, dt, CurrentRSSMB(), float64(ms.HeapInuse)/1e6, float64(ms.HeapSys-ms.HeapReleased)/1e6)
		}
	}
	med := Median(times)
	tokens := float64(c.Batch * c.Seq)
	gflops := trainFLOPs(model.Params, c) / med / 1e9
	return &TrainResult{MedianStepS: med, TokensPerS: tokens / med, GFLOPS: gflops, MFU: gflops / c.PeakGFLOPS,
		PeakRSSMB: PeakRSSMB(), BLAS: blas.Name(), Threads: runtime.GOMAXPROCS(0), Params: model.Params.Count(),
		Trained: st.Trained(), Trainable: rc.Trainable, Target: rc.Target}, nil
}

// runConfig is the run configuration a benchmark's trainer follows: the
// defaults, at the benchmark's shape, with a stage 1 that outlasts the
// benchmark.
func runConfig(c TrainConfig) train.Config {
	rc := train.DefaultConfig()
	rc.Model, rc.Train = "(benchmark)", "(random tokens)"
	rc.Batch, rc.SeqLen, rc.Seed, rc.WeightDecay = c.Batch, c.Seq, c.Seed, 0.1
	rc.Target, rc.Trainable = c.Target, c.Trainable
	if rc.Trainable == "" {
		rc.Trainable = train.TrainAll
	}
	rc.Steps = 2*(c.Warmup+c.Steps) + 2
	rc.Stage2Steps, rc.TargetWarmup = 1, 1
	return rc
}

// trainFLOPs is the standard training estimate (Kaplan et al. 2020 §2.1;
// PaLM app. B), identical to scripts/bench_torch.py: 6·P·B·T for the
// matmul parameters P (all but the position table; a tied table counted
// once) plus 12·L·B·T²·D for QKᵀ and PV, forward and backward.
func trainFLOPs(p *nn.Params, c TrainConfig) float64 {
	n := 0
	for _, q := range p.List {
		if !strings.Contains(q.Name, "wpe") && !strings.Contains(q.Name, "position_embeddings") {
			n += q.Numel()
		}
	}
	bt := float64(c.Batch * c.Seq)
	return 6*float64(n)*bt + 12*float64(c.Layers)*bt*float64(c.Seq)*float64(c.D)
}
