package atomicdir

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeTree makes dir hold one file, "id", with contents id.
func writeTree(t *testing.T, dir, id string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "id"), []byte(id), 0o644); err != nil {
		t.Fatal(err)
	}
}

// idOf returns the contents of dir/id, or "" when dir is missing.
func idOf(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "id"))
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func fillID(id string) func(string) error {
	return func(tmp string) error {
		return os.WriteFile(filepath.Join(tmp, "id"), []byte(id), 0o644)
	}
}

func TestReplaceCreatesAndReplaces(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "ck")
	for _, id := range []string{"one", "two"} {
		if err := Replace(dir, fillID(id)); err != nil {
			t.Fatal(err)
		}
		if got := idOf(t, dir); got != id {
			t.Fatalf("id %q, want %q", got, id)
		}
		if got := names(t, parent); !slices.Equal(got, []string{"ck"}) {
			t.Fatalf("parent holds %q, want only ck", got)
		}
	}
}

func TestReplaceFillErrorKeepsOld(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "ck")
	writeTree(t, dir, "old")
	boom := errors.New("boom")
	if err := Replace(dir, func(tmp string) error { fillID("new")(tmp); return boom }); !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
	if got := idOf(t, dir); got != "old" {
		t.Fatalf("id %q, want old", got)
	}
	if got := names(t, parent); !slices.Equal(got, []string{"ck"}) {
		t.Fatalf("parent holds %q, want only ck", got)
	}
}

// TestRecoverStates builds each state a crash can leave and checks that
// Heal restores the target without removing anything, and Recover restores
// it and removes every sibling.
func TestRecoverStates(t *testing.T) {
	for _, c := range []struct {
		name string
		have map[string]string // entry -> id ("" for a file)
		want string            // id of ck afterwards, "" for missing
	}{
		{"new in place, old aside", map[string]string{".ck.new": "new", ".ck.old": "old"}, "new"},
		{"first write, new complete", map[string]string{".ck.new": "new", ".ck.tmp-1": "partial"}, "new"},
		{"old aside only", map[string]string{".ck.old": "old"}, "old"},
		{"earlier release's old aside", map[string]string{".ck.tmp-77.old": "old", ".ck.tmp-77": "new"}, "old"},
		{"swap never started", map[string]string{"ck": "old", ".ck.new": "new"}, "old"},
		{"old left after swap", map[string]string{"ck": "new", ".ck.old": "old"}, "new"},
		{"interrupted delete", map[string]string{".ck.deleting": "gone"}, ""},
		{"only a partial write", map[string]string{".ck.tmp-3": "partial", ".ck.tmp-9f": ""}, ""},
	} {
		for _, heal := range []bool{true, false} {
			parent := t.TempDir()
			dir := filepath.Join(parent, "ck")
			writeTree(t, filepath.Join(parent, "other"), "other")
			for name, id := range c.have {
				if id == "" {
					os.WriteFile(filepath.Join(parent, name), nil, 0o644)
					continue
				}
				writeTree(t, filepath.Join(parent, name), id)
			}
			var err error
			if heal {
				err = Heal(dir)
			} else {
				err = Recover(dir)
			}
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if got := idOf(t, dir); got != c.want {
				t.Errorf("%s (heal %v): ck holds %q, want %q", c.name, heal, got, c.want)
			}
			got := names(t, parent)
			if heal {
				if len(got) < 1+len(c.have)-1 { // at most the restored one moved
					t.Errorf("%s: Heal removed entries: %q", c.name, got)
				}
				continue
			}
			want := []string{"other"}
			if c.want != "" {
				want = []string{"ck", "other"}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: after Recover the parent holds %q, want %q", c.name, got, want)
			}
		}
	}
}

func TestRemove(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "ck")
	writeTree(t, dir, "x")
	writeTree(t, filepath.Join(parent, ".ck.deleting"), "stale")
	if err := Remove(dir); err != nil {
		t.Fatal(err)
	}
	if got := names(t, parent); len(got) != 0 {
		t.Fatalf("parent holds %q after Remove", got)
	}
	if err := Remove(dir); err != nil {
		t.Fatalf("Remove of a missing directory: %v", err)
	}
}

func TestTargets(t *testing.T) {
	parent := t.TempDir()
	for _, n := range []string{"best", ".best.new", ".checkpoint-4.tmp-12", ".latest.tmp-ab", ".checkpoint-2.deleting", ".probe-1", "x.old", ".cache"} {
		writeTree(t, filepath.Join(parent, n), "x")
	}
	got, err := Targets(parent)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want := []string{"best", "checkpoint-2", "checkpoint-4", "latest"}; !slices.Equal(got, want) {
		t.Fatalf("Targets = %q, want %q", got, want)
	}
}

func TestHealAndRecoverOfDot(t *testing.T) {
	for _, p := range []string{".", "/", ""} {
		if err := Heal(p); err != nil {
			t.Errorf("Heal(%q): %v", p, err)
		}
		if err := Recover(p); err != nil {
			t.Errorf("Recover(%q): %v", p, err)
		}
	}
	if err := Replace(".", fillID("x")); err == nil {
		t.Error("Replace(\".\") succeeded")
	}
}

// TestRestore checks the one rename-back that Heal and callers with other
// complete copies share: it restores a missing dir, leaves a dir that
// another process restored meanwhile alone, and names both paths when
// nothing can be restored.
func TestRestore(t *testing.T) {
	parent := t.TempDir()
	dir, from := filepath.Join(parent, "best"), filepath.Join(parent, "best.old")
	writeTree(t, from, "old")
	if err := Restore(dir, from); err != nil {
		t.Fatal(err)
	}
	if got := idOf(t, dir); got != "old" {
		t.Fatalf("restored id %q, want old", got)
	}
	if got := names(t, parent); !slices.Equal(got, []string{"best"}) {
		t.Fatalf("after Restore the parent holds %q, want [best]", got)
	}
	if err := Restore(dir, from); err != nil { // from gone, dir present: healed meanwhile
		t.Fatalf("Restore of a present dir: %v", err)
	}
	err := Restore(filepath.Join(parent, "ck"), filepath.Join(parent, "ck.old"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Restore with nothing to restore: %v, want a not-exist error", err)
	}
	if want := "ck is missing and restoring it from ck.old failed"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
}
