package harden

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/router"
)

// topKInput is tinyInput (three layers) under top-k routing: the routers'
// weights are the threshold ones, k from ChooseK for the target.
func topKInput(t *testing.T) Input {
	t.Helper()
	in := tinyInputL(t, 3)
	ch, err := chooseK(in, in.Target)
	if err != nil {
		t.Fatal(err)
	}
	in.Router.Routing, in.Router.KHeads, in.Router.KGroups = router.TopK, ch.KHeads, ch.KGroups
	for _, p := range in.Routers { // unit 0 of every router is never chosen
		if strings.HasSuffix(p.Name, ".bias") {
			p.Value.Data().([]float32)[0] = -40
		}
	}
	return in
}

// TestHardenTopK: a top-k hardening writes a version-3 checkpoint with
// routing topk and the chosen k, calibrates no τ, removes only units never
// chosen, and its measured compute is the same on the calibration and the
// held-out tokens and is the cost model's.
func TestHardenTopK(t *testing.T) {
	in := topKInput(t)
	ch, _ := chooseK(in, in.Target)
	out := filepath.Join(t.TempDir(), "sparse")
	var log strings.Builder
	res, sp := hardenRead(t, in, DefaultOptions(out), &log)
	man := sp.Manifest
	if man.Version != 3 || man.Routing != checkpoints.RoutingTopK || res.Routing != "topk" {
		t.Fatalf("version %d routing %q (result %q), want 3 and topk", man.Version, man.Routing, res.Routing)
	}
	for l, ml := range man.Layers {
		if ml.KHeads != ch.KHeads[l] || ml.KGroups != ch.KGroups[l] || ml.Tau != in.Router.Tau {
			t.Fatalf("layer %d: k %d/%d τ %g, want %d/%d and the trained τ %g", l, ml.KHeads, ml.KGroups, ml.Tau, ch.KHeads[l], ch.KGroups[l], in.Router.Tau)
		}
	}
	if man.Calibration.PruneBelow != 0 || man.Calibration.DenseAbove != 1 {
		t.Fatalf("prune-below %g dense-above %g, want 0 and 1", man.Calibration.PruneBelow, man.Calibration.DenseAbove)
	}
	e, err := infer.New(sp)
	if err != nil {
		t.Fatal(err)
	}
	held, err := e.MeasureCompute(in.HeldOut.Seqs)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(res.Compute-res.HeldOutCompute) > 1e-9 || math.Abs(held-res.Compute) > 1e-9 {
		t.Fatalf("compute %.12f on calibration, %.12f (%.12f again) held out: top-k compute moved with the data", res.Compute, res.HeldOutCompute, held)
	}
	// Removing units lowers the routers' cost, never the units run.
	if res.Compute > ch.Compute+1e-9 || ch.Compute-res.Compute > 0.02 {
		t.Fatalf("measured compute %.6f, the cost model's %.6f for the k", res.Compute, ch.Compute)
	}
	if res.Removed != 2*len(man.Layers) {
		t.Fatalf("%d units removed, want unit 0 of each router (%d)", res.Removed, 2*len(man.Layers))
	}
	if !strings.Contains(log.String(), "hardened (top-k)") || strings.Contains(log.String(), "τ") {
		t.Errorf("log: %s", log.String())
	}
	t.Logf("top-k: heads %v groups %v, compute %.4f (cost model %.4f), %d removed %d dense %d routed", ch.KHeads, ch.KGroups, res.Compute, ch.Compute, res.Removed, res.Dense, res.Routed)
}
