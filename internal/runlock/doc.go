// Package runlock keeps one writing process per run directory.
//
// A training run, a sweep job or a hardening writes checkpoints, metrics
// and results into a run directory over minutes or hours; two processes
// writing one directory lose each other's files (a resumed run deleting the
// checkpoints the original is still rotating, two summaries naming one
// checkpoint). Acquire takes an advisory lock on the file FileName (".lock")
// in the directory with flock(2), exclusive and non-blocking, and writes the
// holder's pid, host, start time and command into it; a second process gets
// a *BusyError that names the holder. The kernel drops a flock when its
// holder exits, however it exits, so a lock file left behind by a process
// that died is stale and never blocks anyone: the file's existence means
// nothing, only a held flock does. The file is never removed (removing it
// would let two processes lock two different files of the same name).
//
// flock locks belong to an open file description, so two opens of the lock
// file conflict even within one process. Acquire keeps a table of the locks
// this process holds and lets a nested Acquire of a directory the process
// already holds succeed (a sweep job holds its directory while the training
// run it starts takes the same lock); each Lock is released once, and the
// flock goes when the last of them is.
//
// The lock excludes cooperating processes on one host or on a file system
// whose flock is shared between hosts (local disks, NFSv4, Lustre with
// flock enabled); it stops nobody from deleting the directory. On systems
// without flock, Acquire only keeps the table.
package runlock
