package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sparsetune/sparsetune/checkpoints"
)

// The checks that commands writing --out make before any work, so that an
// output never destroys an input or a directory that is not the command's
// own earlier output. Each refusal is a usage error naming the flags.

// pathInput is a path a command reads, with the flag (or the description)
// that names it in messages.
type pathInput struct {
	name, path string
}

// checkOutDir checks that directory output out (flag --flag) may be
// written by a command whose outputs ours recognises (kind says what they
// are, for the message): it must not be, contain or lie inside any of
// inputs, even with force; if it exists it must be a directory that is
// empty, one of ours, or force must be set.
func checkOutDir(flag, out string, force bool, kind string, ours func(string) bool, inputs ...pathInput) error {
	if err := checkOverlap(flag, out, inputs); err != nil {
		return err
	}
	if err := checkpoints.Heal(out); err != nil {
		return err
	}
	fi, err := os.Stat(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return usagef("--%s %s exists and is not a directory; choose a directory path", flag, out)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		return err
	}
	if len(entries) == 0 || ours(out) || force {
		return nil
	}
	return usagef("--%s %s is a non-empty directory that is not %s; choose another directory, or pass --force to replace it and everything in it", flag, out, kind)
}

// checkOutFile checks that file output out (flag --flag) is not a
// directory and neither is any of inputs nor lies inside one.
func checkOutFile(flag, out string, inputs ...pathInput) error {
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		return usagef("--%s %s is a directory; give the path of the file to write", flag, out)
	}
	return checkOverlap(flag, out, inputs)
}

// checkOverlap refuses an output out that is one of inputs (the same path
// after resolving symbolic links, or the same file), contains one, or lies
// inside one. Empty inputs are skipped.
func checkOverlap(flag, out string, inputs []pathInput) error {
	o, err := resolvePath(out)
	if err != nil {
		return usagef("--%s %s: %v", flag, out, err)
	}
	for _, in := range inputs {
		if in.path == "" {
			continue
		}
		i, err := resolvePath(in.path)
		if err != nil {
			continue // the command reports an unreadable input itself
		}
		what := in.name + " " + in.path
		switch {
		case o == i || sameFile(out, in.path):
			return usagef("--%s %s is the %s; write the output elsewhere (--force does not change this)", flag, out, what)
		case within(i, o):
			return usagef("--%s %s contains the %s; write the output elsewhere (--force does not change this)", flag, out, what)
		case within(o, i):
			return usagef("--%s %s is inside the %s; write the output elsewhere (--force does not change this)", flag, out, what)
		}
	}
	return nil
}

// resolvePath returns p absolute and cleaned, with symbolic links resolved
// in the longest part of it that exists (an output often does not yet).
func resolvePath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rest := ""
	for cur := abs; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest), nil
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs, nil
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// within reports whether path p lies strictly inside directory dir; both
// are resolved.
func within(p, dir string) bool {
	if p == dir {
		return false
	}
	if !strings.HasSuffix(dir, string(filepath.Separator)) {
		dir += string(filepath.Separator)
	}
	return strings.HasPrefix(p, dir)
}

// sameFile reports whether a and b both exist and are the same file (a hard
// link, a bind mount, a case-insensitive file system).
func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}
