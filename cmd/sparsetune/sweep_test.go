package main

import (
	"bytes"
	"github.com/sparsetune/sparsetune/internal/testmodel"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sparsetune/sparsetune/sweep"
)

// tinySweepArgs writes a one-layer GPT-2 with a byte-level tokenizer and a
// two-class task, and returns the sweep flags that train it in seconds.
func tinySweepArgs(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	if err := testmodel.ByteLevelGPT2(dir, true); err != nil {
		t.Fatal(err)
	}
	data, err := testmodel.TopicData(dir, 40)
	if err != nil {
		t.Fatal(err)
	}
	return []string{"--model", dir, "--task", "classification", "--train", data, "--test", data, "--targets", "0.7,0.5",
		"--seq-len", "32", "--batch", "4", "--steps", "24", "--warmup", "2", "--lr", "3e-3", "--eval-every", "6", "--save-every", "6",
		"--group-size", "16", "--stage2-steps", "6", "--target-warmup", "8", "--frontier-targets", "0.3,0.5", "--frontier-adapt-steps", "2"}
}

func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("%v: exit %d\n%s", args, code, errb.String())
	}
	return out.String()
}

// TestSweepEmittedCommandsMatchLocal runs a sweep locally, then the same
// sweep twice more through the per-index commands of the emitted Slurm
// script and Kubernetes manifest, each into its own directory; collect
// gives all three the same table (without timings, which no two runs
// share). Collecting with latency then times every sparse checkpoint.
func TestSweepEmittedCommandsMatchLocal(t *testing.T) {
	flags := tinySweepArgs(t)
	root := t.TempDir()
	local := filepath.Join(root, "local")
	runOK(t, append(append([]string{"sweep"}, flags...), "--out-dir", local, "--parallel", "2", "--latency=false")...)

	// Slurm: the exec line of the script, with the array index filled in.
	slurmDir := filepath.Join(root, "slurm")
	runOK(t, append(append([]string{"sweep"}, flags...), "--out-dir", slurmDir, "--emit", "slurm")...)
	script := filepath.Join(slurmDir, "sweep.slurm")
	if out, err := exec.Command("bash", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n %s: %v\n%s", script, err, out)
	}
	m := regexp.MustCompile(`(?m)^exec (.*)$`).FindStringSubmatch(readFile(t, script))
	if m == nil {
		t.Fatalf("no exec line in\n%s", readFile(t, script))
	}
	array := regexp.MustCompile(`#SBATCH --array=0-(\d+)`).FindStringSubmatch(readFile(t, script))
	last, _ := strconv.Atoi(array[1])
	for i := 0; i <= last; i++ {
		line := strings.ReplaceAll(m[1], `"$SLURM_ARRAY_TASK_ID"`, strconv.Itoa(i))
		runOK(t, strings.Fields(line)[1:]...)
	}

	// Kubernetes: the container's command and args, with the completion
	// index filled in.
	k8sDir := filepath.Join(root, "k8s")
	runOK(t, append(append([]string{"sweep"}, flags...), "--out-dir", k8sDir, "--emit", "k8s", "--mount", root)...)
	var job struct {
		Spec struct {
			Completions int
			Template    struct {
				Spec struct {
					Containers []struct{ Command, Args []string }
				}
			}
		}
	}
	if err := yaml.Unmarshal([]byte(readFile(t, filepath.Join(k8sDir, "sweep-job.yaml"))), &job); err != nil {
		t.Fatal(err)
	}
	c := job.Spec.Template.Spec.Containers[0]
	for i := 0; i < job.Spec.Completions; i++ {
		args := strings.Split(strings.ReplaceAll(strings.Join(c.Args, "\x00"), "$(SWEEP_INDEX)", strconv.Itoa(i)), "\x00")
		runOK(t, args...)
	}

	for _, dir := range []string{local, slurmDir, k8sDir} {
		if dir != local {
			runOK(t, "sweep", "collect", dir, "--latency=false")
		}
		for _, f := range []string{sweep.ResultsCSV, sweep.ResultsMarkdown} {
			if got, want := readFile(t, filepath.Join(dir, f)), readFile(t, filepath.Join(local, f)); got != want {
				t.Errorf("%s/%s differs from the local sweep's:\n%s\nlocal:\n%s", dir, f, got, want)
			}
		}
	}
	if !strings.Contains(readFile(t, filepath.Join(local, sweep.ResultsCSV)), "frontier-adapted,target-0.50,0.30") {
		t.Errorf("results.csv lacks the frontier:\n%s", readFile(t, filepath.Join(local, sweep.ResultsCSV)))
	}
	runOK(t, "sweep", "collect", local)
	for _, line := range strings.Split(readFile(t, filepath.Join(local, sweep.ResultsCSV)), "\n")[1:4] {
		f := strings.Split(line, ",")
		if ms, err := strconv.ParseFloat(f[10], 64); err != nil || ms <= 0 {
			t.Errorf("no scoring latency in %q", line)
		}
	}
	runOK(t, "report", local)
	runOK(t, "report", filepath.Join(local, "target-0.50"))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSweepExitCodes: usage errors exit 2, run errors 1 with one line.
func TestSweepExitCodes(t *testing.T) {
	flags := tinySweepArgs(t)
	dir := t.TempDir()
	other := filepath.Join(dir, "other")
	runOK(t, append(append([]string{"sweep"}, flags...), "--out-dir", other, "--emit", "slurm")...)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sweep", "--help"}, 0, "--targets"},
		{[]string{"sweep", "collect", "--help"}, 0, "sweep collect DIR"},
		{[]string{"report", "--help"}, 0, "--out"},
		{[]string{"sweep", "--out-dir", filepath.Join(dir, "none")}, 2, "holds no sweep yet"},
		{append(append([]string{"sweep"}, flags...), "--target", "0.5"), 2, "--targets"},
		{append(append([]string{"sweep"}, flags...), "--targets", "0.4,1.5", "--out-dir", filepath.Join(dir, "a")), 2, "1.5 is not in (0, 1]"},
		{append(append([]string{"sweep"}, flags...), "--frontier-from", "0.6", "--out-dir", filepath.Join(dir, "b")), 2, "frontier_from 0.6"},
		{append(append([]string{"sweep"}, flags...), "--emit", "pbs", "--out-dir", filepath.Join(dir, "c")), 2, "want slurm or k8s"},
		{append(append([]string{"sweep"}, flags...), "--steps", "30", "--out-dir", other), 1, "base.steps was 24, now 30"},
		{[]string{"sweep", "--out-dir", other, "--index", "7"}, 1, "jobs 0 to 2"},
		{[]string{"sweep", "collect", other}, 1, "have not finished: index 0 (dense)"},
		{[]string{"sweep", "collect"}, 2, "want one sweep directory"},
		{[]string{"report", filepath.Join(dir, "nothing")}, 1, "neither a sweep"},
		{[]string{"sweep", "frontier", filepath.Join(dir, "nothing"), "--targets", "0.5"}, 1, "neither a finished run"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		all := out.String() + errb.String()
		if code != c.code || !strings.Contains(all, c.want) {
			t.Errorf("%v: exit %d (want %d), output %q (want %q)", c.args, code, c.code, all, c.want)
		}
		if strings.Contains(all, "goroutine ") || strings.Contains(all, "panic:") {
			t.Errorf("%v: stack trace: %q", c.args, all)
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
			if !strings.HasPrefix(l, "blas: ") {
				lines = append(lines, l)
			}
		}
		if c.code == 1 && len(lines) != 1 {
			t.Errorf("%v: run error spans several lines: %q", c.args, errb.String())
		}
	}
}

// TestSweepRatios: a ccs ratio sweep through the emitted Slurm script's
// exec line, its ratio job first (a clear error: job 0 must finish first),
// then job 0 and the ratio job; collect lists the ratio plot. The flags
// that a ratio sweep refuses are usage errors.
func TestSweepRatios(t *testing.T) {
	var flags []string
	for i, all := 0, tinySweepArgs(t); i < len(all); i++ {
		if all[i] == "--targets" {
			i++
			continue
		}
		flags = append(flags, all[i])
	}
	data := flags[slices.Index(flags, "--train")+1]
	flags = append(flags, "--valid", data)
	root := t.TempDir()
	dir := filepath.Join(root, "ccs")
	runOK(t, append(append([]string{"sweep"}, flags...), "--ratios", "0.5", "--coreset", "ccs", "--out-dir", dir, "--emit", "slurm")...)
	script := readFile(t, filepath.Join(dir, "sweep.slurm"))
	if !strings.Contains(script, "#SBATCH --array=0\n") || !strings.Contains(script, "--array=1-1 --dependency=afterok:") {
		t.Fatalf("the script does not run index 0 first:\n%s", script)
	}
	m := regexp.MustCompile(`(?m)^exec (.*)$`).FindStringSubmatch(script)
	index := func(i int) []string {
		return strings.Fields(strings.ReplaceAll(m[1], `"$SLURM_ARRAY_TASK_ID"`, strconv.Itoa(i)))[1:]
	}
	var out, errb bytes.Buffer
	if code := run(index(1), &out, &errb); code != 1 || !strings.Contains(errb.String(), "job 0 must finish first") {
		t.Fatalf("index 1 before index 0: exit %d\n%s", code, errb.String())
	}
	runOK(t, index(0)...)
	runOK(t, index(1)...)
	got := runOK(t, "sweep", "collect", dir, "--latency=false")
	if !strings.Contains(got, sweep.RatioPlot) || !strings.HasPrefix(readFile(t, filepath.Join(dir, sweep.ResultsCSV)), "kind,job,target,ratio,") {
		t.Fatalf("collect: %s\n%s", got, readFile(t, filepath.Join(dir, sweep.ResultsCSV)))
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--ratios", "0.5"}, "--coreset ccs, elfs, random, hardest or easiest"},
		{[]string{"--targets", "0.5", "--coreset", "random"}, "give --ratios"},
		{[]string{"--ratios", "0.5", "--coreset", "random", "--coreset-ratio", "0.3"}, "a sweep takes --ratios"},
		{[]string{"--ratios", "0.5,0.5", "--coreset", "random"}, "0.5 appears twice"},
		{[]string{"--targets", "0.5", "--ratios", "0.5", "--coreset", "random", "--frontier-from", "0.5"}, "no one-run frontier"},
	} {
		var out, errb bytes.Buffer
		args := append(append(append([]string{"sweep"}, flags...), c.args...), "--out-dir", filepath.Join(root, "bad"))
		if code := run(args, &out, &errb); code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, %q (want 2 and %q)", c.args, code, errb.String(), c.want)
		}
	}
}
