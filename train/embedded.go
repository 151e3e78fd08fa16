package train

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sparsetune/sparsetune/internal/builtin"
)

// EmbeddedConfig is the configuration of `sparsetune train` with no model
// and no data: the embedded base model (a small GPT-2 pretrained on the
// generated corpus, see scripts/make_base.sh) fine-tuned as a classifier on
// the built-in topic task together with routers, at target 0.5. It extracts both into workDir and takes about
// three minutes on two cores.
func EmbeddedConfig(workDir string, log io.Writer) (Config, error) {
	c := DefaultConfig()
	if !builtin.Available() {
		return c, fmt.Errorf("this build carries no embedded base model; run scripts/make_base.sh, or give --model and --train")
	}
	model, task := filepath.Join(workDir, "base"), filepath.Join(workDir, "task")
	if err := builtin.ExtractBase(model); err != nil {
		return c, err
	}
	if err := os.MkdirAll(task, 0o755); err != nil {
		return c, err
	}
	train, valid, test, err := builtin.WriteTask(task)
	if err != nil {
		return c, err
	}
	fmt.Fprintf(log, "embedded default: base model in %s, built-in topic task in %s\n", model, task)
	c.Model, c.Task, c.Train, c.Valid, c.Test = model, TaskClassification, train, valid, test
	c.OutDir, c.CacheDir = freshDir(filepath.Join("runs", "builtin")), filepath.Join(workDir, "cache")
	c.SeqLen, c.Batch, c.Steps, c.LR, c.Warmup = 128, 16, 300, 1e-3, 30
	c.EvalEvery, c.SaveEvery, c.LogEvery, c.Dropout = 100, 100, 20, 0.1
	// Sparse by default: routers trained to half the dense compute of the
	// routed blocks (--target 0 trains densely).
	c.Target = 0.5
	return c, nil
}

// freshDir returns dir, or dir-2, dir-3, ... if earlier runs hold it, so
// repeating the default never touches an earlier run.
func freshDir(dir string) string {
	for i := 2; HoldsRun(dir); i++ {
		dir = fmt.Sprintf("%s-%d", strings.TrimSuffix(dir, fmt.Sprintf("-%d", i-1)), i)
	}
	return dir
}
