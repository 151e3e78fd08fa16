package nn_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/internal/safetensors"
	"github.com/sparsetune/sparsetune/internal/testmodel"
	"github.com/sparsetune/sparsetune/nn"
)

// tinyModelDir writes the byte-level test GPT-2 with weights.
func tinyModelDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := testmodel.ByteLevelGPT2(dir, true); err != nil {
		t.Fatal(err)
	}
	return dir
}

// editConfig rewrites one key of dir/config.json.
func editConfig(t *testing.T, dir, key string, v any) {
	t.Helper()
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw := map[string]any{}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	raw[key] = v
	if b, err = json.Marshal(raw); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMalformedConfigNamesTheKey: absurd, zero, negative and inconsistent
// sizes fail on load with one line naming config.json and the key, before
// anything is allocated (n_positions 2^40 used to panic in InitParams).
func TestMalformedConfigNamesTheKey(t *testing.T) {
	for _, tc := range []struct {
		key  string
		v    any
		want string
	}{
		{"n_positions", 1099511627776, "n_positions is 1099511627776"},
		{"n_positions", 1 << 20, `"transformer.wpe.weight" has shape`}, // sane, but not the file's
		{"n_positions", 0, "n_positions is 0"},
		{"n_embd", -8, "n_embd is -8"},
		{"n_layer", 1 << 30, "n_layer is"},
		{"vocab_size", 1 << 40, "vocab_size is"},
		{"n_head", 5, "n_head 5 does not divide n_embd"},
		{"layer_norm_epsilon", -1e-5, "layer_norm_epsilon is -1e-05"},
	} {
		dir := tinyModelDir(t)
		editConfig(t, dir, tc.key, tc.v)
		_, err := nn.Load(dir, nn.LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), dir) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s = %v: got %v, want one line naming %s and %q", tc.key, tc.v, err, dir, tc.want)
		}
	}
}

// TestNonFiniteWeightIsNamed: a NaN or Inf weight fails the load, naming
// the file, the tensor and the element.
func TestNonFiniteWeightIsNamed(t *testing.T) {
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		dir := tinyModelDir(t)
		path := filepath.Join(dir, "model.safetensors")
		f, err := safetensors.Read(path)
		if err != nil {
			t.Fatal(err)
		}
		name := "transformer.h.0.attn.c_attn.weight"
		f.Tensors[name].Data[17] = bad
		var ts []*safetensors.Tensor
		for _, n := range f.Names {
			ts = append(ts, f.Tensors[n])
		}
		if err := safetensors.Write(path, ts, safetensors.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err = nn.Load(dir, nn.LoadOptions{})
		want := path + ": tensor " + name + " has " + map[bool]string{true: "NaN", false: "-Inf"}[bad != bad] + " at element 17"
		if err == nil || err.Error() != want {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}

func TestCheckFinite(t *testing.T) {
	if err := nn.CheckFinite("f", "w", []float32{0, 1, -3e38}); err != nil {
		t.Fatal(err)
	}
	if err := nn.CheckFinite("f", "w", []float32{0, float32(math.Inf(1))}); err == nil || !strings.Contains(err.Error(), "+Inf at element 1") {
		t.Fatalf("got %v", err)
	}
}
