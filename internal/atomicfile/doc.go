// Package atomicfile replaces files so that a reader, or a machine that
// crashes, sees either the old contents or the new ones, never a partial file.
//
// The new contents go to a temporary file in the same directory (named
// ".<base>.tmp-<random>", so that ls hides it and a glob for the real name
// does not match it), which is flushed, fsynced and closed, then renamed over
// the destination; finally the directory is fsynced so that the rename itself
// survives a crash. rename(2) within one directory is atomic on POSIX file
// systems, which is why the temporary file must live beside the destination
// rather than in os.TempDir (which may be another file system).
//
// On any error the temporary file is removed and the destination is left as
// it was. Checkpoints and safetensors files are written through this package
// so that an interrupted training run never leaves a truncated checkpoint in
// place of a good one.
package atomicfile
