package sweep

import (
	"io"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sparsetune/sparsetune/router"
	"github.com/sparsetune/sparsetune/train"
)

// TestFrontierTopK: the one-run frontier of a top-k run moves each layer's
// k, not τ: every point records the k router.Config.ChooseK gives for its
// target, its τ is the trained one, and a larger target runs more units
// and measures more compute.
func TestFrontierTopK(t *testing.T) {
	c := tinyPlan(t).Base.Config
	c.Target, c.OutDir, c.Routing = 0.5, filepath.Join(t.TempDir(), "run"), string(router.TopK)
	if _, err := train.Run(c, io.Discard); err != nil {
		t.Fatal(err)
	}
	curve, err := Frontier(FrontierConfig{Run: c.OutDir, Targets: []float64{0.3, 0.8}}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(curve.Points) != 2 {
		t.Fatalf("%d points, want 2", len(curve.Points))
	}
	f, _, err := loadFrontier(FrontierConfig{Run: c.OutDir}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range curve.Points {
		want, err := f.run.RouterConfig().ChooseK(f.run.Model.Config, c.SeqLen, p.Target)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(p.KHeads, want.KHeads) || !slices.Equal(p.KGroups, want.KGroups) || p.Tau != curve.SourceTau {
			t.Fatalf("target %.2f: k %v %v τ %g, want %v %v and the trained τ %g", p.Target, p.KHeads, p.KGroups, p.Tau, want.KHeads, want.KGroups, curve.SourceTau)
		}
	}
	if lo, hi := curve.Points[0], curve.Points[1]; !(hi.Compute > lo.Compute) {
		t.Fatalf("compute %.4f at target %.2f, %.4f at %.2f", lo.Compute, lo.Target, hi.Compute, hi.Target)
	}
}
