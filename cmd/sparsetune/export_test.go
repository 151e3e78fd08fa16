package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/internal/gguf"
	"github.com/sparsetune/sparsetune/nn"
)

// sparseFixture writes the gpt2 fixture as a sparse checkpoint that keeps
// every unit: with routed set, layer 0's heads are routed by a sigmoid
// router (whose tensors are zero), otherwise the router is static.
func sparseFixture(t *testing.T, routed bool) string {
	t.Helper()
	fixture := filepath.Join("..", "..", "testdata", "fixtures", "gpt2")
	m, err := nn.Load(fixture, nn.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config
	s := &checkpoints.Sparse{Config: c, Tensors: map[string]*checkpoints.SparseTensor{}}
	for _, p := range m.Params.List {
		s.Tensors[p.Name] = &checkpoints.SparseTensor{Shape: p.Shape, Data: p.Value.Data().([]float32)}
	}
	all := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	s.Manifest = checkpoints.SparseManifest{Family: "gpt2", Router: "static", GroupSize: 16}
	for l := 0; l < c.L; l++ {
		s.Manifest.Layers = append(s.Manifest.Layers, checkpoints.SparseLayer{Tau: 0.5,
			Heads: all(c.H), HeadsDense: all(c.H), Groups: all(c.F / 16), GroupsDense: all(c.F / 16)})
	}
	if routed {
		s.Manifest.Router = "sigmoid"
		s.Manifest.Layers[0].HeadsDense = []int{}
		s.Tensors["router.layers.0.head.weight"] = &checkpoints.SparseTensor{Shape: []int{c.D, c.H}, Data: make([]float32, c.D*c.H)}
		s.Tensors["router.layers.0.head.bias"] = &checkpoints.SparseTensor{Shape: []int{c.H}, Data: make([]float32, c.H)}
	}
	dir := filepath.Join(t.TempDir(), "sparse")
	if err := checkpoints.WriteSparse(dir, s, fixture, nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "vocab.json"), []byte(`{}`), 0o644)
	return dir
}

func TestExportCommand(t *testing.T) {
	for _, routed := range []bool{false, true} {
		in := sparseFixture(t, routed)
		out := filepath.Join(t.TempDir(), "hf")
		var stdout, stderr bytes.Buffer
		if code := run([]string{"export", "--checkpoint", in, "--format", "hf", "--out", out}, &stdout, &stderr); code != 0 {
			t.Fatalf("routed=%v: exit %d: %s", routed, code, stderr.String())
		}
		if warned := strings.Contains(stderr.String(), "warning: sigmoid router switches 4 kept units"); warned != routed {
			t.Errorf("routed=%v: warning %v: %q", routed, warned, stderr.String())
		}
		if _, err := nn.Load(out, nn.LoadOptions{}); err != nil {
			t.Errorf("routed=%v: export does not load: %v", routed, err)
		}
		if _, err := os.Stat(filepath.Join(out, "vocab.json")); err != nil {
			t.Errorf("routed=%v: tokenizer file not carried over: %v", routed, err)
		}
	}
	in := sparseFixture(t, false)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"export", "--checkpoint", in}, 2, "--checkpoint and --out are required"},
		{[]string{"export", "--checkpoint", in, "--out", t.TempDir(), "--format", "onnx"}, 2, `--format "onnx" is not supported (want hf or gguf)`},
		{[]string{"export", "--checkpoint", filepath.Join("..", "..", "testdata", "fixtures", "gpt2"), "--out", t.TempDir()}, 1, "missing sparse.json"},
		{[]string{"export", "--help"}, 0, "--format"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(c.args, &stdout, &stderr); code != c.code || !strings.Contains(stdout.String()+stderr.String(), c.want) {
			t.Errorf("%v: exit %d, output %q; want exit %d mentioning %q", c.args, code, stdout.String()+stderr.String(), c.code, c.want)
		}
	}
}

