package coreset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"github.com/sparsetune/sparsetune/internal/atomicfile"
)

// dynamicsFormat and dynamicsVersion head every saved table so that a file of
// another kind, or a later layout, is rejected rather than misread.
const (
	dynamicsFormat  = "sparsetune.coreset.dynamics"
	dynamicsVersion = 1
)

// Dynamics holds the training dynamics of a run: for each example id and
// each recorded epoch, the logits the model gave that example and its label.
// The zero value is not usable; make one with NewDynamics or LoadDynamics.
// A Dynamics is not safe for concurrent use.
type Dynamics struct {
	numClasses int
	ex         map[string]*series
}

// series is one example's record: epochs ascending, logits[i] for epochs[i].
type series struct {
	label  int
	epochs []int
	logits [][]float32 // (epochs, classes)
}

// NewDynamics returns an empty table for a classifier with numClasses
// classes. It panics if numClasses < 2: a margin (AUM) or a prediction needs
// at least two classes, and the class count comes from the model, not data.
func NewDynamics(numClasses int) *Dynamics {
	if numClasses < 2 {
		panic(fmt.Sprintf("coreset: NewDynamics: %d classes, need at least 2", numClasses))
	}
	return &Dynamics{numClasses: numClasses, ex: map[string]*series{}}
}

// NumClasses is the number of classes each logits vector has.
func (d *Dynamics) NumClasses() int { return d.numClasses }

// Len is the number of examples recorded.
func (d *Dynamics) Len() int { return len(d.ex) }

// IDs lists the recorded example ids in ascending order.
func (d *Dynamics) IDs() []string {
	ids := make([]string, 0, len(d.ex))
	for id := range d.ex {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Labels maps every recorded id to its label (a class index). For a table
// recorded on pseudo-labels these are the pseudo-classes.
func (d *Dynamics) Labels() map[string]int {
	out := make(map[string]int, len(d.ex))
	for id, s := range d.ex {
		out[id] = s.label
	}
	return out
}

// Record stores the logits (class scores before softmax) that the model gave
// example id in epoch, and the example's label. logits is copied.
//
// Errors: an empty id, a negative epoch, len(logits) other than NumClasses,
// a label outside [0, NumClasses), a NaN or infinite logit, a label that
// differs from the one recorded for id before (labels are fixed for a run;
// pseudo-labels too), and a second record of the same (epoch, id), which
// usually means an evaluation pass was counted twice.
func (d *Dynamics) Record(epoch int, id string, logits []float32, label int) error {
	switch {
	case id == "":
		return errors.New("coreset: record: empty example id")
	case epoch < 0:
		return fmt.Errorf("coreset: record %q: negative epoch %d (epochs count from 0)", id, epoch)
	case len(logits) != d.numClasses:
		return fmt.Errorf("coreset: record %q epoch %d: %d logits, the table has %d classes", id, epoch, len(logits), d.numClasses)
	case label < 0 || label >= d.numClasses:
		return fmt.Errorf("coreset: record %q epoch %d: label %d outside [0, %d)", id, epoch, label, d.numClasses)
	}
	for c, v := range logits {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("coreset: record %q epoch %d: logit %d is %v", id, epoch, c, v)
		}
	}
	s, ok := d.ex[id]
	if !ok {
		s = &series{label: label}
		d.ex[id] = s
	}
	if s.label != label {
		return fmt.Errorf("coreset: record %q epoch %d: label %d, but earlier epochs recorded label %d", id, epoch, label, s.label)
	}
	i, found := slices.BinarySearch(s.epochs, epoch)
	if found {
		return fmt.Errorf("coreset: record %q: epoch %d recorded twice", id, epoch)
	}
	s.epochs = slices.Insert(s.epochs, i, epoch)
	s.logits = slices.Insert(s.logits, i, slices.Clone(logits))
	return nil
}

// DropFrom removes every record of epoch ≥ epoch, and the examples left
// with no record: what a run resumed from a checkpoint taken before those
// epochs were recorded does first, so that it can record them again.
func (d *Dynamics) DropFrom(epoch int) {
	for id, s := range d.ex {
		i, _ := slices.BinarySearch(s.epochs, epoch)
		s.epochs, s.logits = s.epochs[:i], s.logits[:i]
		if i == 0 {
			delete(d.ex, id)
		}
	}
}

// dynamicsHeader is the first line of a saved table.
type dynamicsHeader struct {
	Format     string `json:"format"`
	Version    int    `json:"version"`
	NumClasses int    `json:"num_classes"`
}

// dynamicsRow is one example's line in a saved table.
type dynamicsRow struct {
	ID      string        `json:"id"`
	Label   int           `json:"label"`
	Records []epochRecord `json:"records"`
}

// epochRecord is one epoch of a dynamicsRow.
type epochRecord struct {
	Epoch  int       `json:"epoch"`
	Logits []float32 `json:"logits"`
}

// Save writes the table to path atomically (internal/atomicfile) as JSON
// Lines: a header line
//
//	{"format":"sparsetune.coreset.dynamics","version":1,"num_classes":K}
//
// then one line per example, ids ascending, epochs ascending:
//
//	{"id":"train.jsonl:3","label":1,"records":[{"epoch":0,"logits":[0.1,-2]},...]}
//
// JSON Lines rather than CSV because a row holds a variable number of
// epochs of K logits each and ids may hold commas or quotes. encoding/json
// writes a float32 in the shortest form that reads back to the same float32,
// so Save and LoadDynamics round-trip exactly.
func (d *Dynamics) Save(path string) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		if err := enc.Encode(dynamicsHeader{dynamicsFormat, dynamicsVersion, d.numClasses}); err != nil {
			return err
		}
		for _, id := range d.IDs() {
			s := d.ex[id]
			row := dynamicsRow{ID: id, Label: s.label, Records: make([]epochRecord, len(s.epochs))}
			for i, e := range s.epochs {
				row.Records[i] = epochRecord{e, s.logits[i]}
			}
			if err := enc.Encode(row); err != nil {
				return err
			}
		}
		return nil
	})
}

