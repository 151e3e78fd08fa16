package sweep

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// history is a run's metrics.jsonl: one record per step and per evaluation.
type history struct {
	steps []stepRecord
	valid []evalRecord
	test  *evalRecord // the best checkpoint's test evaluation, the last one written
}

type stepRecord struct {
	Step            int      `json:"step"`
	Loss            *float64 `json:"loss"`
	Stage           int      `json:"stage"`
	ExpectedCompute *float64 `json:"expected_compute"`
	Target          *float64 `json:"target"`
}

type evalRecord struct {
	Step         int       `json:"step"`
	Split        string    `json:"split"`
	Loss         float64   `json:"loss"`
	Accuracy     *float64  `json:"accuracy"`
	F1           *float64  `json:"f1"`
	Perplexity   *float64  `json:"perplexity"`
	Compute      *float64  `json:"compute"`
	LayerCompute []float64 `json:"layer_compute"`
	Dead         *int      `json:"dead_units"`
	AlwaysOn     *int      `json:"always_on_units"`
}

// main is the record's task metric: accuracy, else perplexity.
func (e evalRecord) main() float64 {
	if e.Accuracy != nil {
		return *e.Accuracy
	}
	if e.Perplexity != nil {
		return *e.Perplexity
	}
	return 0
}

// readHistory reads <run>/metrics.jsonl.
func readHistory(run string) (*history, error) {
	path := filepath.Join(run, "metrics.jsonl")
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := &history{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var probe struct {
			Split string `json:"split"`
		}
		if err := json.Unmarshal(line, &probe); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		switch probe.Split {
		case "":
			var s stepRecord
			json.Unmarshal(line, &s)
			h.steps = append(h.steps, s)
		case "valid":
			var e evalRecord
			json.Unmarshal(line, &e)
			h.valid = append(h.valid, e)
		case "test":
			var e evalRecord
			json.Unmarshal(line, &e)
			h.test = &e
		}
	}
	return h, sc.Err()
}
