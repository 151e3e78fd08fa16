package checkpoints

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// topKManifest is tinyManifest under top-k routing: k between the dense
// and the kept units of every layer.
func topKManifest(family string) SparseManifest {
	m := tinyManifest(family, false)
	m.Routing = RoutingTopK
	ks := [][2]int{{2, 1}, {0, 4}, {4, 0}}
	for i := range m.Layers {
		m.Layers[i].KHeads, m.Layers[i].KGroups = ks[i][0], ks[i][1]
	}
	return m
}

// TestSparseTopKRoundTrip: a top-k checkpoint is written as version 3 and
// reads back with its routing and every layer's k; a threshold checkpoint
// of the same model is still written as version 1.
func TestSparseTopKRoundTrip(t *testing.T) {
	m := tinySparseModel(t, "gpt2")
	s := pruneForTest(t, m, topKManifest("gpt2"))
	dir := filepath.Join(t.TempDir(), "sparse")
	if err := WriteSparse(dir, s, t.TempDir(), nil); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSparse(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Manifest.Version != 3 || got.Manifest.Routing != RoutingTopK {
		t.Fatalf("version %d routing %q, want 3 and topk", got.Manifest.Version, got.Manifest.Routing)
	}
	if !reflect.DeepEqual(got.Manifest.Layers, s.Manifest.Layers) {
		t.Fatalf("layers %+v, want %+v", got.Manifest.Layers, s.Manifest.Layers)
	}
	thr, _ := writeTiny(t, "gpt2", false)
	back, err := ReadSparse(thr)
	if err != nil {
		t.Fatal(err)
	}
	if back.Manifest.Version != 1 || back.Manifest.Routing != "" {
		t.Fatalf("threshold checkpoint: version %d routing %q, want 1 and none", back.Manifest.Version, back.Manifest.Routing)
	}
}

// TestSparseTopKRejects: top-k fields that do not fit are one-line errors.
func TestSparseTopKRejects(t *testing.T) {
	m := tinySparseModel(t, "gpt2")
	for _, tc := range []struct {
		name string
		edit func(map[string]any)
		want string
	}{
		{"routing in version 2", func(mm map[string]any) { mm["version"] = 2 }, `routing "topk" needs version 3`},
		{"unknown routing", func(mm map[string]any) { mm["routing"] = "top3" }, `routing "top3" is unknown`},
		{"k above the kept units", func(mm map[string]any) { layer(mm, 0)["k_heads"] = 4 }, "layer 0: k_heads 4 is outside [1, 3]"},
		{"k below the dense units", func(mm map[string]any) { layer(mm, 2)["k_heads"] = 3 }, "layer 2: k_heads 3 is outside [4, 4]"},
		{"k without top-k", func(mm map[string]any) { delete(mm, "routing") }, `k_heads 2 given without routing "topk"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "sparse")
			if err := WriteSparse(dir, pruneForTest(t, m, topKManifest("gpt2")), t.TempDir(), nil); err != nil {
				t.Fatal(err)
			}
			editManifest(t, dir, tc.edit)
			_, err := ReadSparse(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line saying %q", err, tc.want)
			}
		})
	}
}

// TestQuantizeTopK: a top-k checkpoint stored as BF16 stays a version-3
// top-k checkpoint with its k (the dtype needs version 2, top-k 3).
func TestQuantizeTopK(t *testing.T) {
	m := tinySparseModel(t, "gpt2")
	s := pruneForTest(t, m, topKManifest("gpt2"))
	dir := filepath.Join(t.TempDir(), "sparse")
	if err := WriteSparse(dir, s, t.TempDir(), nil); err != nil {
		t.Fatal(err)
	}
	if err := QuantizeDir(dir, BF16); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSparse(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Manifest.Version != 3 || got.Manifest.Routing != RoutingTopK || got.Manifest.DType != BF16 {
		t.Fatalf("version %d routing %q dtype %q, want 3, topk and bf16", got.Manifest.Version, got.Manifest.Routing, got.Manifest.DType)
	}
	if !reflect.DeepEqual(got.Manifest.Layers, s.Manifest.Layers) {
		t.Fatalf("layers %+v, want %+v", got.Manifest.Layers, s.Manifest.Layers)
	}
}