// TestScoreWithSparseCheckpoint: the engine scores a sparse checkpoint that
// keeps every unit dense exactly as the graph scores the model itself.
func TestScoreWithSparseCheckpoint(t *testing.T) {
	fixture := filepath.Join("..", "..", "testdata", "fixtures", "gpt2")
	in := filepath.Join(t.TempDir(), "in.jsonl")
	os.WriteFile(in, []byte("{\"ids\": [1, 2, 3, 4, 5]}\n{\"ids\": [7, 3]}\n"), 0o644)
	var a, b, errb bytes.Buffer
	if code := run([]string{"score", "--model", fixture, "--data", in}, &a, &errb); code != 0 {
		t.Fatalf("score --model: %s", errb.String())
	}
	if code := run([]string{"score", "--checkpoint", sparseFixture(t, false), "--data", in}, &b, &errb); code != 0 {
		t.Fatalf("score --checkpoint: %s", errb.String())
	}
	var x, y []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(a.String()), "\n") {
		var m map[string]any
		json.Unmarshal([]byte(l), &m)
		x = append(x, m)
	}
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var m map[string]any
		json.Unmarshal([]byte(l), &m)
		y = append(y, m)
	}
	if len(x) != 2 || len(y) != 2 {
		t.Fatalf("results: %q and %q", a.String(), b.String())
	}
	for i := range x {
		if d := math.Abs(x[i]["logprob"].(float64) - y[i]["logprob"].(float64)); d > 1e-4 {
			t.Errorf("input %d: logprob %v (graph) vs %v (engine)", i, x[i]["logprob"], y[i]["logprob"])
		}
	}
}

// TestInspectSparse: inspect recognises a sparse checkpoint and prints its
// layers.
func TestInspectSparse(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"inspect", sparseFixture(t, true)}, &out, &errb); code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"sparse checkpoint", "router:            sigmoid", "layer  0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out.String())
		}
	}
}

