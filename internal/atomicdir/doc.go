// Package atomicdir replaces and removes directories so that a crash at any
// moment leaves either the old directory or the new one under the target's
// name, and heals the few states in which a crash can leave the name empty.
//
// For a target P/B, Replace and Remove use these siblings:
//
//	P/.B.tmp-<random>  being written; incomplete until renamed
//	P/.B.new           complete and fsynced; next renamed to B
//	P/.B.old           the previous B, moved aside; removed once B is in place
//	P/.B.deleting      a B that Remove is deleting
//
// Replace builds the new directory under .B.tmp-<random>, fsyncs every file
// and directory in it, renames it to .B.new and fsyncs P (from here the new
// contents are complete and durable), renames B to .B.old, renames .B.new
// to B, fsyncs P and removes .B.old. A crash between the renames leaves B
// missing and .B.new (and .B.old) present: Heal finishes the swap. Recover
// heals and then removes the stale siblings; Replace and Remove run it
// first, and the commands that open a path run Heal, so the next command
// on the path sees a complete directory.
//
// Earlier releases moved the old directory to .B.tmp-<random>.old; Heal
// restores such a directory when B is missing.
//
// Nothing here locks: two processes replacing the same target at once are
// not supported. Heal is safe beside a process writing the target (it only
// acts when the target is missing and a complete directory waits beside
// it); Recover is not, because it deletes the writer's temporary directory.
package atomicdir
