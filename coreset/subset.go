package coreset

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/train"
)

// Coreset methods (Settings.Coreset, SubsetConfig.Method).
const (
	MethodCCS     = "ccs"     // coverage-centric selection on label dynamics (CCS)
	MethodELFS    = "elfs"    // label-free: pseudo-label dynamics, double-end pruning (DoubleEnd)
	MethodRandom  = "random"  // uniform without replacement
	MethodHardest = "hardest" // the highest scores (Hardest)
	MethodEasiest = "easiest" // the lowest scores (Easiest)
)

// Proxy runs (Settings.CoresetProxy, SubsetConfig.Proxy): the run whose
// training dynamics score the examples.
const (
	ProxyBase    = "base"    // fine-tune the model, as the selected subset will be
	ProxyScratch = "scratch" // train the model's architecture from random weights (ELFS's proxy model)
)

// BetaCandidates are the hard-drop fractions a β search tries, the range
// over which CCS (Zheng et al. 2023) tunes its hard cutoff.
var BetaCandidates = []float64{0, 0.1, 0.2, 0.3, 0.4}

// DefaultBeta is the fraction of hardest examples CCS and ELFS drop when
// none is given: 0 when at least half the data is kept, 0.1 down to a
// fifth, 0.3 below. CCS's finding is that the hard end only hurts at high
// pruning rates, and 0.3 at a 10% coreset is the hard cutoff of the CCS
// reference run (CIFAR-10, AUM, 90% pruning).
func DefaultBeta(ratio float64) float64 {
	switch {
	case ratio >= 0.5:
		return 0
	case ratio >= 0.2:
		return 0.1
	default:
		return 0.3
	}
}

// SubsetConfig describes one selection of a subset of a training file.
type SubsetConfig struct {
	// Run configures the runs that record training dynamics, as for
	// train.Run: Model, Train (the file to select from; the subset keeps
	// its format), the field names, SeqLen, Steps, Batch, LR, Seed, and so
	// on. A dynamics run validates on a few batches of Train itself, so
	// that every example is recorded; Valid is used only by a β search.
	// OutDir and Test are ignored.
	Run train.Config
	// DynamicsEvery is the steps between two recordings of a dynamics
	// run's training dynamics; 0: about one epoch (Recorder).
	DynamicsEvery int
	// Method is MethodCCS, MethodELFS, MethodRandom, MethodHardest or
	// MethodEasiest.
	Method string
	Ratio  float64 // fraction of the examples kept, in (0, 1]
	Score  string  // aum (default), forgetting, el2n or entropy
	// Beta is the fraction of hardest examples CCS and ELFS drop first;
	// negative means DefaultBeta(Ratio). BetaSearch instead trains on the
	// subset of each of BetaCandidates and keeps the best on Run.Valid.
	Beta       float64
	BetaSearch bool
	Strata     int // CCS strata; 0: min(50, examples left after the β drop)
	// ByClass selects within each class, the budget split in proportion to
	// the class sizes: CCS within each true class (CCSByClass),
	// ELFS's double-end window within each pseudo-class
	// (DoubleEndByClass; still no label read).
	ByClass bool
	// Proxy is the dynamics run: ProxyBase ("" too) fine-tunes Run.Model,
	// ProxyScratch trains its architecture from random weights (ELFS's
	// proxy model; the tables are kept apart in WorkDir).
	Proxy    string
	Clusters int    // ELFS pseudo-classes; 0: the number of labels in Train
	Seed     uint64 // the selection's random draws (Random, CCS strata, β-search subsets)
	// Dynamics is an existing table (or a run directory holding one) to
	// score with. "" uses WorkDir's table for the method (dynamics.jsonl,
	// or dynamics-pseudo.jsonl for ELFS) and records it first if missing.
	Dynamics string
	// WorkDir holds the dynamics runs, their tables, the ELFS
	// pseudo-labels and the β-search runs. Required. Tables found there are
	// reused, so selections at several ratios and seeds from one WorkDir
	// share one dynamics run.
	WorkDir string
	// Out is the subset file; "" is WorkDir/subset-<method>-<ratio>-seed<seed>
	// with Train's extension.
	Out string
}

