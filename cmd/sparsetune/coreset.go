package main

import (
	"io"
	"path/filepath"
	"strings"

	"github.com/sparsetune/sparsetune/coreset"
)

// coresetHidden are the train flags that make no sense for a selection:
// its own flags name the data, the output and the method.
var coresetHidden = []string{"train", "test", "out-dir", "resume", "record-dynamics", "dense-reference",
	"coreset", "coreset-ratio", "coreset-score", "coreset-beta", "coreset-beta-search", "coreset-strata",
	"coreset-by-class", "coreset-clusters", "coreset-dynamics", "coreset-proxy"}

func runCoreset(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("coreset", "coreset --data FILE --ratio R --method ccs|elfs|random|hardest|easiest --out FILE [--score aum|el2n|forgetting|entropy] [--model DIR ...]\n\n"+
		"Chooses a subset of --data and writes it in the input's own format. ccs, hardest and easiest\n"+
		"score the examples by the training dynamics of a run on the labels, elfs by those of a run on\n"+
		"pseudo-labels (clusters of --model's embeddings); the run is configured by the training flags\n"+
		"below and kept in --work-dir, where later selections reuse its table.", stderr)
	fc := coreset.DefaultConfig()
	trainFlags(fs, &fc)
	for _, name := range coresetHidden {
		fs.MarkHidden(name)
	}
	configFile := fs.String("config", "", "JSON config file of the dynamics run (keys as in train_config.json)")
	var sc coreset.SubsetConfig
	dataFile := fs.String("data", "", "data to select from: .jsonl, .ndjson, .csv or .tsv")
	fs.StringVar(&sc.Out, "out", "", "the subset, written in the format of --data")
	fs.StringVar(&sc.Method, "method", "", "ccs, elfs (label-free), random, hardest or easiest")
	fs.Float64Var(&sc.Ratio, "ratio", 0, "fraction of the examples to keep, in (0, 1]")
	fs.StringVar(&sc.Score, "score", "aum", "difficulty score: aum, forgetting, el2n or entropy")
	fs.Float64Var(&sc.Beta, "beta", -1, "fraction of hardest examples ccs and elfs drop first (negative: 0, 0.1 or 0.3 by the ratio)")
	fs.BoolVar(&sc.BetaSearch, "beta-search", false, "choose --beta on --valid: one training run per candidate")
	fs.IntVar(&sc.Strata, "strata", 0, "CCS score strata (0: min(50, examples))")
	fs.BoolVar(&sc.ByClass, "by-class", false, "select within each class (ccs) or pseudo-class (elfs), the budget split in proportion to the class sizes")
	fs.StringVar(&sc.Proxy, "proxy", "base", "the dynamics run: base (fine-tune --model) or scratch (train its architecture from random weights)")
	fs.IntVar(&sc.Clusters, "clusters", 0, "ELFS pseudo-classes (0: the number of labels in --data)")
	fs.StringVar(&sc.Dynamics, "dynamics", "", "existing dynamics table (or run directory) to score with")
	fs.StringVar(&sc.WorkDir, "work-dir", "", "dynamics runs, pseudo-labels and tables (default: <out>.work)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dataFile == "" || sc.Out == "" || sc.Method == "" || !fs.Changed("ratio") {
		return usagef("--data, --out, --method and --ratio are required")
	}
	cfg, err := resolveConfig(fs, &fc, *configFile, coreset.DefaultConfig())
	if err != nil {
		return usageError{err}
	}
	cfg.Train = *dataFile
	sc.Run, sc.Seed, sc.DynamicsEvery = cfg.Config, cfg.Seed, cfg.DynamicsEvery
	if sc.WorkDir == "" {
		sc.WorkDir = strings.TrimSuffix(sc.Out, filepath.Ext(sc.Out)) + ".work"
	}
	if err := sc.Validate(); err != nil {
		return usageError{err}
	}
	if err := checkOutFile("out", sc.Out, pathInput{"input --data", cfg.Train}, pathInput{"input --valid", cfg.Valid}, pathInput{"input --test", cfg.Test},
		pathInput{"input --dynamics", sc.Dynamics}, pathInput{"input --model", cfg.Model}, pathInput{"input --config", *configFile}); err != nil {
		return err
	}
	initBLAS(stderr, false)
	res, err := coreset.SelectSubset(sc, stderr)
	if err != nil {
		return err
	}
	return printJSON(stdout, res)
}
