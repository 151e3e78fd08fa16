package train

import "github.com/sparsetune/sparsetune/nn"

// Stepper runs training steps of a run configuration on a model outside
// Run, through the trainer a run uses: forward, backward, clipping and
// AdamW, and with a target the routers' step, the compute objective and,
// with trainable routers, the frozen base and the distillation from it.
// Benchmarks time it (package bench).
type Stepper struct {
	tr  *trainer
	opt *AdamW
}

// NewStepper validates cfg and builds its trainer for model (B cfg.Batch,
// T cfg.SeqLen). The FFN neurons are not grouped: a benchmark's random
// model has no co-activation to group by.
func NewStepper(cfg Config, model *nn.Model) (*Stepper, error) {
	cfg.noGrouping = true
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Trainable == TrainRouters {
		freezeAllBut(model, model.Config.Task == nn.Classification) // a classifier's head counts as new
	}
	var sp *sparsity
	if cfg.Target > 0 {
		var err error
		if sp, err = newSparsity(&cfg, model); err != nil {
			return nil, err
		}
	}
	opt, err := newOptimizer(&cfg, model, sp)
	if err != nil {
		return nil, err
	}
	tr := &trainer{model: model, sp: sp, opt: opt, opts: nn.BuildOptions{B: cfg.Batch, T: cfg.SeqLen}, borrow: true}
	if err := tr.build(&State{}); err != nil {
		return nil, err
	}
	return &Stepper{tr: tr, opt: opt}, nil
}

// Step runs optimizer step number step (from 0) on batch at learning rate
// lr and returns the batch's loss.
func (s *Stepper) Step(step int, batch *nn.Batch, lr float64) (float64, error) {
	if err := s.tr.beforeStep(step); err != nil {
		return 0, err
	}
	loss, err := s.tr.forwardBackward(batch, 1)
	if err != nil {
		return 0, err
	}
	s.opt.Step(lr)
	if _, err := s.tr.afterStep(step); err != nil {
		return 0, err
	}
	return loss, nil
}

// Trained is the number of parameters the optimizer updates (routers
// included).
func (s *Stepper) Trained() int {
	n := 0
	for _, p := range s.opt.params {
		n += p.Numel()
	}
	return n
}

// Close releases the trainer's graph.
func (s *Stepper) Close() error { return s.tr.Close() }
