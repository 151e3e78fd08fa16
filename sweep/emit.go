package sweep

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
)

// EmitOptions shape the scheduler files Emit writes.
type EmitOptions struct {
	Binary   string // the command that runs sparsetune on the nodes (default "sparsetune")
	Parallel int    // at most this many jobs at once; 0: all
	CPUs     int    // cores per job (default 2); also the job's SPARSETUNE_THREADS
	Name     string // the scheduler's job name (default "sparsetune-sweep")
	// File is where the scheduler file is written, named in its submission
	// instructions (default DIR/sweep.slurm or DIR/sweep-job.yaml).
	File string

	// Kubernetes only.
	Image  string // container image holding the binary (default "sparsetune:latest")
	Claim  string // persistent volume claim holding the data, the model and the sweep directory (default "sparsetune")
	Mount  string // where the claim is mounted (default "/" + the sweep directory's first path element)
	Memory string // memory request and limit per job (default "8Gi")
}

func (o *EmitOptions) defaults(dir string) {
	if o.Binary == "" {
		o.Binary = "sparsetune"
	}
	if o.CPUs <= 0 {
		o.CPUs = 2
	}
	if o.Name == "" {
		o.Name = "sparsetune-sweep"
	}
	if o.Image == "" {
		o.Image = "sparsetune:latest"
	}
	if o.Claim == "" {
		o.Claim = "sparsetune"
	}
	if o.Mount == "" {
		o.Mount = "/" + strings.SplitN(strings.TrimPrefix(filepath.Clean(dir), "/"), "/", 2)[0]
	}
	if o.Memory == "" {
		o.Memory = "8Gi"
	}
}

// dnsLabel is what Kubernetes accepts as a Job name (RFC 1123 label, less
// the room Kubernetes needs for the pods' suffixes).
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,46}[a-z0-9])?$`)

// Emit writes a scheduler file that runs the plan's jobs in the sweep
// directory dir (an absolute path that every node sees): kind "slurm" for a
// Slurm array script (sbatch FILE), "k8s" for a Kubernetes Indexed Job
// manifest (kubectl apply -f FILE). Array index N runs
// `sparsetune sweep --out-dir DIR --index N`; `sparsetune sweep collect DIR`
// merges the results once all have finished.
//
// When the ratio jobs score with the dynamics job 0 records
// (Plan.SharesDynamics), index 0 must finish before the others start: the
// Slurm script's own array is index 0 alone and its header gives the
// second submission, of indices 1… with a dependency on the first; the
// Kubernetes manifest is for indices 1… after job 0 has been run (its
// header says how).
func Emit(w io.Writer, kind, dir string, p *Plan, o EmitOptions) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("emit: the sweep directory %q must be an absolute path that every node sees", dir)
	}
	o.defaults(dir)
	n := len(p.Jobs())
	each := map[string]string{"one per target": "compute target each", "one per data ratio": "data ratio each",
		"one per target and data ratio": "target and data ratio each"}[p.jobsNote()]
	switch kind {
	case "slurm":
		if o.File == "" {
			o.File = filepath.Join(dir, "sweep.slurm")
		}
		if p.SharesDynamics() {
			return emitSlurmAfterDense(w, dir, n, each, o)
		}
		return emitSlurm(w, dir, n, each, o)
	case "k8s":
		if !dnsLabel.MatchString(o.Name) {
			return fmt.Errorf("emit: job name %q is not a Kubernetes name (lower-case letters, digits and '-', at most 48 characters)", o.Name)
		}
		if !strings.HasPrefix(dir+"/", strings.TrimSuffix(o.Mount, "/")+"/") {
			return fmt.Errorf("emit: the sweep directory %s is not under the volume mount %s", dir, o.Mount)
		}
		if o.File == "" {
			o.File = filepath.Join(dir, "sweep-job.yaml")
		}
		return emitK8s(w, dir, n, each, p.SharesDynamics(), o)
	}
	return fmt.Errorf("emit: %q: want slurm or k8s", kind)
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	if s != "" && regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`).MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func emitSlurm(w io.Writer, dir string, n int, each string, o EmitOptions) error {
	array := fmt.Sprintf("0-%d", n-1)
	if o.Parallel > 0 {
		array += fmt.Sprintf("%%%d", o.Parallel)
	}
	logs := filepath.Join(dir, "slurm-%A_%a.out")
	_, err := fmt.Fprintf(w, `#!/bin/bash
# Slurm array for the sweep in %[1]s: index 0 is the dense point, 1-%[2]d one
# %[3]s. Every task writes only under its own job directory, so
# they may run in any order and at once; a task that is requeued or rerun
# resumes from its latest checkpoint, and a finished one is skipped. Submit
# with sbatch; once every task has finished:
#
#   sparsetune sweep collect %[4]s
#
#SBATCH --job-name=%[5]s
#SBATCH --array=%[6]s
#SBATCH --cpus-per-task=%[7]d
#SBATCH --output=%[8]s
#SBATCH --requeue
set -euo pipefail
: "${SLURM_ARRAY_TASK_ID:?run this script with sbatch (or set SLURM_ARRAY_TASK_ID to a job index)}"
export SPARSETUNE_THREADS=${SLURM_CPUS_PER_TASK:-%[7]d}
exec %[9]s sweep --out-dir %[4]s --index "$SLURM_ARRAY_TASK_ID"
`, dir, n-1, each, shellQuote(dir), o.Name, array, o.CPUs, shellQuote(logs), shellQuote(o.Binary))
	return err
}

