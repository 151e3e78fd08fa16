package checkpoints

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/sparsetune/sparsetune/internal/atomicdir"
	"github.com/sparsetune/sparsetune/internal/atomicfile"
	"github.com/sparsetune/sparsetune/internal/safetensors"
	"github.com/sparsetune/sparsetune/nn"
)

// File names inside a checkpoint directory.
const (
	OptimizerFile = "optimizer.bin"
	StateFile     = "trainer_state.json"
	ConfigFile    = "train_config.json"
	latestFile    = "latest"
)

// Contents is what Save writes besides the model.
type Contents struct {
	Optimizer []byte   // optimizer state, opaque here
	State     any      // trainer state, written as JSON
	Config    any      // the resolved training config, written as JSON
	Extra     []string // files copied from the base model directory (tokenizer files)
	ExtraFrom string
	Tensors   map[string][]*safetensors.Tensor // further safetensors files by name (router weights)
}

// Save writes checkpoint name (e.g. "checkpoint-300" or "best") under
// runDir atomically and returns its path. An existing checkpoint of the
// same name is replaced only once the new one is complete.
func Save(runDir, name string, m *nn.Model, c Contents) (string, error) {
	final := filepath.Join(runDir, name)
	err := atomicdir.Replace(final, func(tmp string) error {
		if err := m.Save(tmp); err != nil {
			return err
		}
		if c.Optimizer != nil {
			if err := atomicfile.WriteFile(filepath.Join(tmp, OptimizerFile), c.Optimizer, 0o644); err != nil {
				return err
			}
		}
		for file, v := range map[string]any{StateFile: c.State, ConfigFile: c.Config} {
			if v == nil {
				continue
			}
			b, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				return err
			}
			if err := atomicfile.WriteFile(filepath.Join(tmp, file), append(b, '\n'), 0o644); err != nil {
				return err
			}
		}
		for file, ts := range c.Tensors {
			if err := safetensors.Write(filepath.Join(tmp, file), ts, safetensors.WriteOptions{}); err != nil {
				return err
			}
		}
		return copyFiles(tmp, c.ExtraFrom, c.Extra)
	})
	if err != nil {
		return "", err
	}
	return final, nil
}

// SetLatest points the run's "latest" file at checkpoint name.
func SetLatest(runDir, name string) error {
	return atomicfile.WriteFile(filepath.Join(runDir, latestFile), []byte(name+"\n"), 0o644)
}

// Latest returns the path of the run's latest complete checkpoint, or ""
// when the run has none.
func Latest(runDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(runDir, latestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	name := strings.TrimSpace(string(b))
	p := filepath.Join(runDir, name)
	if name == "" || strings.ContainsAny(name, "/\\") {
		return "", fmt.Errorf("%s: malformed latest pointer %q", runDir, name)
	}
	if _, err := os.Stat(filepath.Join(p, StateFile)); err != nil {
		return "", fmt.Errorf("%s: latest checkpoint %s is missing its %s", runDir, name, StateFile)
	}
	return p, nil
}

// ReadState decodes a checkpoint's trainer state into v.
func ReadState(dir string, v any) error {
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %v", filepath.Join(dir, StateFile), err)
	}
	return nil
}

// ReadOptimizer returns a checkpoint's optimizer state.
func ReadOptimizer(dir string) ([]byte, error) {
	return os.ReadFile(filepath.Join(dir, OptimizerFile))
}

// Prune removes all but the newest keep "checkpoint-<step>" directories of
// a run, never touching the one named protect. Each is removed with
// atomicdir.Remove, so a crash never leaves a half-deleted checkpoint under
// its own name.
func Prune(runDir string, keep int, protect string) error {
	cks, err := listCheckpoints(runDir)
	if err != nil {
		return err
	}
	for i, c := range cks {
		if i >= keep && c != protect {
			if err := atomicdir.Remove(filepath.Join(runDir, c)); err != nil {
				return err
			}
		}
	}
	return nil
}

// listCheckpoints returns the names of the "checkpoint-<step>" directories
// of a run, newest first.
func listCheckpoints(runDir string) ([]string, error) {
	entries, err := os.ReadDir(runDir)
	if err != nil {
		return nil, err
	}
	type ck struct {
		name string
		step int
	}
	var cks []ck
	for _, e := range entries {
		if s, ok := strings.CutPrefix(e.Name(), "checkpoint-"); ok && e.IsDir() {
			if n, err := strconv.Atoi(s); err == nil {
				cks = append(cks, ck{e.Name(), n})
			}
		}
	}
	sort.Slice(cks, func(i, j int) bool { return cks[i].step > cks[j].step })
	names := make([]string, len(cks))
	for i, c := range cks {
		names[i] = c.name
	}
	return names, nil
}
