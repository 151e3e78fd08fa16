// Package builtin carries sparsetune's embedded default: a small GPT-2
// family base model pretrained on text from internal/corpus (weights in
// base/, made by scripts/make_base.sh), and the built-in fine-tuning task,
// topic classification of generated paragraphs.
package builtin

import (
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sparsetune/sparsetune/internal/atomicfile"
	"github.com/sparsetune/sparsetune/internal/corpus"
)

//go:embed base
var base embed.FS

// Task sizes and seeds. The seeds differ from the pretraining corpus's
// stream (see corpus.Generate), so no evaluation document was seen in
// pretraining.
const (
	taskSeed   = 2024
	trainDocs  = 2000
	validDocs  = 400
	testDocs   = 400
	baseFolder = "base"
)

// Available reports whether this build carries the base model.
func Available() bool {
	_, err := base.ReadFile(baseFolder + "/model.safetensors")
	return err == nil
}

// ExtractBase writes the embedded base model directory into dir.
func ExtractBase(dir string) error {
	entries, err := base.ReadDir(baseFolder)
	if err != nil {
		return fmt.Errorf("embedded base model: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || e.Name() == "README.md" {
			continue
		}
		b, err := base.ReadFile(baseFolder + "/" + e.Name())
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// WriteTask writes the built-in task's train, valid and test JSONL files
// into dir and returns their paths: paragraphs labelled with their topic.
func WriteTask(dir string) (train, valid, test string, err error) {
	docs := corpus.Generate(taskSeed, trainDocs+validDocs+testDocs)
	paths := make([]string, 3)
	bounds := []int{0, trainDocs, trainDocs + validDocs, len(docs)}
	for i, name := range []string{"train.jsonl", "valid.jsonl", "test.jsonl"} {
		var b strings.Builder
		for j := bounds[i]; j < bounds[i+1]; j++ {
			line, _ := json.Marshal(map[string]string{"id": fmt.Sprint(j), "text": docs[j].Text, "label": docs[j].Topic})
			b.Write(line)
			b.WriteByte('\n')
		}
		paths[i] = filepath.Join(dir, name)
		if err := atomicfile.WriteFile(paths[i], []byte(b.String()), 0o644); err != nil {
			return "", "", "", err
		}
	}
	return paths[0], paths[1], paths[2], nil
}
