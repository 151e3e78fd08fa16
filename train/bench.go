package train

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/internal/blas"
	"github.com/sparsetune/sparsetune/nn"
)

// BenchConfig describes a synthetic training-step benchmark.
type BenchConfig struct {
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
	// the distillation from it (Config.Trainable, Config.Distill).
	Target    float64
	Trainable string // "all" (or "") or "routers"
}

// BenchResult is what BenchTrain measured. JSON keys are stable: scripts
// compare them with the PyTorch baseline.
type BenchResult struct {
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

// BenchModelConfig is the random model a benchmark trains.
func BenchModelConfig(c BenchConfig) (*nn.Config, error) {
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

// BenchTrain times full training steps (forward, backward, clip, AdamW;
// with a target, the routers' step too) on random data, through the
// trainer a run uses, and prints one line per step to w.
func BenchTrain(c BenchConfig, w io.Writer) (*BenchResult, error) {
	cfg, err := BenchModelConfig(c)
	if err != nil {
		return nil, err
	}
	rc := benchRunConfig(c)
	if err := rc.Validate(); err != nil {
		return nil, err
	}
	model := &nn.Model{Config: cfg, Params: nn.InitParams(cfg, c.Seed, tensor.Float32)}
	if rc.Trainable == TrainRouters {
		freezeAllBut(model, cfg.Task == nn.Classification) // a classifier's head counts as new
	}
	var sp *sparsity
	if rc.Target > 0 {
		if sp, err = newSparsity(&rc, model); err != nil {
			return nil, err
		}
	}
	opt, err := newOptimizer(&rc, model, sp)
	if err != nil {
		return nil, err
	}
	tr := &trainer{model: model, sp: sp, opt: opt, opts: nn.BuildOptions{B: c.Batch, T: c.Seq}, borrow: true}
	if err := tr.build(&State{}); err != nil {
		return nil, err
	}
	defer tr.Close()
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
		if err := tr.beforeStep(step); err != nil {
			return nil, err
		}
		loss, err := tr.forwardBackward(batch, 1)
		if err != nil {
			return nil, err
		}
		opt.Step(1e-3)
		if _, err := tr.afterStep(step); err != nil {
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
	sort.Float64s(times)
	med := times[len(times)/2]
	if len(times)%2 == 0 {
		med = (times[len(times)/2-1] + times[len(times)/2]) / 2
	}
	tokens := float64(c.Batch * c.Seq)
	gflops := benchFLOPs(model.Params, c) / med / 1e9
	trained := 0
	for _, p := range opt.params {
		trained += p.Numel()
	}
	return &BenchResult{MedianStepS: med, TokensPerS: tokens / med, GFLOPS: gflops, MFU: gflops / c.PeakGFLOPS,
		PeakRSSMB: PeakRSSMB(), BLAS: blas.Name(), Threads: runtime.GOMAXPROCS(0), Params: model.Params.Count(),
		Trained: trained, Trainable: rc.Trainable, Target: rc.Target}, nil
}

// benchRunConfig is the run configuration a benchmark's trainer follows:
// the defaults, at the benchmark's shape, with a stage 1 that outlasts the
// benchmark and no neuron grouping (a random model has nothing to group).
func benchRunConfig(c BenchConfig) Config {
	rc := DefaultConfig()
	rc.Model, rc.Train = "(benchmark)", "(random tokens)"
	rc.Batch, rc.SeqLen, rc.Seed, rc.WeightDecay = c.Batch, c.Seq, c.Seed, 0.1
	rc.Target, rc.Trainable = c.Target, c.Trainable
	if rc.Trainable == "" {
		rc.Trainable = TrainAll
	}
	rc.Steps = 2*(c.Warmup+c.Steps) + 2
	rc.Stage2Steps, rc.TargetWarmup = 1, 1
	rc.noGrouping = true
	return rc
}

// benchFLOPs is the standard training estimate (Kaplan et al. 2020 §2.1;
// PaLM app. B), identical to scripts/bench_torch.py: 6·P·B·T for the
// matmul parameters P (all but the position table; a tied table counted
// once) plus 12·L·B·T²·D for QKᵀ and PV, forward and backward.
func benchFLOPs(p *nn.Params, c BenchConfig) float64 {
	n := 0
	for _, q := range p.List {
		if !strings.Contains(q.Name, "wpe") && !strings.Contains(q.Name, "position_embeddings") {
			n += q.Numel()
		}
	}
	bt := float64(c.Batch * c.Seq)
	return 6*float64(n)*bt + 12*float64(c.Layers)*bt*float64(c.Seq)*float64(c.D)
}

// PeakRSSMB is the process's peak resident set (VmHWM), in MB.
func PeakRSSMB() float64 { return procStatusMB("VmHWM:") }

// CurrentRSSMB is the process's resident set now (VmRSS), in MB.
func CurrentRSSMB() float64 { return procStatusMB("VmRSS:") }

func procStatusMB(key string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key) {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}
