package coreset

import (
	"slices"
	"testing"
)

// TestSettingChanges: the keys that differ are listed in declaration order
// with their values as a user types them (train.FormatSetting), and
// coreset_dynamics, a path, counts as unchanged when only its spelling
// differs, but not when it goes from unset to set.
func TestSettingChanges(t *testing.T) {
	saved := DefaultSettings()
	saved.Coreset, saved.CoresetRatio, saved.CoresetDynamics = "ccs", 0.3, "runs/dense/"
	now := saved
	now.CoresetDynamics = "./runs/dense"
	if got := settingChanges(saved, now); len(got) != 0 {
		t.Fatalf("a respelled path: changes %q, want none", got)
	}
	now.Coreset, now.CoresetRatio = "elfs", 0.25
	want := []string{`coreset "ccs" -> "elfs"`, "coreset_ratio 0.3 -> 0.25"}
	if got := settingChanges(saved, now); !slices.Equal(got, want) {
		t.Fatalf("changes %q, want %q", got, want)
	}
	saved.CoresetDynamics, now = "", saved
	now.CoresetDynamics = "."
	if got, want := settingChanges(saved, now), []string{`coreset_dynamics "" -> "."`}; !slices.Equal(got, want) {
		t.Fatalf("unset to set: changes %q, want %q", got, want)
	}
}
