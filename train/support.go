package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/internal/atomicfile"
	"github.com/sparsetune/sparsetune/internal/safetensors"
	"github.com/sparsetune/sparsetune/nn"
)

// loadModelAndData loads the base model's config, resolves cfg by it
// (Config.resolve) and loads the data and the model (loadModel).
func loadModelAndData(cfg *Config, tok data.Tokenizer) (*nn.Model, *data.Dataset, error) {
	if err := checkBaseModel("model", cfg.Model); err != nil {
		return nil, nil, err
	}
	mc, err := nn.LoadConfig(cfg.Model)
	if err != nil {
		return nil, nil, err
	}
	if err := cfg.resolve(mc); err != nil {
		return nil, nil, err
	}
	return loadModel(cfg, mc, tok)
}

// loadModel loads the dataset (whose labels fix a classifier's head) and
// then the weights of the base model whose config is mc, with a new head
// when the task changes. cfg is resolved (seq_len set).
func loadModel(cfg *Config, mc *nn.Config, tok data.Tokenizer) (*nn.Model, *data.Dataset, error) {
	task := cfg.Task.Of(mc.Task)
	key, err := data.TokenizerKey(cfg.Model)
	if err != nil {
		return nil, nil, err
	}
	spec := data.Spec{Task: DataTask(task), Train: cfg.Train, Valid: cfg.Valid, Test: cfg.Test, ValidRatio: cfg.ValidRatio,
		Text: cfg.TextField, Label: cfg.LabelField, ID: cfg.IDField, SeqLen: cfg.SeqLen, Seed: cfg.Seed, CacheDir: cfg.DataCacheDir()}
	if task == nn.Classification && mc.Task == nn.Classification {
		spec.Labels = mc.Labels // keep the fine-tuned classifier's label order
	}
	ds, err := data.Load(spec, tok, key)
	if err != nil {
		return nil, nil, err
	}
	if len(ds.Train.Seqs) < cfg.Batch {
		return nil, nil, fmt.Errorf("train: %d sequences, fewer than one batch of %d", len(ds.Train.Seqs), cfg.Batch)
	}
	if len(ds.Valid.Seqs) == 0 {
		return nil, nil, fmt.Errorf("valid: no sequences to evaluate on")
	}
	if cfg.FromScratch {
		mc.Task, mc.Labels = task, ds.Labels
		if task == nn.CausalLM {
			mc.Labels = nil
		}
		if err := mc.Validate(); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", cfg.Model, err)
		}
		return &nn.Model{Config: mc, Params: nn.InitParams(mc, cfg.Seed, tensor.Float32)}, ds, nil
	}
	opt := nn.LoadOptions{Seed: cfg.Seed}
	if task != mc.Task || task == nn.Classification {
		opt.Task, opt.Labels = task, ds.Labels
	}
	m, err := nn.Load(cfg.Model, opt)
	if err != nil {
		return nil, nil, err
	}
	return m, ds, nil
}

// nextBatch takes the next cfg.Batch training examples in the epoch's
// deterministic order, starting a new epoch (and order) when fewer than a
// batch remain. The partial tail of an epoch is skipped so every step sees
// a full batch; the next epoch's order covers those examples again.
func nextBatch(split *data.Split, st *State, cfg *Config, mc *nn.Config, tok data.Tokenizer, eo *epochOrder) *nn.Batch {
	n := len(split.Seqs)
	if st.Cursor+cfg.Batch > n {
		st.Epoch++
		st.Cursor = 0
	}
	if eo.order == nil || eo.epoch != st.Epoch {
		eo.order, eo.epoch = data.Shuffle(n, cfg.Seed, st.Epoch), st.Epoch
	}
	idx := eo.order[st.Cursor : st.Cursor+cfg.Batch]
	st.Cursor += cfg.Batch
	return makeBatch(split, idx, cfg.Batch, cfg.SeqLen, mc, tok)
}

// epochOrder keeps the current epoch's example order, computed once per
// epoch rather than once per batch.
type epochOrder struct {
	epoch int
	order []int
}

// makeBatch pads the sequences idx (at most B) to T with the pad token and
// fills missing rows with one masked-in token and ignored labels.
func makeBatch(split *data.Split, idx []int, B, T int, mc *nn.Config, tok data.Tokenizer) *nn.Batch {
	pad := padID(mc, tok)
	b := &nn.Batch{IDs: make([]int, B*T), Mask: make([]int, B*T)}
	if mc.Task == nn.Classification {
		b.Labels = make([]int, B)
	} else {
		b.Labels = make([]int, B*T)
	}
	for i := range b.IDs {
		b.IDs[i] = pad
	}
	for r := range B {
		if r >= len(idx) {
			b.Mask[r*T] = 1
			if mc.Task == nn.Classification {
				b.Labels[r] = nn.IgnoreIndex
			} else {
				for t := range T {
					b.Labels[r*T+t] = nn.IgnoreIndex
				}
			}
			continue
		}
		seq := split.Seqs[idx[r]]
		for t := range T {
			if t < len(seq) {
				b.IDs[r*T+t], b.Mask[r*T+t] = seq[t], 1
				if mc.Task == nn.CausalLM {
					b.Labels[r*T+t] = seq[t]
				}
			} else if mc.Task == nn.CausalLM {
				b.Labels[r*T+t] = nn.IgnoreIndex
			}
		}
		if mc.Task == nn.Classification {
			b.Labels[r] = split.Labels[idx[r]]
		}
	}
	return b
}

