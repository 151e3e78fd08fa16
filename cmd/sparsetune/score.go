package main

import "io"

func runScore(args []string, stdout, stderr io.Writer) error {
	return usagef("not yet wired")
}
