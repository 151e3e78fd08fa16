package checkpoints

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// ExportMarkerFile is the small JSON file ExportHF writes into every
// directory it exports, so that a later export can tell its own earlier
// output (which it may replace) from any other directory (which it must
// not). Hugging Face loaders ignore it.
const ExportMarkerFile = "sparsetune_export.json"

// exportFormat identifies ExportMarkerFile's contents.
const exportFormat = "sparsetune-hf-export"

// exportMarker is ExportMarkerFile's contents: what wrote the directory and
// from which sparse checkpoint (its weights' content hash).
type exportMarker struct {
	Format      string `json:"format"`
	Source      string `json:"source_content_hash"`
	RoutedUnits int    `json:"routed_units"` // > 0: the superset model, not the sparse one
}

// IsSparseDir reports whether dir is a sparse checkpoint directory, as
// WriteSparse writes them: its sparse.json names SparseFormat. The rest
// is not checked (ReadSparse does).
func IsSparseDir(dir string) bool {
	return hasFormat(filepath.Join(dir, SparseManifestFile), SparseFormat)
}

// IsExportDir reports whether dir is a model directory ExportHF wrote: it
// holds ExportMarkerFile.
func IsExportDir(dir string) bool {
	return hasFormat(filepath.Join(dir, ExportMarkerFile), exportFormat)
}

// hasFormat reports whether the JSON file at path is an object whose
// "format" is format.
func hasFormat(path, format string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var v struct {
		Format string `json:"format"`
	}
	return json.Unmarshal(b, &v) == nil && v.Format == format
}
