package data

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// carveStream is the PCG stream that chooses carved validation records:
// uint64(-1), which Shuffle never uses (it refuses negative epochs), so the
// carve is independent of every epoch's order for the same seed.
const carveStream = math.MaxUint64

// build reads the records of files and tokenizes them into ds's splits.
func build(ds *Dataset, enc *encoder, files []specFile) error {
	spec := ds.Spec
	recs := map[string][]Record{}
	for _, f := range files {
		r, rep, err := parseRecords(f.path, f.data, spec.readOptions())
		if err != nil {
			return err
		}
		ds.Report.DerivedIDs += rep.DerivedIDs
		recs[f.role] = r
	}
	train, valid, validPath := recs["train"], recs["valid"], spec.Valid
	if spec.Task == Classification {
		var err error
		if ds.Labels, err = trainingLabels(spec, train); err != nil {
			return err
		}
		enc.setLabels(ds.Labels, spec.Labels != nil)
	}
	if spec.Valid == "" {
		var err error
		if train, valid, err = carve(train, spec.ValidRatio, spec.Seed, spec.Train); err != nil {
			return err
		}
		validPath = spec.Train
		ds.Report.ValidCarved = true
	}
	var err error
	if ds.Train, ds.Report.Train, err = enc.split("train", spec.Train, train); err != nil {
		return err
	}
	if ds.Valid, ds.Report.Valid, err = enc.split("valid", validPath, valid); err != nil {
		return err
	}
	if test, ok := recs["test"]; ok {
		if ds.Test, ds.Report.Test, err = enc.split("test", spec.Test, test); err != nil {
			return err
		}
	}
	return nil
}

// trainingLabels is the label map: Spec.Labels when given, else the distinct
// labels of the training records, sorted numerically when all are integers
// (Hugging Face ClassLabel ids, so that label "3" gets id 3) and as strings
// otherwise.
func trainingLabels(spec Spec, train []Record) ([]string, error) {
	if spec.Labels != nil {
		return slices.Clone(spec.Labels), nil
	}
	seen := map[string]bool{}
	var labels []string
	for _, r := range train {
		if !seen[r.Label] {
			seen[r.Label] = true
			labels = append(labels, r.Label)
		}
	}
	if len(labels) < 2 {
		return nil, fmt.Errorf("%s: every record has the label %q: classification needs at least 2 labels", spec.Train, labels[0])
	}
	slices.SortFunc(labels, compareLabels(labels))
	return labels, nil
}

// compareLabels orders labels numerically when all of them are integers and
// as strings otherwise; ties between equal numbers ("1", "01") go by string.
func compareLabels(labels []string) func(a, b string) int {
	for _, l := range labels {
		if _, err := strconv.ParseInt(l, 10, 64); err != nil {
			return strings.Compare
		}
	}
	return func(a, b string) int {
		x, _ := strconv.ParseInt(a, 10, 64)
		y, _ := strconv.ParseInt(b, 10, 64)
		return cmp.Or(cmp.Compare(x, y), strings.Compare(a, b))
	}
}

// carve moves round(ratio·n) of the records, at least one and never all,
// into a validation split, chosen by seed. Both parts keep file order.
// Carving whole records before packing keeps a document's text out of both.
func carve(recs []Record, ratio float64, seed uint64, path string) (train, valid []Record, err error) {
	n := len(recs)
	if n < 2 {
		return nil, nil, fmt.Errorf("%s: %d record, too few to carve a validation split from: give a valid file", path, n)
	}
	nv := min(max(int(math.Round(ratio*float64(n))), 1), n-1)
	inValid := make([]bool, n)
	for _, i := range permutation(n, rand.NewPCG(seed, carveStream))[:nv] {
		inValid[i] = true
	}
	train = make([]Record, 0, n-nv)
	valid = make([]Record, 0, nv)
	for i, r := range recs {
		if inValid[i] {
			valid = append(valid, r)
		} else {
			train = append(train, r)
		}
	}
	return train, valid, nil
}