// SubsetResult is the selection report.
type SubsetResult struct {
	Out      string  `json:"out"`
	Method   string  `json:"method"`
	Score    string  `json:"score,omitempty"`
	Ratio    float64 `json:"ratio"`
	Examples int     `json:"examples"` // records in Train
	Selected int     `json:"selected"`
	// IDs says where the example ids came from: "file", "derived" (from
	// file and line, for records without one) or "derived: <why>" when the
	// file's ids were not unique.
	IDs        string       `json:"ids"`
	DerivedIDs int          `json:"derived_ids"`
	Dynamics   string       `json:"dynamics,omitempty"` // the table scored
	Beta       *float64     `json:"beta,omitempty"`
	Dropped    int          `json:"dropped,omitempty"` // hardest examples dropped (ccs, elfs)
	Strata     []Stratum    `json:"strata,omitempty"`  // ccs
	Classes    []ClassCount `json:"classes,omitempty"` // per label: examples in Train (available) and selected (taken); when Train has labels
	// ELFS: the size of each pseudo-class, and their purity against the
	// true labels when Train has them (the share of examples whose cluster's
	// majority label is their own; 1/classes is chance for balanced data).
	ClusterSizes []int              `json:"cluster_sizes,omitempty"`
	ClusterTaken []int              `json:"cluster_taken,omitempty"` // by-class ELFS: selected from each pseudo-class
	Proxy        string             `json:"proxy,omitempty"`         // the dynamics run recorded here: base or scratch
	Purity       *float64           `json:"purity,omitempty"`
	BetaSearch   map[string]float64 `json:"beta_search,omitempty"` // β → validation metric
}

// SelectSubset chooses a subset of c.Run.Train by c.Method and writes it in
// the input's own format (WriteSubset). Methods that need scores
// record training dynamics first unless a table is at hand: CCS, hardest
// and easiest from a run on the true labels, ELFS from a run on
// pseudo-labels (k-means clusters of the base model's pooled hidden
// states). Progress goes to log.
func SelectSubset(c SubsetConfig, log io.Writer) (*SubsetResult, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("coreset: work dir: %w", err)
	}
	src, err := readSource(c.Run)
	if err != nil {
		return nil, err
	}
	c.Run.IDField = src.idField
	budget, err := Budget(len(src.ids), c.Ratio)
	if err != nil {
		return nil, err
	}
	res := &SubsetResult{Method: c.Method, Ratio: c.Ratio, Examples: len(src.ids), IDs: src.idNote, DerivedIDs: src.derived}
	if c.Out == "" {
		c.Out = filepath.Join(c.WorkDir, fmt.Sprintf("subset-%s-%s-seed%d%s", c.Method, strconv.FormatFloat(c.Ratio, 'g', -1, 64), c.Seed, filepath.Ext(c.Run.Train)))
	}
	res.Out = c.Out
	var scores map[string]float64
	if c.Method != MethodRandom {
		if scores, err = c.scores(src, res, log); err != nil {
			return nil, err
		}
		res.Score = c.Score
	}
	if (c.Method == MethodCCS || c.Method == MethodELFS) && c.BetaSearch {
		if c.Beta, err = c.searchBeta(src, scores, budget, res, log); err != nil {
			return nil, err
		}
	} else if c.Beta < 0 {
		c.Beta = DefaultBeta(c.Ratio)
	}
	chosen, err := c.choose(src, scores, budget, c.Beta, res)
	if err != nil {
		return nil, err
	}
	res.Selected = len(chosen)
	if src.labels != nil {
		if res.Classes, err = CountClasses(src.labels, src.ids, chosen); err != nil {
			return nil, fmt.Errorf("coreset: %w", err)
		}
	}
	if err := writeSubset(c.Run.Train, c.Out, chosen, src.idField); err != nil {
		return nil, err
	}
	printSubset(log, res)
	return res, nil
}

