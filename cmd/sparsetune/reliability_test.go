package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/internal/safetensors"
	"github.com/sparsetune/sparsetune/internal/testmodel"
)

// reliabilityFixtures writes what the cases below need: a byte-level model
// (ok), copies of it with a NaN weight, an absurd n_positions, a
// sparse.json and a router.safetensors, and small data files.
type reliabilityFixtures struct {
	ok, nan, huge, sparse, routed string
	text, csv, conf               string
}

func newReliabilityFixtures(t *testing.T) reliabilityFixtures {
	t.Helper()
	dir := t.TempDir()
	var f reliabilityFixtures
	mk := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := testmodel.ByteLevelGPT2(p, true); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f.ok, f.nan, f.huge, f.sparse, f.routed = mk("ok"), mk("nan"), mk("huge"), mk("sparse"), mk("routed")

	w := filepath.Join(f.nan, "model.safetensors")
	st, err := safetensors.Read(w)
	if err != nil {
		t.Fatal(err)
	}
	var ts []*safetensors.Tensor
	for _, n := range st.Names {
		ts = append(ts, st.Tensors[n])
	}
	st.Tensors["transformer.h.0.attn.c_attn.weight"].Data[17] = float32(math.NaN())
	if err := safetensors.Write(w, ts, safetensors.WriteOptions{}); err != nil {
		t.Fatal(err)
	}

	cfgPath := filepath.Join(f.huge, "config.json")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	raw := map[string]any{}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	raw["n_positions"] = 1099511627776
	b, _ = json.Marshal(raw)
	write(t, cfgPath, string(b))
	write(t, filepath.Join(f.sparse, "sparse.json"), "{}")
	write(t, filepath.Join(f.routed, "router.safetensors"), "")

	f.text = filepath.Join(dir, "in.jsonl")
	write(t, f.text, strings.Repeat("{\"text\": \"the cat sat on the mat\"}\n{\"text\": \"a dog ran in the park\"}\n", 10))
	f.csv = filepath.Join(dir, "in.csv")
	write(t, f.csv, "text\nthe cat sat on the mat\n\"a dog, running\"\n")
	f.conf = filepath.Join(dir, "conf")
	return f
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReliability runs the fast cases of scripts/probe.sh in-process: the
// exit code, one stderr line naming the problem for every error, and never
// a stack trace.
func TestReliability(t *testing.T) {
	f := newReliabilityFixtures(t)
	conf := func(name, body string) string {
		p := f.conf + "-" + name + ".json"
		write(t, p, body)
		return p
	}
	trainArgs := func(extra ...string) []string {
		return append([]string{"train", "--model", f.ok, "--train", f.text, "--out-dir", filepath.Join(t.TempDir(), "run")}, extra...)
	}
	cases := []struct {
		name string
		args []string
		code int
		want string // in stderr for errors, stdout for success
	}{
		// Class 5: checkpoints of sparse runs where a plain model is expected.
		{"eval sparse checkpoint as model", []string{"eval", "--model", f.sparse, "--data", f.text}, 1, "--checkpoint " + f.sparse},
		{"train from a sparse checkpoint", trainArgs("--model", f.sparse), 1, "--model " + f.sparse + " is a sparse checkpoint"},
		{"score a sparse checkpoint as model", []string{"score", "--model", f.sparse, "--data", f.text}, 1, "--checkpoint " + f.sparse},
		{"score a sparse run's checkpoint", []string{"score", "--model", f.routed, "--data", f.text}, 1, "checkpoint of a sparse run"},
		{"train from a sparse run's checkpoint", trainArgs("--model", f.routed), 1, "--model " + f.routed + " is a checkpoint of a sparse run"},
		// Class 6: non-finite weights.
		{"eval NaN weights", []string{"eval", "--model", f.nan, "--data", f.text}, 1, "tensor transformer.h.0.attn.c_attn.weight has NaN at element 17"},
		{"score NaN weights", []string{"score", "--model", f.nan, "--data", f.text}, 1, "has NaN at element 17"},
		{"train NaN weights", trainArgs("--model", f.nan), 1, "has NaN at element 17"},
		// Class 7: settings a run would ignore; config trailing content; bench sizes.
		{"distill in a dense run", trainArgs("--distill", "0.5"), 2, "--distill applies only to sparse runs"},
		{"penalty-weight in a dense run", trainArgs("--penalty-weight", "1"), 2, "--penalty-weight applies only to sparse runs"},
		{"router in a dense run", trainArgs("--router", "static"), 2, "--router applies only to sparse runs"},
		{"coreset-ratio without coreset", trainArgs("--coreset-ratio", "0.5"), 2, "--coreset-ratio applies only with a coreset"},
		{"valid-ratio with valid", trainArgs("--valid", f.text, "--valid-ratio", "0.2"), 2, "--valid-ratio applies only without a valid file"},
		{"distill from config", trainArgs("--config", conf("distill", `{"distill": 0.5}`)), 2, "distill applies only to sparse runs"},
		{"config trailing content", trainArgs("--config", conf("trailing", `{"steps": 2} {"lr": 5}`)), 2, "after the JSON object"},
		{"bench infer no layers", []string{"bench", "infer", "--synthetic", "--layers", "0"}, 2, "--layers must be positive"},
		{"bench infer bad family", []string{"bench", "infer", "--synthetic", "--family", "t5"}, 2, "--family"},
		{"bench train bad family", []string{"bench", "train", "--family", "t5"}, 2, "--family"},
		{"bench train no heads", []string{"bench", "train", "--heads", "0"}, 2, "--heads must be positive"},
		// Class 8: malformed config.json.
		{"eval huge n_positions", []string{"eval", "--model", f.huge, "--data", f.text}, 1, "n_positions is 1099511627776"},
		{"train huge n_positions", trainArgs("--model", f.huge), 1, "n_positions is 1099511627776"},
		{"inspect huge n_positions", []string{"inspect", f.huge}, 1, "n_positions"},
		// Class 9: non-finite float flags.
		{"train lr NaN", trainArgs("--lr", "NaN"), 2, "--lr must be a finite number"},
		{"train target NaN", trainArgs("--target", "NaN"), 2, "--target must be a finite number"},
		{"train dropout Inf", trainArgs("--dropout", "Inf"), 2, "--dropout must be a finite number"},
		{"harden target NaN", []string{"harden", "--checkpoint", f.ok, "--out", filepath.Join(t.TempDir(), "h"), "--target", "NaN"}, 2, "--target must be a finite number"},
		{"bench infer target NaN", []string{"bench", "infer", "--synthetic", "--target", "NaN"}, 2, "--target must be a finite number"},
		// Class 10: usage errors exit 2 and name flags; --no-cache; score CSV.
		{"train negative seq-len", trainArgs("--seq-len", "-3"), 2, "--seq-len must be"},
		{"train empty out-dir", append(trainArgs(), "--out-dir", ""), 2, "--out-dir is required"},
		{"eval negative seq-len", []string{"eval", "--model", f.ok, "--data", f.text, "--seq-len", "-3"}, 2, "--seq-len must be"},
		{"eval no-cache with cache-dir", []string{"eval", "--model", f.ok, "--data", f.text, "--no-cache", "--cache-dir", t.TempDir()}, 2, "--no-cache"},
		{"eval no-cache", []string{"eval", "--model", f.ok, "--data", f.text, "--no-cache"}, 0, `"metric_name":"perplexity"`},
		{"score csv", []string{"score", "--model", f.ok, "--data", f.csv}, 0, `"logprob"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(c.args, &out, &errb)
			all := out.String() + errb.String()
			if strings.Contains(all, "goroutine ") || strings.Contains(all, "panic") {
				t.Fatalf("stack trace: %q", all)
			}
			if code != c.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, c.code, errb.String())
			}
			where := out.String()
			if code != 0 {
				where = errb.String()
				if n := strings.Count(strings.TrimRight(where, "\n"), "\n"); n != 0 {
					t.Errorf("error spans %d lines: %q", n+1, where)
				}
			}
			if !strings.Contains(where, c.want) {
				t.Errorf("output %q does not say %q", where, c.want)
			}
		})
	}
}

// TestPrintJSONRefusesNaN: a result JSON cannot hold is an error, not an
// empty line with exit code 0.
func TestPrintJSONRefusesNaN(t *testing.T) {
	var b bytes.Buffer
	if err := printJSON(&b, map[string]float64{"metric": math.NaN()}); err == nil || b.Len() != 0 {
		t.Fatalf("got %v and %q", err, b.String())
	}
}

// TestSavedConfigIsNotFlagged: a dense run's saved train_config.json
// lists every key, sparse ones at their defaults; given back as --config
// (as a resume may) it flags nothing, while a non-default sparse key and a
// flag given do.
func TestSavedConfigIsNotFlagged(t *testing.T) {
	saved := defaultForTest()
	saved.Model, saved.Train = "m", "t"
	b, err := json.Marshal(saved)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "train_config.json")
	write(t, p, string(b))
	for _, tc := range []struct {
		args []string
		want bool // distill counted as given
	}{{nil, false}, {[]string{"--distill", "0.5"}, true}} {
		fs := newFlags("train", "", &bytes.Buffer{})
		fc := defaultForTest()
		trainFlags(fs, &fc)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		given, err := givenKeys(fs, &fc, p)
		if err != nil {
			t.Fatal(err)
		}
		if given["router"] || given["tau"] || given["valid_ratio"] || given["distill"] != tc.want || !given["model"] {
			t.Errorf("%v: given %v", tc.args, given)
		}
	}
	saved.Distill = 0.3
	b, _ = json.Marshal(saved)
	write(t, p, string(b))
	fs := newFlags("train", "", &bytes.Buffer{})
	fc := defaultForTest()
	trainFlags(fs, &fc)
	if given, err := givenKeys(fs, &fc, p); err != nil || !given["distill"] {
		t.Errorf("distill 0.3 in the file: given %v, %v", given, err)
	}
}
