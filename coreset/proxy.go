package coreset

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/internal/atomicfile"
	"github.com/sparsetune/sparsetune/internal/runlock"
	"github.com/sparsetune/sparsetune/train"
)

// dynamicsEvalBatches caps the validation batches of a dynamics run, which
// validates on its own training data only to keep the run's machinery
// (best checkpoint, early stopping) working; its metric is not used.
const dynamicsEvalBatches = 4

// scores returns the difficulty scores of c.Score for every id of src,
// from c.Dynamics or the work dir's table, recording it first if missing.
func (c *SubsetConfig) scores(src *source, res *SubsetResult, log io.Writer) (map[string]float64, error) {
	path := c.Dynamics
	if path == "" {
		path = filepath.Join(c.WorkDir, c.dynamicsName()+".jsonl")
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			if err := c.recordDynamics(src, path, res, log); err != nil {
				return nil, err
			}
		} else if err != nil {
			return nil, fmt.Errorf("coreset: %w", err)
		} else {
			fmt.Fprintf(log, "coreset: reusing the dynamics table %s\n", path)
		}
	}
	if c.Method != MethodELFS && src.labels == nil {
		return nil, fmt.Errorf("coreset: method %s needs a label on every record of %s (elfs and random need none)", c.Method, c.Run.Train)
	}
	table, err := LoadDynamicsOf(path)
	if err != nil {
		return nil, err
	}
	res.Dynamics = path
	if c.Dynamics == "" {
		res.Proxy = cmp.Or(c.Proxy, ProxyBase)
	}
	if c.Method == MethodELFS && c.ByClass {
		// The table's labels are the pseudo-classes of its run.
		src.pseudo = map[string]string{}
		for id, l := range table.Labels() {
			src.pseudo[id] = pseudoClass(l, table.NumClasses())
		}
	}
	kind, _ := ParseScoreKind(c.Score)
	all, err := table.Scores(kind, 0)
	if err != nil {
		return nil, err
	}
	scores := make(map[string]float64, len(src.ids))
	for _, id := range src.ids {
		s, ok := all[id]
		if !ok {
			return nil, fmt.Errorf("coreset: the dynamics table %s has no example %q of %s: was it recorded on another file or with other ids?", path, id, c.Run.Train)
		}
		scores[id] = s
	}
	return scores, nil
}

// dynamicsName is the work dir's name for the dynamics table (name.jsonl)
// and its run (name-run) of c's method and proxy: dynamics (true labels)
// or dynamics-pseudo (ELFS), with -scratch for a proxy from random
// weights, so that a work dir keeps each kind apart.
func (c *SubsetConfig) dynamicsName() string {
	name := "dynamics"
	if c.Method == MethodELFS {
		name += "-pseudo"
	}
	if c.Proxy == ProxyScratch {
		name += "-scratch"
	}
	return name
}

// recordDynamics trains on src (on the true labels, or on pseudo-labels
// for ELFS) with dynamics recording and saves the table at path once the
// run is complete. An interrupted run is resumed.
func (c *SubsetConfig) recordDynamics(src *source, path string, res *SubsetResult, log io.Writer) error {
	cfg := c.Run
	cfg.Task = train.TaskClassification
	cfg.Test, cfg.DenseRef, cfg.Target, cfg.Trainable = "", "", 0, train.TrainAll
	cfg.OutDir = filepath.Join(c.WorkDir, c.dynamicsName()+"-run")
	cfg.FromScratch = c.Proxy == ProxyScratch
	if c.Method == MethodELFS {
		pseudo, err := c.pseudoLabels(src, res, log)
		if err != nil {
			return err
		}
		cfg.Train, cfg.TextField, cfg.LabelField, cfg.IDField = pseudo, "text", "label", "id"
	} else if src.labels == nil {
		return fmt.Errorf("coreset: method %s needs a label on every record of %s (elfs and random need none)", c.Method, c.Run.Train)
	}
	cfg.Valid = cfg.Train
	if cfg.EvalBatches == 0 || cfg.EvalBatches > dynamicsEvalBatches {
		cfg.EvalBatches = dynamicsEvalBatches
	}
	cfg.Resume = train.HoldsRun(cfg.OutDir)
	from := "fine-tuning " + cfg.Model
	if cfg.FromScratch {
		from = "training " + cfg.Model + "'s architecture from random weights"
	}
	fmt.Fprintf(log, "coreset: recording training dynamics: %d steps %s on %s in %s\n", cfg.Steps, from, cfg.Train, cfg.OutDir)
	if _, err := train.Run(cfg, log, NewRecorder(c.DynamicsEvery).Hooks()); err != nil {
		return fmt.Errorf("coreset: dynamics run: %w", err)
	}
	table, err := LoadDynamicsOf(cfg.OutDir)
	if err != nil {
		return err
	}
	return table.Save(path)
}

