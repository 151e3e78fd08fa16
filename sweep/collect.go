package sweep

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/sparsetune/sparsetune/internal/atomicfile"
)

// Table file names in a sweep directory.
const (
	ResultsCSV      = "results.csv"
	ResultsMarkdown = "results.md"
)

// Collect merges the results of the sweep in dir, however its jobs were run
// (one process, a Slurm array, a Kubernetes Indexed Job), into results.csv,
// results.md and the plots (Files). Every job must have finished; the error
// names those that have not and how to run them. With latency, each sparse
// checkpoint not yet timed is timed on the inference engine (one after
// another, so run collect where the timings mean something); without, the
// table has only the timings measured before.
func Collect(dir string, latency bool) (*Table, error) {
	t, _, err := Load(dir, latency)
	if err != nil {
		return nil, err
	}
	if len(t.Missing) > 0 {
		var names []string
		for _, j := range t.Missing {
			names = append(names, fmt.Sprintf("%d (%s)", j.Index, j.Name))
		}
		return nil, fmt.Errorf("%s: %d of the sweep's jobs have not finished: index %s; run `sparsetune sweep --out-dir %s --index N` for each", dir, len(t.Missing), strings.Join(names, ", "), dir)
	}
	if err := t.write(dir); err != nil {
		return nil, err
	}
	return t, nil
}

// write saves the tables and plots into dir.
func (t *Table) write(dir string) error {
	if err := atomicfile.WriteFile(filepath.Join(dir, ResultsCSV), t.CSV(), 0o644); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ResultsMarkdown), t.Markdown(), 0o644); err != nil {
		return err
	}
	cp, err := t.ComputePlot()
	if err != nil {
		return err
	}
	if err := savePNG(cp, filepath.Join(dir, ComputePlot)); err != nil {
		return err
	}
	lp, err := t.LatencyPlot()
	if err != nil {
		return err
	}
	if err := savePNG(lp, filepath.Join(dir, LatencyPlot)); err != nil {
		return err
	}
	if !t.Ratios {
		return nil
	}
	rp, err := t.RatioPlot()
	if err != nil {
		return err
	}
	return savePNG(rp, filepath.Join(dir, RatioPlot))
}

// Files are the names of the tables and plots Collect writes, in the sweep
// directory.
func (t *Table) Files() []string {
	files := []string{ResultsCSV, ResultsMarkdown, ComputePlot, LatencyPlot}
	if t.Ratios {
		files = append(files, RatioPlot)
	}
	return files
}
