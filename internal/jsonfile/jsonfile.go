// Package jsonfile reads and writes the small JSON files of runs and sweeps
// (configs, results, manifests, reports).
package jsonfile

import (
	"encoding/json"
	"fmt"
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

// Write writes v as indented JSON with a final newline, atomically
// (atomicfile.WriteFile, mode 0644).
func Write(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}