// llamaSparse writes a random tiny llama (vocabulary 300, every unit kept,
// static router) as a sparse checkpoint without tokenizer files.
func llamaSparse(t *testing.T) string {
	t.Helper()
	c, err := nn.ParseConfig([]byte(`{"model_type":"llama","vocab_size":300,"hidden_size":32,"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":64,"max_position_embeddings":16}`))
	if err != nil {
		t.Fatal(err)
	}
	s := &checkpoints.Sparse{Config: c, Tensors: map[string]*checkpoints.SparseTensor{}}
	for _, p := range nn.InitParams(c, 1, tensor.Float32).List {
		s.Tensors[p.Name] = &checkpoints.SparseTensor{Shape: p.Shape, Data: p.Value.Data().([]float32)}
	}
	s.Manifest = checkpoints.SparseManifest{Family: "llama", Router: "static", GroupSize: 16}
	for l := 0; l < c.L; l++ {
		s.Manifest.Layers = append(s.Manifest.Layers, checkpoints.SparseLayer{Tau: 0.5,
			Heads: []int{0, 1, 2, 3}, HeadsDense: []int{0, 1, 2, 3}, Groups: []int{0, 1, 2, 3}, GroupsDense: []int{0, 1, 2, 3}})
	}
	dir := filepath.Join(t.TempDir(), "sparse")
	if err := checkpoints.WriteSparse(dir, s, "", nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExportGGUF(t *testing.T) {
	in := llamaSparse(t)
	out := filepath.Join(t.TempDir(), "m.gguf")
	for _, typ := range []string{"f32", "f16", "q8_0"} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"export", "--checkpoint", in, "--format", "gguf", "--type", typ, "--out", out}, &stdout, &stderr); code != 0 {
			t.Fatalf("%s: exit %d: %s", typ, code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "placeholder byte vocabulary of 300 tokens") {
			t.Errorf("%s: no placeholder warning: %q", typ, stderr.String())
		}
		f, err := gguf.ReadFile(out)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if a, _ := f.Get("general.architecture"); a != "llama" || f.Tensors[0].Name != "token_embd.weight" {
			t.Errorf("%s: architecture %v, first tensor %s", typ, a, f.Tensors[0].Name)
		}
	}
	notGGUF := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notGGUF, []byte("keep me"), 0o644)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--type", "q4_0", "--out", out}, 2, `tensor type "q4_0" is not supported`},
		{[]string{"--out", notGGUF}, 2, "is not a GGUF file; pass --force"},
		{[]string{"--out", filepath.Join(in, "m.gguf")}, 2, "--out"},
		{[]string{"--out", out, "--tokenizer", filepath.Join(t.TempDir(), "none")}, 1, "tokenizer"},
		{[]string{"--out", out, "--tokenizer", filepath.Join("..", "..", "data", "testdata", "tokenizer", "qwen3")}, 1, "outside the model's vocab_size 300"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"export", "--checkpoint", in, "--format", "gguf"}, c.args...), &stdout, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.want) || strings.Count(strings.TrimSpace(stderr.String()), "\n") > 1 {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and one line mentioning %q", c.args, code, stderr.String(), c.code, c.want)
		}
	}
	if b, _ := os.ReadFile(notGGUF); string(b) != "keep me" {
		t.Error("a file that is not GGUF was replaced without --force")
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"export", "--checkpoint", in, "--format", "gguf", "--out", notGGUF, "--force"}, &stdout, &stderr); code != 0 {
		t.Errorf("--force: exit %d: %s", code, stderr.String())
	}
	// A gpt2 fixture of 96 tokens has no tokenizer to carry and is too small
	// for the placeholder: a run error in one line.
	gpt2 := sparseFixture(t, false)
	os.Remove(filepath.Join(gpt2, "vocab.json"))
	stderr.Reset()
	if code := run([]string{"export", "--checkpoint", gpt2, "--format", "gguf", "--out", out}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "below 257") {
		t.Errorf("gpt2 without a tokenizer: exit %d: %q", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"export", "--checkpoint", in, "--format", "hf", "--type", "f16", "--out", t.TempDir()}, &stdout, &stderr); code != 2 {
		t.Errorf("--type with hf: exit %d: %q", code, stderr.String())
	}
}

// TestScoreDenseIsTheExport: score --checkpoint --dense runs the model an
// export holds (every kept unit for every token): on a checkpoint whose
// router switches layer 0's heads off, it scores as the Hugging Face export
// does, and differs from the routed score.
func TestScoreDenseIsTheExport(t *testing.T) {
	in := sparseFixture(t, true)
	hf := filepath.Join(t.TempDir(), "hf")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"export", "--checkpoint", in, "--format", "hf", "--out", hf}, &stdout, &stderr); code != 0 {
		t.Fatalf("export: %s", stderr.String())
	}
	data := filepath.Join(t.TempDir(), "in.jsonl")
	os.WriteFile(data, []byte("{\"ids\": [1, 2, 3, 4, 5, 6, 7]}\n"), 0o644)
	logprob := func(args ...string) float64 {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(append([]string{"score", "--data", data}, args...), &out, &errb); code != 0 {
			t.Fatalf("score %v: exit %d: %s", args, code, errb.String())
		}
		var r map[string]any
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("score %v: %v: %q", args, err, out.String())
		}
		return r["logprob"].(float64)
	}
	dense, export, routed := logprob("--checkpoint", in, "--dense"), logprob("--model", hf), logprob("--checkpoint", in)
	if math.Abs(dense-export) > 1e-4 {
		t.Errorf("--dense logprob %v, the export's %v", dense, export)
	}
	if math.Abs(dense-routed) < 1e-3 {
		t.Errorf("--dense logprob %v equals the routed one %v: the router switched nothing off", dense, routed)
	}
	stderr.Reset()
	if code := run([]string{"score", "--model", hf, "--data", data, "--dense"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "--dense applies to --checkpoint only") {
		t.Errorf("--dense with --model: exit %d: %q", code, stderr.String())
	}
}
