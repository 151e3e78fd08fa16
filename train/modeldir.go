package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/internal/jsonfile"
	"github.com/sparsetune/sparsetune/nn"
)

// What a model directory holds, beyond a plain Hugging Face model.
const (
	kindPlain  = iota // config.json and weights (a base model, or a dense run's checkpoint)
	kindRouted        // a sparse run's training checkpoint: weights plus router.safetensors
	kindSparse        // a sparse checkpoint (sparse.json): the engine's pruned format
)

// modelKind tells a plain model directory from a sparse run's checkpoint
// (router.safetensors) and a sparse checkpoint (sparse.json).
func modelKind(dir string) int {
	if exists(filepath.Join(dir, checkpoints.SparseManifestFile)) {
		return kindSparse
	}
	if exists(filepath.Join(dir, routerFile)) {
		return kindRouted
	}
	return kindPlain
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// checkBaseModel refuses a model directory that training cannot start
// from. A sparse checkpoint's weights are pruned (their shapes are not the
// config's). A sparse run's checkpoint is refused too, rather than loaded
// densely: its weights were trained under its routers' masks, and
// fine-tuning them without those masks would silently be another model.
// Continue such a run with --resume, or start from its base model.
func checkBaseModel(key, dir string) error {
	switch modelKind(dir) {
	case kindSparse:
		return settingf(key, "%s is a sparse checkpoint (%s): evaluate it with eval --checkpoint, or write a plain model with export --format hf first",
			dir, checkpoints.SparseManifestFile)
	case kindRouted:
		return settingf(key, "%s is a checkpoint of a sparse run (%s): its weights need its routers; continue that run with --resume, or start from its base model",
			dir, routerFile)
	}
	return nil
}

// loadRouted loads checkpoint dir of a sparse run with its routers exactly
// as the run's own evaluation used them: the run's train_config.json gives
// the router kind and group size, trainer_state.json the calibrated τ of
// the hard masks. seqLen sizes the compute model (the evaluated length).
func loadRouted(dir string, seqLen int) (*nn.Model, *sparsity, error) {
	cfg := DefaultConfig()
	if err := jsonfile.Read(filepath.Join(dir, checkpoints.ConfigFile), &cfg); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s has %s but no %s: cannot tell how its routers were built", dir, routerFile, checkpoints.ConfigFile)
		}
		return nil, nil, err
	}
	if cfg.Target <= 0 {
		return nil, nil, fmt.Errorf("%s has %s but its %s is of a dense run (target 0)", dir, routerFile, checkpoints.ConfigFile)
	}
	var st State
	if err := checkpoints.ReadState(dir, &st); err != nil {
		return nil, nil, err
	}
	m, err := nn.Load(dir, nn.LoadOptions{})
	if err != nil {
		return nil, nil, err
	}
	cfg.SeqLen, cfg.Distill = seqLen, 0 // no teacher: the evaluation needs none
	sp, err := newSparsity(&cfg, m)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", dir, err)
	}
	// newSparsity grouped the FFN neurons afresh; the checkpoint holds the
	// run's grouping, so load its weights (and routers) over them.
	if err := loadCheckpointWeights(dir, m, sp); err != nil {
		return nil, nil, err
	}
	if st.Tau > 0 {
		sp.set.Config.Tau = st.Tau
	}
	return m, sp, nil
}

// runSeqLen is the sequence length a training checkpoint's run used, 0 for
// a plain model directory.
func runSeqLen(dir string) int {
	cfg := DefaultConfig()
	if err := jsonfile.Read(filepath.Join(dir, checkpoints.ConfigFile), &cfg); err != nil {
		return 0
	}
	return cfg.SeqLen
}
