// Package jsonfile reads and writes the small JSON files of runs and sweeps
// (configs, results, manifests, reports).
package jsonfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/sparsetune/sparsetune/internal/atomicfile"
)

// Read decodes the JSON file at path into v. A file that cannot be read
// returns the os error (so errors.Is(err, fs.ErrNotExist) works); one that
// does not decode returns an error naming the path.
func Read(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return nil
}

// ReadStrict is Read for files a user writes (configs): unknown keys are
// errors, so a typo never silently falls back to a default, and so is
// anything after the one JSON object.
func ReadStrict(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%s: unexpected content after the JSON object at byte %d", path, dec.InputOffset())
	}
	return nil
}

// Write writes v as indented JSON with a final newline, atomically
// (atomicfile.WriteFile, mode 0644).
func Write(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}
