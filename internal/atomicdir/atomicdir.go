package atomicdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sparsetune/sparsetune/internal/atomicfile"
)

// Suffixes of a target's sibling names (see the package documentation).
const (
	tmpInfix       = ".tmp-"
	newSuffix      = ".new"
	oldSuffix      = ".old"
	deletingSuffix = ".deleting"
)

// Replace creates or replaces directory dir with the directory that fill
// writes into tmp, a fresh temporary directory beside dir. Only once fill
// has returned nil and every file under tmp is fsynced is dir replaced; on
// any error before that dir is left as it was and the temporary directory
// is removed. Replace first runs Recover on dir, so a swap an earlier crash
// interrupted is finished and its leftovers removed. dir's parent is
// created if needed.
func Replace(dir string, fill func(tmp string) error) (err error) {
	parent, base, err := split(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	if err := Recover(dir); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+base+tmpInfix)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp) // no-op once renamed
		}
	}()
	if err := fill(tmp); err != nil {
		return err
	}
	if err := syncTree(tmp); err != nil {
		return fmt.Errorf("%s: sync: %w", dir, err)
	}
	crashPoint("filled")
	next, old := sibling(parent, base, newSuffix), sibling(parent, base, oldSuffix)
	if err := os.Rename(tmp, next); err != nil {
		return err
	}
	if err := atomicfile.Sync(parent); err != nil {
		os.RemoveAll(next)
		return err
	}
	crashPoint("new")
	moved := false
	if _, err := os.Lstat(dir); err == nil {
		if err := os.Rename(dir, old); err != nil {
			os.RemoveAll(next)
			return err
		}
		moved = true
	}
	crashPoint("moved")
	if err := os.Rename(next, dir); err != nil {
		if moved {
			os.Rename(old, dir) // put the previous one back
		}
		os.RemoveAll(next)
		return err
	}
	if err := atomicfile.Sync(parent); err != nil {
		return fmt.Errorf("%s: replaced, but syncing %s failed, so the new directory may not survive a crash: %w", dir, parent, err)
	}
	crashPoint("swapped")
	if moved {
		return os.RemoveAll(old)
	}
	return nil
}

// Remove deletes directory dir so that a crash never leaves a partly
// deleted directory under its name: dir is first renamed to .B.deleting
// and the parent fsynced, then deleted. A missing dir is not an error.
func Remove(dir string) error {
	parent, base, err := split(dir)
	if err != nil {
		return err
	}
	doomed := sibling(parent, base, deletingSuffix)
	if err := os.RemoveAll(doomed); err != nil { // an earlier Remove's leftover
		return err
	}
	if err := os.Rename(dir, doomed); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if err := atomicfile.Sync(parent); err != nil {
		return err
	}
	crashPoint("doomed")
	return os.RemoveAll(doomed)
}

// Heal restores a missing dir from a complete directory waiting beside
// it: the new one of an interrupted Replace (.B.new), else the moved-aside
// old one (.B.old, or an earlier release's .B.tmp-<random>.old). It does
// nothing when dir exists or nothing complete waits, and removes nothing,
// so it is safe beside a process writing dir.
func Heal(dir string) error {
	parent, base, err := split(dir)
	if err != nil {
		return nil // "." or "/": never the target of a swap
	}
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		return nil // present, or not ours to judge
	}
	candidates := []string{sibling(parent, base, newSuffix), sibling(parent, base, oldSuffix)}
	legacy, _ := filepath.Glob(filepath.Join(parent, globEscape("."+base+tmpInfix)+"*"+oldSuffix))
	candidates = append(candidates, legacy...)
	for _, c := range candidates {
		if fi, err := os.Lstat(c); err != nil || !fi.IsDir() {
			continue
		}
		return Restore(dir, c)
	}
	return nil
}

// Restore renames complete directory from, a sibling of dir, to the
// missing dir and fsyncs their parent, so that the restored name survives a
// crash. If the rename fails because another process restored dir
// meanwhile, that is not an error. Heal uses it for the siblings this
// package leaves; callers that know of other complete copies (an earlier
// release's layout) restore them through it too.
func Restore(dir, from string) error {
	if err := os.Rename(from, dir); err != nil {
		if _, serr := os.Lstat(dir); serr == nil {
			return nil // healed by another process meanwhile
		}
		return fmt.Errorf("%s is missing and restoring it from %s failed: %w", dir, filepath.Base(from), err)
	}
	return atomicfile.Sync(filepath.Dir(filepath.Clean(dir)))
}

// Recover heals dir (see Heal) and removes its stale siblings: temporary
// directories and files (.B.tmp-*, which includes the temporary files of
// package atomicfile), a new directory whose swap never started (dir
// exists), the moved-aside old one, and an interrupted deletion. Run it
// only where no other process is writing dir.
func Recover(dir string) error {
	if err := Heal(dir); err != nil {
		return err
	}
	parent, base, err := split(dir)
	if err != nil {
		return nil // "." or "/": never the target of a swap
	}
	entries, err := os.ReadDir(parent)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if t, ok := targetOf(e.Name()); ok && t == base {
			if err := os.RemoveAll(filepath.Join(parent, e.Name())); err != nil {
				return fmt.Errorf("%s: removing stale %s: %w", dir, e.Name(), err)
			}
		}
	}
	return nil
}

// Targets lists the names in directory parent that have siblings left by
// Replace, Remove or package atomicfile, for a caller that owns parent to
// Recover each. A missing parent has none.
func Targets(parent string) ([]string, error) {
	entries, err := os.ReadDir(parent)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range entries {
		if t, ok := targetOf(e.Name()); ok && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out, nil
}

// targetOf returns B for a sibling name of target B: .B.tmp-*, .B.new,
// .B.old or .B.deleting.
func targetOf(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, ".")
	if !ok {
		return "", false
	}
	if i := strings.Index(rest, tmpInfix); i > 0 {
		return rest[:i], true
	}
	for _, suf := range []string{newSuffix, oldSuffix, deletingSuffix} {
		if b, ok := strings.CutSuffix(rest, suf); ok && b != "" {
			return b, true
		}
	}
	return "", false
}

// crashHook lets the tests kill the process between the steps of Replace
// and Remove; it is nil outside them.
var crashHook func(point string)

func crashPoint(point string) {
	if crashHook != nil {
		crashHook(point)
	}
}

func split(dir string) (parent, base string, err error) {
	dir = filepath.Clean(dir)
	parent, base = filepath.Split(dir)
	if base == "" || base == "." || base == ".." {
		return "", "", fmt.Errorf("atomicdir: %q does not name a directory entry", dir)
	}
	if parent == "" {
		parent = "."
	}
	return filepath.Clean(parent), base, nil
}

func sibling(parent, base, suffix string) string {
	return filepath.Join(parent, "."+base+suffix)
}

// globEscape quotes the glob metacharacters of a literal name.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// syncTree fsyncs every regular file and directory under root, root last,
// so that a rename of root publishes durable contents whatever wrote them.
func syncTree(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			dirs = append(dirs, p)
		case d.Type().IsRegular():
			return atomicfile.Sync(p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := atomicfile.Sync(dirs[i]); err != nil {
			return err
		}
	}
	return nil
}