// Validate checks the request before any work and fills the default score.
func (c *SubsetConfig) Validate() error {
	switch c.Method {
	case MethodCCS, MethodELFS, MethodRandom, MethodHardest, MethodEasiest:
	default:
		return fmt.Errorf("coreset: method %q: want ccs, elfs, random, hardest or easiest", c.Method)
	}
	if _, err := Budget(1, c.Ratio); err != nil {
		return err
	}
	if c.Score == "" {
		c.Score = AUM.String()
	}
	if _, err := ParseScoreKind(c.Score); err != nil {
		return err
	}
	switch {
	case c.Beta >= 1:
		return fmt.Errorf("coreset: β = %v: want a fraction in [0, 1) of hardest examples to drop (negative: the default for the ratio)", c.Beta)
	case c.Strata < 0:
		return fmt.Errorf("coreset: %d strata: want a positive number (0: the default)", c.Strata)
	case c.Clusters < 0 || c.Clusters == 1:
		return fmt.Errorf("coreset: %d clusters: want at least 2 pseudo-classes (0: the number of labels)", c.Clusters)
	case c.WorkDir == "":
		return errors.New("coreset: a work directory is required for the dynamics runs")
	case c.Run.Train == "":
		return errors.New("coreset: no data file to select from")
	case c.ByClass && c.Method != MethodCCS && c.Method != MethodELFS:
		return fmt.Errorf("coreset: by-class selection is a variant of ccs and elfs, not of %s", c.Method)
	case c.Proxy != "" && c.Proxy != ProxyBase && c.Proxy != ProxyScratch:
		return fmt.Errorf("coreset: proxy %q: want base (fine-tune the model) or scratch (train it from random weights)", c.Proxy)
	case c.Proxy == ProxyScratch && c.Method == MethodRandom:
		return errors.New("coreset: the scratch proxy is a dynamics run, and random selection records none: drop the proxy setting")
	case c.Proxy == ProxyScratch && c.Dynamics != "":
		return errors.New("coreset: the scratch proxy is a dynamics run, and a given dynamics table replaces it: drop one of the two")
	case c.BetaSearch && c.Run.Valid == "":
		return errors.New("coreset: a β search needs a validation file to compare the candidates on")
	case c.Method != MethodRandom && c.Dynamics == "" && c.Run.Model == "":
		return fmt.Errorf("coreset: method %s scores examples by a training run: give a model (or an existing dynamics table)", c.Method)
	}
	return nil
}

// choose runs the selector of c.Method at hard-drop fraction beta.
func (c *SubsetConfig) choose(src *source, scores map[string]float64, budget int, beta float64, res *SubsetResult) ([]string, error) {
	switch c.Method {
	case MethodRandom:
		return Random(src.ids, budget, c.Seed)
	case MethodHardest:
		return Hardest(scores, budget)
	case MethodEasiest:
		return Easiest(scores, budget)
	case MethodELFS:
		res.Beta = &beta
		if !c.ByClass {
			res.Dropped = dropCount(beta, len(scores))
			return DoubleEnd(scores, budget, beta)
		}
		chosen, rep, err := DoubleEndByClass(scores, src.pseudo, budget, beta)
		if err != nil {
			return nil, err
		}
		res.Dropped, res.ClusterTaken = rep.Dropped, make([]int, len(rep.Classes))
		for i, cc := range rep.Classes {
			res.ClusterTaken[i] = cc.Taken
		}
		return chosen, nil
	}
	strata := c.Strata
	if strata == 0 {
		strata = min(50, len(scores)-dropCount(beta, len(scores)))
	}
	if c.ByClass {
		chosen, rep, err := CCSByClass(scores, src.labels, budget, beta, strata, c.Seed)
		if err != nil {
			return nil, err
		}
		res.Beta, res.Dropped, res.Strata = &beta, rep.Dropped, rep.Strata
		return chosen, nil
	}
	var opt Options
	if src.labels != nil {
		opt.Labels = src.labels
	}
	chosen, rep, err := CCS(scores, budget, beta, strata, c.Seed, opt)
	if err != nil {
		return nil, err
	}
	res.Beta, res.Dropped, res.Strata = &beta, rep.Dropped, rep.Strata
	return chosen, nil
}

