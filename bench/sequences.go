package bench

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/internal/jsonfile"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/train"
)

// ValidSequences returns up to n validation sequences of the run a sparse
// checkpoint was trained by (its manifest's training config), tokenized
// with the checkpoint's tokenizer: real inputs for timing the engine, since
// the compute a checkpoint spends depends on what it reads.
func ValidSequences(sparseDir string, n int) ([][]int, error) {
	var man checkpoints.SparseManifest
	if err := jsonfile.Read(filepath.Join(sparseDir, checkpoints.SparseManifestFile), &man); err != nil {
		return nil, err
	}
	if len(man.TrainConfig) == 0 || string(man.TrainConfig) == "null" {
		return nil, fmt.Errorf("%s: the manifest holds no training config", sparseDir)
	}
	cfg := train.DefaultConfig()
	if err := json.Unmarshal(man.TrainConfig, &cfg); err != nil {
		return nil, fmt.Errorf("%s: training config: %v", sparseDir, err)
	}
	mc, err := nn.LoadConfig(sparseDir)
	if err != nil {
		return nil, err
	}
	tok, err := data.LoadTokenizer(sparseDir)
	if err != nil {
		return nil, err
	}
	key, err := data.TokenizerKey(sparseDir)
	if err != nil {
		return nil, err
	}
	task := data.Task("causal-lm")
	if mc.Task == nn.Classification {
		task = "classification"
	}
	ds, err := data.Load(data.Spec{Task: task, Train: cfg.Train, Valid: cfg.Valid, ValidRatio: cfg.ValidRatio, Text: cfg.TextField,
		Label: cfg.LabelField, ID: cfg.IDField, SeqLen: cfg.SeqLen, Seed: cfg.Seed, CacheDir: cfg.DataCacheDir(), Labels: mc.Labels}, tok, key)
	if err != nil {
		return nil, err
	}
	seqs := ds.Valid.Seqs
	return seqs[:min(n, len(seqs))], nil
}
