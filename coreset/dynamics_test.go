package coreset

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func mustRecord(t *testing.T, d *Dynamics, epoch int, id string, logits []float32, label int) {
	t.Helper()
	if err := d.Record(epoch, id, logits, label); err != nil {
		t.Fatal(err)
	}
}

func TestRecordErrors(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	for _, tc := range []struct {
		name   string
		epoch  int
		id     string
		logits []float32
		label  int
		want   string
	}{
		{"label high", 0, "a", []float32{1, 2, 3}, 3, "label 3 outside [0, 3)"},
		{"label negative", 0, "a", []float32{1, 2, 3}, -1, "label -1 outside"},
		{"short logits", 0, "a", []float32{1, 2}, 0, "2 logits, the table has 3 classes"},
		{"long logits", 0, "a", []float32{1, 2, 3, 4}, 0, "4 logits"},
		{"NaN", 0, "a", []float32{1, nan, 3}, 0, "logit 1 is NaN"},
		{"Inf", 0, "a", []float32{inf, 2, 3}, 0, "logit 0 is +Inf"},
		{"negative epoch", -1, "a", []float32{1, 2, 3}, 0, "negative epoch"},
		{"empty id", 0, "", []float32{1, 2, 3}, 0, "empty example id"},
		{"label changes", 1, "seen", []float32{1, 2, 3}, 2, "earlier epochs recorded label 1"},
		{"epoch twice", 0, "seen", []float32{1, 2, 3}, 1, "epoch 0 recorded twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDynamics(3)
			mustRecord(t, d, 0, "seen", []float32{0, 1, 0}, 1)
			err := d.Record(tc.epoch, tc.id, tc.logits, tc.label)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if d.Len() != 1 {
				t.Errorf("a rejected record changed the table: %d examples", d.Len())
			}
		})
	}
}

func TestNewDynamicsPanicsOnOneClass(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewDynamics(1) did not panic")
		}
	}()
	NewDynamics(1)
}

func TestRecordCopiesAndSortsEpochs(t *testing.T) {
	d := NewDynamics(2)
	z := []float32{1, 2}
	mustRecord(t, d, 2, "a", z, 0)
	mustRecord(t, d, 0, "a", []float32{3, 4}, 0)
	z[0] = 99
	s := d.ex["a"]
	if !slices.Equal(s.epochs, []int{0, 2}) || s.logits[0][0] != 3 || s.logits[1][0] != 1 {
		t.Errorf("epochs %v logits %v: want epochs sorted and logits copied", s.epochs, s.logits)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	d := NewDynamics(3)
	// Values chosen to need all of float32's digits.
	mustRecord(t, d, 1, "b,\"quoted\"", []float32{0.1, -1e-30, 3.4028235e38}, 2)
	mustRecord(t, d, 0, "b,\"quoted\"", []float32{1.0 / 3, 0, -0.7}, 2)
	mustRecord(t, d, 0, "a", []float32{1, 2, 3}, 0)
	path := filepath.Join(t.TempDir(), "dynamics.jsonl")
	if err := d.Save(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || lines[0] != `{"format":"sparsetune.coreset.dynamics","version":1,"num_classes":3}` ||
		!strings.HasPrefix(lines[1], `{"id":"a","label":0,"records":[{"epoch":0,"logits":[1,2,3]}]}`) {
		t.Fatalf("saved table:\n%s", b)
	}
	got, err := LoadDynamics(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.NumClasses() != 3 || !slices.Equal(got.IDs(), d.IDs()) {
		t.Fatalf("loaded %d classes, ids %q", got.NumClasses(), got.IDs())
	}
	for id, s := range d.ex {
		g := got.ex[id]
		if g.label != s.label || !slices.Equal(g.epochs, s.epochs) {
			t.Errorf("%q: label %d epochs %v, want %d %v", id, g.label, g.epochs, s.label, s.epochs)
		}
		for i := range s.logits {
			if !slices.Equal(g.logits[i], s.logits[i]) { // exact: float32 round-trips through JSON
				t.Errorf("%q epoch %d: logits %v, want %v", id, s.epochs[i], g.logits[i], s.logits[i])
			}
		}
	}
}

func TestLoadDynamicsErrors(t *testing.T) {
	header := `{"format":"sparsetune.coreset.dynamics","version":1,"num_classes":2}` + "\n"
	for _, tc := range []struct{ name, text, want string }{
		{"empty", "", "empty file"},
		{"other format", `{"format":"x","version":1,"num_classes":2}`, "want \"sparsetune.coreset.dynamics\""},
		{"one class", `{"format":"sparsetune.coreset.dynamics","version":1,"num_classes":1}`, "1 classes"},
		{"unknown key", header + `{"id":"a","label":0,"records":[],"extra":1}`, `:2: bad row`},
		{"duplicate id", header + `{"id":"a","label":0,"records":[{"epoch":0,"logits":[1,2]}]}` + "\n" +
			`{"id":"a","label":0,"records":[{"epoch":1,"logits":[1,2]}]}`, `:3: duplicate id "a"`},
		{"no records", header + `{"id":"a","label":0,"records":[]}`, "no records"},
		{"bad label", header + `{"id":"a","label":5,"records":[{"epoch":0,"logits":[1,2]}]}`, "label 5 outside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "d.jsonl")
			if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadDynamics(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestDropFrom(t *testing.T) {
	d := NewDynamics(2)
	mustRecord(t, d, 0, "a", []float32{1, 0}, 0)
	mustRecord(t, d, 1, "a", []float32{2, 0}, 0)
	mustRecord(t, d, 3, "a", []float32{3, 0}, 0)
	mustRecord(t, d, 2, "late", []float32{0, 1}, 1)
	d.DropFrom(2)
	if !slices.Equal(d.IDs(), []string{"a"}) || !slices.Equal(d.ex["a"].epochs, []int{0, 1}) {
		t.Fatalf("after DropFrom(2): ids %q, epochs of a %v; want [a] and [0 1]", d.IDs(), d.ex["a"].epochs)
	}
	mustRecord(t, d, 2, "a", []float32{5, 0}, 0) // epoch 2 may be recorded again
}