// dropCount is ⌊β·n⌋ as the coreset selectors count it.
func dropCount(beta float64, n int) int {
	return int(beta * float64(n) * (1 + 1e-12))
}

// writeSubset writes the chosen ids of in to out.
func writeSubset(in, out string, chosen []string, idField string) error {
	keep := make(map[string]bool, len(chosen))
	for _, id := range chosen {
		keep[id] = true
	}
	if dir := filepath.Dir(out); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("coreset: %w", err)
		}
	}
	_, err := WriteSubset(in, out, keep, idField)
	return err
}

// source is the data file a selection chooses from.
type source struct {
	recs    []data.Record
	ids     []string          // record ids in file order
	labels  map[string]string // id → label; nil when a record has none
	pseudo  map[string]string // id → ELFS pseudo-class ("c<k>", from the dynamics table), once scored for a by-class selection
	idField string            // the id field the ids were read with
	idNote  string
	derived int
}

// readSource reads the records of cfg.Train. When the file's ids are not
// unique, every id is derived from file and line instead (data.DeriveIDs),
// and the result says why.
func readSource(cfg train.Config) (*source, error) {
	opt := data.ReadOptions{TextField: cfg.TextField, LabelField: cfg.LabelField, IDField: cfg.IDField}
	recs, rep, err := data.ReadRecords(cfg.Train, opt)
	note := "file"
	if err != nil && opt.IDField != data.DeriveIDs && errors.Is(err, data.ErrDuplicateID) {
		note = fmt.Sprintf("derived: %v", err)
		opt.IDField = data.DeriveIDs
		recs, rep, err = data.ReadRecords(cfg.Train, opt)
	}
	if err != nil {
		return nil, fmt.Errorf("coreset: %w", err)
	}
	if note == "file" && rep.DerivedIDs > 0 {
		note = "derived"
	}
	s := &source{recs: recs, idField: opt.IDField, idNote: note, derived: rep.DerivedIDs, labels: map[string]string{}}
	if s.idField == "" {
		s.idField = data.DefaultIDField
	}
	for _, r := range recs {
		s.ids = append(s.ids, r.ID)
		if r.Label == "" {
			s.labels = nil
		} else if s.labels != nil {
			s.labels[r.ID] = r.Label
		}
	}
	return s, nil
}

// printSubset writes the selection report, a few lines, to log.
func printSubset(log io.Writer, r *SubsetResult) {
	fmt.Fprintf(log, "coreset %s: %d of %d examples (ratio %g) → %s; ids: %s (%d derived)\n", r.Method, r.Selected, r.Examples, r.Ratio, r.Out, r.IDs, r.DerivedIDs)
	if r.Score != "" {
		fmt.Fprintf(log, "coreset score %s from %s\n", r.Score, r.Dynamics)
	}
	if r.Beta != nil {
		fmt.Fprintf(log, "coreset β %g: %d hardest dropped\n", *r.Beta, r.Dropped)
	}
	for i, s := range r.Strata {
		if s.Available > 0 {
			fmt.Fprintf(log, "  stratum %2d [%9.4f, %9.4f]: %5d available, %5d taken\n", i, s.Lo, s.Hi, s.Available, s.Taken)
		}
	}
	for _, c := range r.Classes {
		fmt.Fprintf(log, "  class %-20s %5d of %5d\n", c.Label, c.Taken, c.Available)
	}
	if r.ClusterSizes != nil {
		fmt.Fprintf(log, "  pseudo-classes %v", r.ClusterSizes)
		if r.Purity != nil {
			fmt.Fprintf(log, ", purity against the labels %.3f", *r.Purity)
		}
		fmt.Fprintln(log)
	}
}
