package infer

import "github.com/sparsetune/sparsetune/checkpoints"

// Build assembles the sparse checkpoint the engine tests run. It is
// checkpoints.Assemble, the assembly by the one layout table that
// harden.Prune also uses (this package's tests cannot import harden, which
// imports infer), so the tests exercise the layout the hardening writes.
var Build = checkpoints.Assemble