// LoadDynamics reads a table written by Save. Every row is checked as Record
// checks it; unknown keys, a wrong header, a duplicate id or a row without
// records are errors that name the file and line.
func LoadDynamics(path string) (*Dynamics, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("coreset: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var d *Dynamics
	for line := 1; ; line++ {
		raw, err := r.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("coreset: %s: %w", path, err)
		}
		if raw = bytes.TrimSpace(raw); len(raw) > 0 {
			if d == nil {
				if d, err = parseDynamicsHeader(raw); err != nil {
					return nil, fmt.Errorf("coreset: %s:%d: %w", path, line, err)
				}
			} else if err := d.parseRow(raw); err != nil {
				return nil, fmt.Errorf("coreset: %s:%d: %w", path, line, err)
			}
		}
		if err == io.EOF {
			break
		}
	}
	if d == nil {
		return nil, fmt.Errorf("coreset: %s: empty file, want a dynamics table written by Dynamics.Save", path)
	}
	return d, nil
}

// decodeStrict unmarshals one JSON value, rejecting unknown keys.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value on the line")
	}
	return nil
}

func parseDynamicsHeader(raw []byte) (*Dynamics, error) {
	var h dynamicsHeader
	if err := decodeStrict(raw, &h); err != nil {
		return nil, fmt.Errorf("bad header: %v", err)
	}
	if h.Format != dynamicsFormat || h.Version != dynamicsVersion {
		return nil, fmt.Errorf("header has format %q version %d, want %q version %d", h.Format, h.Version, dynamicsFormat, dynamicsVersion)
	}
	if h.NumClasses < 2 {
		return nil, fmt.Errorf("header has %d classes, need at least 2", h.NumClasses)
	}
	return NewDynamics(h.NumClasses), nil
}

func (d *Dynamics) parseRow(raw []byte) error {
	var row dynamicsRow
	if err := decodeStrict(raw, &row); err != nil {
		return fmt.Errorf("bad row: %v", err)
	}
	if _, dup := d.ex[row.ID]; dup {
		return fmt.Errorf("duplicate id %q", row.ID)
	}
	if len(row.Records) == 0 {
		return fmt.Errorf("id %q has no records", row.ID)
	}
	for _, rec := range row.Records {
		if err := d.Record(rec.Epoch, row.ID, rec.Logits, row.Label); err != nil {
			return err
		}
	}
	return nil
}
