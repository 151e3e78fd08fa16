package sweep

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReport renders a sweep and one of its runs: each report holds its
// tables, and every image it links to exists beside it as a PNG.
func TestReport(t *testing.T) {
	p := tinyPlan(t)
	p.Targets, p.Frontier = []float64{0.5}, FrontierPlan{From: 0.5, Targets: []float64{0.3, 0.5}}
	dir := filepath.Join(t.TempDir(), "sweep")
	must(t, WritePlan(dir, p))
	must(t, Run(dir, p, 1, &strings.Builder{}))

	out := filepath.Join(t.TempDir(), "out", "sweep.md")
	path, err := Report(dir, out)
	must(t, err)
	md := read(t, path)
	for _, s := range []string{"# Sweep " + dir, "| target-0.50 | 0.50 |", "Frontier from the routers of target-0.50", "## Runs", "| target-0.50 | 24 |"} {
		if !strings.Contains(md, s) {
			t.Errorf("sweep report lacks %q:\n%s", s, md)
		}
	}
	checkImages(t, path, 3)

	path, err = Report(filepath.Join(dir, "target-0.50"), "")
	must(t, err)
	if path != filepath.Join(dir, "target-0.50", ReportFile) {
		t.Fatalf("run report written to %s", path)
	}
	md = read(t, path)
	for _, s := range []string{"| sparsity | target 0.50, sigmoid routers", "## Frontier", "| 0.30 | 0 |", "What the shortcut costs"} {
		if !strings.Contains(md, s) {
			t.Errorf("run report lacks %q:\n%s", s, md)
		}
	}
	checkImages(t, path, 4)

	if _, err := Report(t.TempDir(), ""); err == nil || !strings.Contains(err.Error(), "neither a sweep") {
		t.Fatalf("report of an empty directory: %v", err)
	}
}

// checkImages checks that the Markdown file links at least n images and
// that each is a PNG beside it.
func checkImages(t *testing.T, md string, n int) {
	t.Helper()
	links := regexp.MustCompile(`!\[[^]]*\]\(([^)]+)\)`).FindAllStringSubmatch(read(t, md), -1)
	if len(links) < n {
		t.Fatalf("%s links %d images, want at least %d", md, len(links), n)
	}
	for _, l := range links {
		if strings.Contains(l[1], "/") {
			t.Errorf("%s: image %s is not beside the report", md, l[1])
		}
		p := filepath.Join(filepath.Dir(md), l[1])
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s links %s: %v", md, l[1], err)
			continue
		}
		checkPNG(t, p)
	}
}
