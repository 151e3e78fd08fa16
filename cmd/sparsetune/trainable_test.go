package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTrainableUsage: training only the routers needs a sparse run, in
// train (--trainable) and in bench train (--train); each refusal is a
// usage error (exit 2) in one line naming the flag.
func TestTrainableUsage(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"train routers, dense", []string{"train", "--model", "m", "--train", "d.jsonl", "--trainable", "routers"}, "--trainable routers applies only to sparse runs"},
		{"train unknown", []string{"train", "--model", "m", "--train", "d.jsonl", "--target", "0.5", "--trainable", "head"}, `--trainable "head": want all or routers`},
		{"train all, dense", []string{"train", "--model", "m", "--train", "d.jsonl", "--trainable", "all"}, "--trainable applies only to sparse runs"},
		{"bench routers, dense", []string{"bench", "train", "--train", "routers"}, "--train routers applies only to sparse runs"},
		{"bench unknown", []string{"bench", "train", "--train", "head", "--target", "0.5"}, `--train "head": want all or routers`},
		{"bench target above 1", []string{"bench", "train", "--target", "2"}, "--target must be in (0, 1]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(c.args, &out, &errb)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr %q", code, errb.String())
			}
			msg := strings.TrimRight(errb.String(), "\n")
			if strings.Contains(msg, "\n") || !strings.Contains(msg, c.want) {
				t.Errorf("stderr %q, want one line saying %q", msg, c.want)
			}
		})
	}
}

// TestBenchTrainRouters: bench train --train routers times a sparse step
// with the base frozen and reports what it trained and its peak RSS.
func TestBenchTrainRouters(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"bench", "train", "--family", "llama", "--layers", "1", "--d-model", "32", "--heads", "4", "--kv-heads", "2",
		"--ffn", "64", "--vocab", "64", "--seq", "16", "--batch", "2", "--steps", "1", "--warmup", "0", "--train", "routers", "--target", "0.5"}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var r struct {
		Params    int     `json:"params"`
		Trained   int     `json:"trained_params"`
		Train     string  `json:"train"`
		Target    float64 `json:"target"`
		PeakRSSMB float64 `json:"peak_rss_mb"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	if r.Train != "routers" || r.Target != 0.5 || r.Trained <= 0 || r.Trained >= r.Params/10 || r.PeakRSSMB <= 0 {
		t.Errorf("bench result %+v: want routers at 0.5, a small trained count and the peak RSS", r)
	}
}

// TestDenseSavedDistillZero: a dense run's train_config.json saved before
// distill's automatic default (distill 0) given back as --config is no
// usage error: the run goes on (and fails here only for want of a model).
func TestDenseSavedDistillZero(t *testing.T) {
	p := filepath.Join(t.TempDir(), "train_config.json")
	if err := os.WriteFile(p, []byte(`{"distill": 0, "distill_temp": 2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"train", "--model", filepath.Join(t.TempDir(), "none"), "--train", "d.jsonl", "--config", p, "--out-dir", filepath.Join(t.TempDir(), "run")}, &out, &errb)
	if code != 1 || strings.Contains(errb.String(), "distill") {
		t.Errorf("exit %d, stderr %q; want a run error not about distill", code, errb.String())
	}
}
