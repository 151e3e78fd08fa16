// Package coreset chooses the subset of a training set that keeps fine-tuning
// quality at a fraction of the cost: data-efficient fine-tuning.
//
// The flow is three steps, each usable on its own:
//
//  1. Record training dynamics. During a dense fine-tuning run (or a run on
//     pseudo-labels, see below) a Recorder calls Dynamics.Record with each
//     example's logits once per epoch, and Dynamics.Save writes the table
//     next to the run (LoadDynamics reads it back).
//  2. Score. Dynamics.Scores turns the table into one difficulty score per
//     example: AUM, forgetting events, EL2N or entropy (see ScoreKind).
//  3. Select. CCS (with labels) or DoubleEnd (label-free, ELFS) picks a
//     subset of a given size; Random, Hardest and Easiest are the baselines.
//     WriteSubset writes the chosen examples as a new data file in the
//     input's own format, ready for data.Load.
//
// # Driving training runs
//
// Above the selectors sits the driver, which imports package train (train
// never imports coreset):
//
//   - Recorder records a run's training dynamics through train.Hooks
//     (DynamicsFile in the run directory).
//   - SelectSubset chooses a subset of a data file by a method (MethodCCS,
//     MethodELFS, MethodRandom, MethodHardest, MethodEasiest), first running
//     the dynamics run it scores by (train.Run with a Recorder), the ELFS
//     proxy on pseudo-labels, or a β search (one run per candidate).
//   - Train runs a Config (train.Config and the Settings that were once
//     train's coreset keys, one flat JSON object): the subset chosen first
//     into <out_dir>/coreset, then train.Run on it; a resume reuses the
//     subset and refuses changed Settings (SettingsFile).
//
// # Orientation
//
// Every score is a difficulty: higher means harder (for AUM the score is
// −AUM, since a low margin means a hard or mislabelled example). Samplers
// rely on this one orientation; "hardest" always means "highest score".
//
// # Labels and no labels
//
// CCS (Zheng et al., ICLR 2023) needs scores from a run on the true labels.
// ELFS (Zheng et al., ICLR 2025) has none: PseudoLabels clusters frozen
// encoder embeddings into pseudo-classes, a proxy run on those gives
// training dynamics and scores, and DoubleEnd selects from them.
//
// # Determinism
//
// Every random choice is drawn from a math/rand/v2 PCG stream seeded with the
// caller's seed (and a fixed per-use stream number), with our own unbiased
// integer draws, so a seed alone fixes the result across Go versions. Map
// iteration order never matters: ids are sorted first, and ties between
// equal scores are broken by id (the larger id counts as harder). Every
// selector returns a set, as ids in ascending order; Rank gives a ranking.
//
// # Errors
//
// Data problems (a bad table, NaN scores, ids missing from a file) and
// impossible requests (a budget larger than what is left) are returned as
// errors that name the id, line or parameter; only misuse that no data can
// cause (NewDynamics with fewer than two classes) panics.
package coreset