// padID is the id used for padding: the model's pad token, else the
// tokenizer's, else its EOS, else 0. Padded positions are masked out, so
// the choice only matters for models whose positions depend on it.
func padID(mc *nn.Config, tok data.Tokenizer) int {
	for _, id := range []int{mc.PadID, tok.PAD(), tok.EOS()} {
		if id >= 0 && id < mc.Vocab {
			return id
		}
	}
	return 0
}

// saver writes checkpoints of the running model.
type saver struct {
	cfg   *Config
	model *nn.Model
	opt   *AdamW
	tr    *trainer
	sp    *sparsity
	st    *State
}

func (s *saver) save(name string) (string, error) {
	optState, err := s.opt.MarshalBinary()
	if err != nil {
		return "", err
	}
	if err := s.tr.saveDropout(s.st); err != nil {
		return "", err
	}
	c := checkpoints.Contents{Optimizer: optState, State: s.st, Config: s.cfg, Extra: tokenizerFiles(s.cfg.Model), ExtraFrom: s.cfg.Model}
	if s.sp != nil {
		s.st.Lambda1, s.st.Lambda2, s.st.Tau = s.sp.ctl.Lambda1, s.sp.ctl.Lambda2, s.sp.set.Config.Tau
		if s.st.RouterRNG, err = s.sp.set.RNGState(); err != nil {
			return "", err
		}
		c.Tensors = map[string][]*safetensors.Tensor{routerFile: routerTensors(s.sp)}
	}
	return checkpoints.Save(s.cfg.OutDir, name, s.model, c)
}

// checkpoint saves checkpoint-<step>, points "latest" at it and keeps the
// two newest.
func (s *saver) checkpoint() error {
	name := fmt.Sprintf("checkpoint-%d", s.st.Step)
	if _, err := s.save(name); err != nil {
		return err
	}
	if err := checkpoints.SetLatest(s.cfg.OutDir, name); err != nil {
		return err
	}
	return checkpoints.Prune(s.cfg.OutDir, 2, name)
}

// tokenizerFiles lists the tokenizer files of a model directory, copied
// into checkpoints so each is a complete Hugging Face model directory.
func tokenizerFiles(dir string) []string {
	var out []string
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "vocab.txt", "special_tokens_map.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			out = append(out, f)
		}
	}
	return out
}

// resume restores weights, optimizer, data position and RNG states from
// the run's latest checkpoint, after checking that cfg changes none of the
// run's settings that must stay (checkResumeConfig). Without a checkpoint
// the run starts fresh.
func resume(cfg *Config, model *nn.Model, sp *sparsity, opt *AdamW, st *State, log io.Writer) error {
	dir, err := checkpoints.Latest(cfg.OutDir)
	if err != nil {
		return err
	}
	if dir == "" {
		fmt.Fprintf(log, "resume: %s has no checkpoint yet, starting fresh\n", cfg.OutDir)
		return nil
	}
	if err := checkpoints.ReadState(dir, st); err != nil {
		return err
	}
	if err := checkResumeConfig(cfg, dir, st.Step, log); err != nil {
		return err
	}
	if err := loadCheckpointWeights(dir, model, sp); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	ob, err := checkpoints.ReadOptimizer(dir)
	if err != nil {
		return err
	}
	if err := opt.UnmarshalBinary(ob); err != nil {
		return fmt.Errorf("resume: %s: %w", dir, err)
	}
	if sp != nil {
		sp.ctl.Lambda1, sp.ctl.Lambda2 = st.Lambda1, st.Lambda2
		if st.Tau > 0 {
			sp.set.Config.Tau = st.Tau
		}
		if err := sp.set.SetRNGState(st.RouterRNG); err != nil {
			return fmt.Errorf("resume: %s: %w", dir, err)
		}
	}
	fmt.Fprintf(log, "resume: continuing from %s at step %d\n", dir, st.Step)
	return nil
}

// metricsFile appends JSON records to <run>/metrics.jsonl.
type metricsFile struct {
	f *os.File
	w *bufio.Writer
}

// openMetrics opens the run's metrics file for appending. On resume it
// first drops records newer than the checkpoint's step, so the file tells
// one consistent history.
func openMetrics(dir string, step int) (*metricsFile, error) {
	path := filepath.Join(dir, "metrics.jsonl")
	if b, err := os.ReadFile(path); err == nil {
		var keep bytes.Buffer
		for _, line := range strings.Split(string(b), "\n") {
			var r struct{ Step int }
			if json.Unmarshal([]byte(line), &r) == nil && r.Step <= step {
				keep.WriteString(line + "\n")
			}
		}
		if err := atomicfile.WriteFile(path, keep.Bytes(), 0o644); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return &metricsFile{f: f, w: bufio.NewWriter(f)}, nil
}

func (m *metricsFile) write(rec map[string]any) {
	for k, v := range rec {
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			rec[k] = nil
		}
	}
	b, err := json.Marshal(rec)
	if err != nil { // a non-finite value inside a list: keep the line, say why its figures are missing
		b = fmt.Appendf(nil, `{"step":%d,"unrecorded":%q}`, rec["step"], err.Error())
	}
	m.w.Write(append(b, '\n'))
	m.w.Flush()
}

func (m *metricsFile) Close() error {
	m.w.Flush()
	return m.f.Close()
}

// progress draws a one-line bar on a terminal and nothing elsewhere.
type progress struct {
	total int
	w     io.Writer
	on    bool
}

func newProgress(total int, w io.Writer) *progress {
	p := &progress{total: total, w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progress) update(step int, loss float64) {
	if !p.on {
		return
	}
	const width = 30
	done := width * step / p.total
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d loss %.4f", strings.Repeat("=", done), strings.Repeat(" ", width-done), step, p.total, loss)
}

func (p *progress) clear() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
