package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/internal/gguf"
)

// exportFormats are the formats export writes.
var exportFormats = map[string]bool{"hf": true, "gguf": true}

func runExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", "export --checkpoint SPARSE_DIR (--format hf --out DIR | --format gguf --out FILE.gguf [--type f32|f16|q8_0] [--tokenizer DIR]) [--force]", stderr)
	in := fs.String("checkpoint", "", "sparse checkpoint directory (with sparse.json)")
	format := fs.String("format", "hf", "output format: hf (a plain Hugging Face model directory of the kept units) or gguf (one llama.cpp GGUF file; decoders: llama, mistral, qwen2, qwen3, gpt2)")
	out := fs.String("out", "", "hf: directory to write: new, empty, or an earlier export (replaced atomically); gguf: the file to write (atomically)")
	force := fs.Bool("force", false, "replace --out even if it is a non-empty directory that is not an earlier export (hf) or a file that is not GGUF (gguf)")
	typ := fs.String("type", "f32", "gguf: type of the weight matrices: f32, f16 or q8_0 (norms and biases stay f32)")
	tokDir := fs.String("tokenizer", "", "gguf: directory whose tokenizer.json (or vocab.json and merges.txt) goes into the file (default: the checkpoint's own; without one, a placeholder byte vocabulary for running token ids)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		return usagef("--checkpoint and --out are required")
	}
	if !exportFormats[*format] {
		return usagef("--format %q is not supported (want hf or gguf)", *format)
	}
	if *format == "gguf" {
		return exportGGUF(*in, *out, *typ, *tokDir, *force, stdout, stderr)
	}
	if fs.Changed("type") || fs.Changed("tokenizer") {
		return usagef("--type and --tokenizer apply to --format gguf only")
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
	warnRouted(s, stderr)
	if err := checkpoints.ExportHF(s, *out, *in, extra); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported %s to %s (Hugging Face model directory)\n", *in, *out)
	return nil
}

// warnRouted warns that a contextual router's routed units run for every
// token in an export.
func warnRouted(s *checkpoints.Sparse, stderr io.Writer) {
	if n := s.Manifest.RoutedUnits(); n > 0 {
		fmt.Fprintf(stderr, "sparsetune export: warning: %s router switches %d kept units per token; the export runs them for every token (the superset model, not the sparse one)\n", s.Manifest.Router, n)
	}
}

// exportGGUF is export --format gguf.
func exportGGUF(in, out, typName, tokDir string, force bool, stdout, stderr io.Writer) error {
	typ, err := gguf.ParseTensorType(typName)
	if err != nil {
		return usagef("--type: %v", err)
	}
	inputs := []pathInput{{"input --checkpoint", in}}
	if tokDir != "" {
		inputs = append(inputs, pathInput{"input --tokenizer", tokDir})
	}
	if err := checkOutFile("out", out, inputs...); err != nil {
		return err
	}
	if head, err := fileHead(out, 4); err == nil && !bytes.Equal(head, []byte(gguf.Magic)) && !force {
		return usagef("--out %s exists and is not a GGUF file; pass --force to replace it", out)
	}
	s, err := checkpoints.ReadSparse(in)
	if err != nil {
		return err
	}
	if tokDir == "" {
		tokDir = in
		if !hasTokenizer(in) {
			tokDir = ""
			fmt.Fprintf(stderr, "sparsetune export: warning: %s has no tokenizer files; the GGUF carries a placeholder byte vocabulary of %d tokens (run it on token ids, or pass --tokenizer DIR)\n", in, s.Config.Vocab)
		}
	}
	warnRouted(s, stderr)
	notes, err := checkpoints.ExportGGUF(s, out, checkpoints.GGUFOptions{Type: typ, TokenizerDir: tokDir})
	if errors.Is(err, checkpoints.ErrGGUFUnsupported) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintf(stderr, "sparsetune export: warning: %s\n", n)
	}
	fmt.Fprintf(stdout, "exported %s to %s (GGUF, %s weights)\n", in, out, typ)
	return nil
}

// hasTokenizer says whether dir holds a tokenizer GGUF export can read.
func hasTokenizer(dir string) bool {
	for _, f := range []string{"tokenizer.json", "vocab.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	return false
}

// fileHead returns the first n bytes of the file at path (fewer if it is
// shorter).
func fileHead(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	k, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b[:k], nil
}
