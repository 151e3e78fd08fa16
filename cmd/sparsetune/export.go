package main

import (
	"fmt"
	"io"

	"github.com/sparsetune/sparsetune/checkpoints"
)

// exportFormats are the formats export writes.
var exportFormats = map[string]bool{"hf": true}

func runExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", "export --checkpoint SPARSE_DIR --format hf --out DIR [--force]", stderr)
	in := fs.String("checkpoint", "", "sparse checkpoint directory (with sparse.json)")
	format := fs.String("format", "hf", "output format: hf (a plain Hugging Face model directory of the kept units)")
	out := fs.String("out", "", "directory to write: new, empty, or an earlier export (replaced atomically)")
	force := fs.Bool("force", false, "replace --out even if it is a non-empty directory that is not an earlier export")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		return usagef("--checkpoint and --out are required")
	}
	if !exportFormats[*format] {
		return usagef("--format %q is not supported (want hf)", *format)
	}
	if err := checkOutDir("out", *out, *force, "an earlier export (it has no "+checkpoints.ExportMarkerFile+")", checkpoints.IsExportDir,
		pathInput{"input --checkpoint", *in}); err != nil {
		return err
	}
	s, err := checkpoints.ReadSparse(*in) // heals a half-swapped checkpoint
	if err != nil {
		return err
	}
	extra, err := checkpoints.SparseExtras(*in)
	if err != nil {
		return err
	}
	if n := s.Manifest.RoutedUnits(); n > 0 {
		fmt.Fprintf(stderr, "sparsetune export: warning: %s router switches %d kept units per token; the export runs them for every token (the superset model, not the sparse one)\n", s.Manifest.Router, n)
	}
	if err := checkpoints.ExportHF(s, *out, *in, extra); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported %s to %s (Hugging Face model directory)\n", *in, *out)
	return nil
}
