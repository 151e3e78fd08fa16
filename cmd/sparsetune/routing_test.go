package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/checkpoints"
)

// TestRoutingUsage: --routing takes threshold or topk, and topk refuses
// hard-concrete gates; each refusal is a usage error in one line naming
// the flag.
func TestRoutingUsage(t *testing.T) {
	base := []string{"train", "--model", "m", "--train", "d.jsonl", "--target", "0.5"}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown", []string{"--routing", "top3"}, `--routing "top3": want threshold or topk`},
		{"hard-concrete", []string{"--routing", "topk", "--router", "hard-concrete"}, "--routing topk takes sigmoid or static routers"},
	} {
		t.Run(c.name, func(t *testing.T) { wantUsage(t, append(append([]string{}, base...), c.args...), c.want) })
	}
}

// TestInspectTopK: inspect shows a top-k checkpoint's routing and each
// layer's k where a threshold checkpoint shows τ.
func TestInspectTopK(t *testing.T) {
	sp, err := checkpoints.ReadSparse(sparseFixture(t, true))
	if err != nil {
		t.Fatal(err)
	}
	sp.Manifest.Routing = checkpoints.RoutingTopK
	for l := range sp.Manifest.Layers {
		ml := &sp.Manifest.Layers[l]
		ml.KHeads, ml.KGroups = len(ml.Heads), len(ml.Groups)
	}
	sp.Manifest.Layers[0].KHeads = 1
	dir := filepath.Join(t.TempDir(), "topk")
	if err := checkpoints.WriteSparse(dir, sp, t.TempDir(), nil); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"inspect", dir}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"v3", "routing:           top-k", "layer  0: k 1 heads, "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("inspect lacks %q:\n%s", want, out.String())
		}
	}
}