// pseudoLabels clusters the base model's embeddings of src into
// pseudo-classes (PseudoLabels) and writes them as a JSONL file
// {"id", "text", "label": "c<k>"} in the work dir for the proxy run.
func (c *SubsetConfig) pseudoLabels(src *source, res *SubsetResult, log io.Writer) (string, error) {
	k := c.Clusters
	if k == 0 {
		if src.labels == nil {
			return "", fmt.Errorf("coreset: elfs: %s has no labels to count the classes by: give the number of clusters", c.Run.Train)
		}
		distinct := map[string]bool{}
		for _, l := range src.labels {
			distinct[l] = true
		}
		k = len(distinct)
	}
	fmt.Fprintf(log, "coreset: embedding %d examples with %s\n", len(src.recs), c.Run.Model)
	emb, err := train.EmbedRecords(c.Run, src.recs)
	if err != nil {
		return "", err
	}
	assign, err := PseudoLabels(emb, k, c.Run.Seed)
	if err != nil {
		return "", err
	}
	res.ClusterSizes = make([]int, k)
	for _, a := range assign {
		res.ClusterSizes[a]++
	}
	if src.labels != nil {
		p := purity(assign, src.labels)
		res.Purity = &p
	}
	path := filepath.Join(c.WorkDir, "pseudo-labels.jsonl")
	err = atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		enc := json.NewEncoder(bw)
		for _, r := range src.recs {
			label := pseudoClass(assign[r.ID], k)
			if err := enc.Encode(map[string]string{"id": r.ID, "text": r.Text, "label": label}); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
	return path, err
}

// pseudoClass names pseudo-class a of k: "c" and the number, zero-padded
// to the width of k − 1 so that names sort as numbers.
func pseudoClass(a, k int) string {
	return fmt.Sprintf("c%0*d", len(strconv.Itoa(k-1)), a)
}

// purity is the share of examples whose cluster's most common label is
// their own.
func purity(assign map[string]int, labels map[string]string) float64 {
	counts := map[int]map[string]int{}
	for id, a := range assign {
		if counts[a] == nil {
			counts[a] = map[string]int{}
		}
		counts[a][labels[id]]++
	}
	top := 0
	for _, byLabel := range counts {
		best := 0
		for _, n := range byLabel {
			best = max(best, n)
		}
		top += best
	}
	return float64(top) / float64(len(assign))
}

// searchBeta selects and trains on a subset for each of BetaCandidates
// and returns the β whose run scores best on c.Run.Valid (the smaller β
// on a tie). The runs go to <work dir>/beta-search.
func (c *SubsetConfig) searchBeta(src *source, scores map[string]float64, budget int, res *SubsetResult, log io.Writer) (float64, error) {
	res.BetaSearch = map[string]float64{}
	best, bestMetric := -1.0, 0.0
	for _, beta := range BetaCandidates {
		if budget > len(scores)-dropCount(beta, len(scores)) {
			continue // not enough examples left after the drop
		}
		name := fmt.Sprintf("%s-%g-seed%d-beta%g", c.Method, c.Ratio, c.Seed, beta)
		dir := filepath.Join(c.WorkDir, "beta-search")
		chosen, err := c.choose(src, scores, budget, beta, &SubsetResult{})
		if err != nil {
			return 0, err
		}
		subset := filepath.Join(dir, name+filepath.Ext(c.Run.Train))
		if err := writeSubset(c.Run.Train, subset, chosen, src.idField); err != nil {
			return 0, err
		}
		cfg := c.Run
		cfg.Train, cfg.Test = subset, ""
		cfg.Task = train.TaskClassification
		cfg.OutDir = filepath.Join(dir, name)
		cfg.Resume = false
		if src.idNote != "file" {
			cfg.IDField = data.DeriveIDs
		}
		fmt.Fprintf(log, "coreset: β search: training on the subset at β = %g\n", beta)
		sum, err := runAfresh(cfg, log)
		if err != nil {
			return 0, fmt.Errorf("coreset: β search at %g: %w", beta, err)
		}
		res.BetaSearch[strconv.FormatFloat(beta, 'g', -1, 64)] = sum.Metric
		if best < 0 || sum.Metric > bestMetric { // accuracy: the runs classify
			best, bestMetric = beta, sum.Metric
		}
	}
	if best < 0 {
		return 0, fmt.Errorf("coreset: β search: no candidate in %v leaves %d examples", slices.Clone(BetaCandidates), budget)
	}
	fmt.Fprintf(log, "coreset: β search chose %g (valid metric %.4f)\n", best, bestMetric)
	return best, nil
}

// runAfresh runs cfg from step 0 in its run directory, first clearing an
// earlier run there, all under the directory's lock so that another
// process's run in it is refused rather than deleted (the β search's
// runs).
func runAfresh(cfg train.Config, log io.Writer) (*train.Summary, error) {
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, err
	}
	lock, err := train.LockRunDir(cfg.OutDir)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	if train.HoldsRun(cfg.OutDir) {
		if err := clearRunDir(cfg.OutDir); err != nil {
			return nil, err
		}
	}
	cfg.Resume = false
	return train.Run(cfg, log)
}

// clearRunDir removes everything in run directory dir but its lock file,
// which the caller holds: a run started afresh in a directory it owns.
func clearRunDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == runlock.FileName {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