// emitSlurmAfterDense is the array script of a sweep whose ratio jobs need
// job 0's dynamics: submitted as is it runs index 0; the second submission
// its header gives runs 1… once index 0 has succeeded.
func emitSlurmAfterDense(w io.Writer, dir string, n int, each string, o EmitOptions) error {
	rest := fmt.Sprintf("1-%d", n-1)
	if o.Parallel > 0 {
		rest += fmt.Sprintf("%%%d", o.Parallel)
	}
	file := shellQuote(o.File)
	logs := filepath.Join(dir, "slurm-%A_%a.out")
	_, err := fmt.Fprintf(w, `#!/bin/bash
# Slurm array for the sweep in %[1]s: index 0 is the dense point, 1-%[2]d one
# %[3]s. The ratio jobs choose their subsets by the training dynamics
# that job 0 records, so index 0 must finish first: this script's own array is
# index 0 alone, and the other indices are a second submission that waits for
# it. Submit both at once with
#
#   jid=$(sbatch --parsable %[4]s) && sbatch --array=%[5]s --dependency=afterok:${jid%%%%;*} %[4]s
#
# Every task writes only under its own job directory; a task that is requeued
# or rerun resumes from its latest checkpoint, and a finished one is skipped.
# Once every task has finished:
#
#   sparsetune sweep collect %[6]s
#
#SBATCH --job-name=%[7]s
#SBATCH --array=0
#SBATCH --cpus-per-task=%[8]d
#SBATCH --output=%[9]s
#SBATCH --requeue
set -euo pipefail
: "${SLURM_ARRAY_TASK_ID:?run this script with sbatch (or set SLURM_ARRAY_TASK_ID to a job index)}"
export SPARSETUNE_THREADS=${SLURM_CPUS_PER_TASK:-%[8]d}
exec %[10]s sweep --out-dir %[6]s --index "$SLURM_ARRAY_TASK_ID"
`, dir, n-1, each, file, rest, shellQuote(dir), o.Name, o.CPUs, shellQuote(logs), shellQuote(o.Binary))
	return err
}

// SubmitHint is the command line that submits the scheduler file Emit
// wrote for the plan at file.
func SubmitHint(kind, file, dir string, p *Plan, parallel int) string {
	n := len(p.Jobs())
	switch {
	case kind == "k8s" && p.SharesDynamics():
		return fmt.Sprintf("sparsetune sweep --out-dir %s --index 0 && kubectl apply -f %s", shellQuote(dir), shellQuote(file))
	case kind == "k8s":
		return "kubectl apply -f " + shellQuote(file)
	case p.SharesDynamics():
		rest := fmt.Sprintf("1-%d", n-1)
		if parallel > 0 {
			rest += fmt.Sprintf("%%%d", parallel)
		}
		return fmt.Sprintf("jid=$(sbatch --parsable %[1]s) && sbatch --array=%[2]s --dependency=afterok:${jid%%%%;*} %[1]s", shellQuote(file), rest)
	}
	return "sbatch " + shellQuote(file)
}

// yamlString renders s as a YAML double-quoted scalar (JSON's string syntax
// is a subset of YAML's).
func yamlString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func emitK8s(w io.Writer, dir string, n int, each string, afterDense bool, o EmitOptions) error {
	note := ""
	if afterDense {
		note = fmt.Sprintf(`#
# The ratio jobs choose their subsets by the training dynamics that job 0
# records, so index 0 must finish before the others start, and an Indexed Job
# starts them together: run index 0 first, e.g.
#
#   sparsetune sweep --out-dir %[1]s --index 0
#
# and apply this manifest once it has finished (index 0 is then skipped as
# finished). An index started before job 0 has finished fails with an error
# that names the missing table.
`, shellQuote(dir))
	}
	parallel := n
	if o.Parallel > 0 {
		parallel = min(o.Parallel, n)
	}
	args := []string{"sweep", "--out-dir", dir, "--index", "$(SWEEP_INDEX)"}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = yamlString(a)
	}
	_, err := fmt.Fprintf(w, `# Kubernetes Indexed Job for the sweep in %[1]s: completion index 0 is the
# dense point, 1-%[2]d one %[14]s. Every pod writes only under its
# own job directory on the shared volume; a retried pod resumes from its
# latest checkpoint, and a finished index is skipped. Submit with
# kubectl apply -f; once the Job has completed:
#
#   sparsetune sweep collect %[1]s
%[15]sapiVersion: batch/v1
kind: Job
metadata:
  name: %[3]s
spec:
  completionMode: Indexed
  completions: %[4]d
  parallelism: %[5]d
  backoffLimit: %[6]d
  template:
    metadata:
      labels:
        app: %[3]s
    spec:
      restartPolicy: OnFailure
      containers:
        - name: sweep
          image: %[7]s
          command: [%[8]s]
          args: [%[9]s]
          env:
            - name: SWEEP_INDEX # the completion index, read as Kubernetes 1.21 and later publish it
              valueFrom:
                fieldRef:
                  fieldPath: metadata.annotations['batch.kubernetes.io/job-completion-index']
            - name: SPARSETUNE_THREADS
              value: %[10]s
          resources:
            requests:
              cpu: %[10]s
              memory: %[11]s
            limits:
              memory: %[11]s
          volumeMounts:
            - name: work
              mountPath: %[12]s
      volumes:
        - name: work
          persistentVolumeClaim:
            claimName: %[13]s
`, dir, n-1, o.Name, n, parallel, 3*n, yamlString(o.Image), yamlString(o.Binary), strings.Join(quoted, ", "),
		yamlString(fmt.Sprint(o.CPUs)), yamlString(o.Memory), yamlString(o.Mount), yamlString(o.Claim), each, note)
	return err
}
