package train

import (
	"fmt"
	"slices"

	"github.com/sparsetune/sparsetune/nn"
)

// What a run trains (Config.Trainable). With "all" every weight of the
// model and every router learns. With "routers" the base model's weights
// are frozen (nn.Param.Frozen): the training graph differentiates only the
// routers and a new task head (nn.Graph.Compile prunes the rest of the
// backward pass), the optimizer holds moments only for those, and the
// teacher of the distillation term shares the base instead of copying it.
// The checkpoints stay complete Hugging Face model directories: the frozen
// base is written into each, unchanged, so that a checkpoint loads, scores
// and hardens on its own, as every other checkpoint does.

// freezeBase marks the model's weights Frozen for a run that trains only
// the routers: all but a new task head (one that the task puts on the base
// model, which starts random and must learn). A head the base model
// already has stays frozen with the rest.
func freezeBase(cfg *Config, m *nn.Model) error {
	if cfg.Trainable != TrainRouters {
		return nil
	}
	newHead := true // a model from scratch has no base to keep (Validate refuses this)
	if !cfg.FromScratch {
		base, err := nn.LoadConfig(cfg.Model)
		if err != nil {
			return err
		}
		newHead = base.Task != m.Config.Task || !slices.Equal(base.Labels, m.Config.Labels)
	}
	freezeAllBut(m, newHead)
	return nil
}

// freezeAllBut freezes every weight of m, except the task head when
// newHead is set.
func freezeAllBut(m *nn.Model, newHead bool) {
	head := map[string]bool{}
	for _, n := range m.Config.HeadNames() {
		head[n] = newHead
	}
	for _, p := range m.Params.List {
		p.Frozen = !head[p.Name]
	}
}

// newOptimizer is AdamW over what the run trains: the model's trainable
// (not Frozen) parameters, then the routers, which learn at router_lr.
// The optimizer state (optimizer.bin) therefore holds moments for these
// only, in this order.
func newOptimizer(cfg *Config, m *nn.Model, sp *sparsity) (*AdamW, error) {
	params := m.Params.Trainable()
	nModel := len(params)
	if sp != nil {
		params = append(params, sp.params()...)
	}
	if len(params) == 0 {
		return nil, fmt.Errorf("nothing to train: every parameter is frozen")
	}
	opt, err := NewAdamW(params, AdamWConfig{Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps, WeightDecay: cfg.WeightDecay, ClipNorm: cfg.ClipNorm})
	if err != nil {
		return nil, err
	}
	if sp != nil && cfg.RouterLR > 0 {
		for i := nModel; i < len(params); i++ {
			opt.SetLRScale(i, cfg.RouterLR/cfg.LR)
		}
	}
	return opt, nil
}
