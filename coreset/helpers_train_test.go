package coreset

import (
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/sparsetune/sparsetune/train"
)

// tinyRun is a 12-step run of model on data into out, as train's tests
// make them.
func tinyRun(t testing.TB, model, data, out string) Config {
	c := DefaultConfig()
	c.Model, c.Train, c.OutDir, c.CacheDir = model, data, out, filepath.Join(out, "cache")
	c.SeqLen, c.Batch, c.Steps, c.Warmup, c.LR = 32, 4, 12, 2, 3e-3
	c.EvalEvery, c.SaveEvery, c.LogEvery, c.Dropout = 4, 3, 1, 0.1
	return c
}

// trainCut trains c and stops it after step n, as if its process were
// killed there (train.ErrStopped from a hook at the end of the step).
func trainCut(t testing.TB, c Config, n int) {
	t.Helper()
	stop := train.Hooks{EndStep: func(p *train.Progress) error {
		if p.Step() >= n {
			return train.ErrStopped
		}
		return nil
	}}
	if _, err := Train(c, io.Discard, stop); !errors.Is(err, train.ErrStopped) {
		t.Fatalf("run cut after step %d: got %v, want train.ErrStopped", n, err)
	}
}
