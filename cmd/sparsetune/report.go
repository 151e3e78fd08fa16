package main

import (
	"fmt"
	"io"

	"github.com/sparsetune/sparsetune/sweep"
)

func runReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", "report RUN_OR_SWEEP_DIR [--out FILE]", stderr)
	out := fs.String("out", "", "the Markdown file to write, its images beside it (default: DIR/report.md)")
	if err := fs.Parse(args); err != nil {
		return parseErr(err)
	}
	if fs.NArg() != 1 {
		return usagef("want one run or sweep directory")
	}
	path, err := sweep.Report(fs.Arg(0), *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s\n", path)
	return printJSON(stdout, map[string]string{"report": path})
}
