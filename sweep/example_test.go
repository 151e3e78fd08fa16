package sweep_test

import (
	"os"

	"github.com/sparsetune/sparsetune/coreset"
	"github.com/sparsetune/sparsetune/sweep"
)

// A Slurm array for a three-target sweep: index 0 trains the dense point,
// 1-3 one target each, at most two at a time.
func ExampleEmit() {
	c := coreset.DefaultConfig()
	c.Model, c.Train = "/data/base", "/data/train.jsonl"
	p := &sweep.Plan{Targets: []float64{0.7, 0.5, 0.3}, Base: c}
	sweep.Emit(os.Stdout, "slurm", "/data/sweeps/spam", p, sweep.EmitOptions{Parallel: 2, CPUs: 4})
	// Output:
	// #!/bin/bash
	// # Slurm array for the sweep in /data/sweeps/spam: index 0 is the dense point, 1-3 one
	// # compute target each. Every task writes only under its own job directory, so
	// # they may run in any order and at once; a task that is requeued or rerun
	// # resumes from its latest checkpoint, and a finished one is skipped. Submit
	// # with sbatch; once every task has finished:
	// #
	// #   sparsetune sweep collect /data/sweeps/spam
	// #
	// #SBATCH --job-name=sparsetune-sweep
	// #SBATCH --array=0-3%2
	// #SBATCH --cpus-per-task=4
	// #SBATCH --output=/data/sweeps/spam/slurm-%A_%a.out
	// #SBATCH --requeue
	// set -euo pipefail
	// : "${SLURM_ARRAY_TASK_ID:?run this script with sbatch (or set SLURM_ARRAY_TASK_ID to a job index)}"
	// export SPARSETUNE_THREADS=${SLURM_CPUS_PER_TASK:-4}
	// exec sparsetune sweep --out-dir /data/sweeps/spam --index "$SLURM_ARRAY_TASK_ID"
}
