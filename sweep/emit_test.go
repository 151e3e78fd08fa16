package sweep

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestEmitSlurm: the array script is valid bash, covers every job once,
// throttles to the parallelism asked for, and refuses to run outside an
// array task.
func TestEmitSlurm(t *testing.T) {
	p := tinyPlan(t)
	dir := filepath.Join(t.TempDir(), "my sweep")
	var b bytes.Buffer
	must(t, Emit(&b, "slurm", dir, p, EmitOptions{Parallel: 2, CPUs: 4}))
	script := b.String()
	for _, s := range []string{"#SBATCH --array=0-2%2", "#SBATCH --cpus-per-task=4", "exec sparsetune sweep --out-dir '" + dir + "' --index \"$SLURM_ARRAY_TASK_ID\""} {
		if !strings.Contains(script, s) {
			t.Errorf("script lacks %q:\n%s", s, script)
		}
	}
	path := filepath.Join(t.TempDir(), "sweep.slurm")
	must(t, os.WriteFile(path, b.Bytes(), 0o755))
	if out, err := exec.Command("bash", "-n", path).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	cmd := exec.Command("bash", path)
	cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID=")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "SLURM_ARRAY_TASK_ID") {
		t.Fatalf("the script ran without an array index: %v\n%s", err, out)
	}
}

// k8sJob is the part of a batch/v1 Job the sweep relies on.
type k8sJob struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct{ Name string }
	Spec       struct {
		CompletionMode string `yaml:"completionMode"`
		Completions    int    `yaml:"completions"`
		Parallelism    int    `yaml:"parallelism"`
		Template       struct {
			Spec struct {
				RestartPolicy string `yaml:"restartPolicy"`
				Containers    []struct {
					Image   string
					Command []string
					Args    []string
					Env     []struct {
						Name      string
						Value     string
						ValueFrom *struct {
							FieldRef struct {
								FieldPath string `yaml:"fieldPath"`
							} `yaml:"fieldRef"`
						} `yaml:"valueFrom"`
					}
					VolumeMounts []struct {
						Name      string
						MountPath string `yaml:"mountPath"`
					} `yaml:"volumeMounts"`
				}
				Volumes []struct {
					Name                  string
					PersistentVolumeClaim struct {
						ClaimName string `yaml:"claimName"`
					} `yaml:"persistentVolumeClaim"`
				}
			}
		}
	}
}

// TestEmitK8s: the manifest is YAML of a batch/v1 Indexed Job with one
// completion per job, whose container runs the sweep's index from the
// completion-index annotation, on the claim mounted over the sweep.
func TestEmitK8s(t *testing.T) {
	p := tinyPlan(t)
	dir := "/data/sweeps/spam"
	var b bytes.Buffer
	must(t, Emit(&b, "k8s", dir, p, EmitOptions{Parallel: 2, Image: "registry.example/sparsetune:v1", Claim: "work"}))
	var job k8sJob
	if err := yaml.Unmarshal(b.Bytes(), &job); err != nil {
		t.Fatalf("manifest is not YAML: %v\n%s", err, b.String())
	}
	s := job.Spec
	if job.APIVersion != "batch/v1" || job.Kind != "Job" || s.CompletionMode != "Indexed" || s.Completions != 3 || s.Parallelism != 2 {
		t.Fatalf("job %+v", job)
	}
	pod := s.Template.Spec
	if len(pod.Containers) != 1 || pod.RestartPolicy != "OnFailure" {
		t.Fatalf("pod %+v", pod)
	}
	c := pod.Containers[0]
	if got := strings.Join(append(c.Command, c.Args...), " "); got != "sparsetune sweep --out-dir /data/sweeps/spam --index $(SWEEP_INDEX)" {
		t.Fatalf("container runs %q", got)
	}
	if c.Env[0].Name != "SWEEP_INDEX" || c.Env[0].ValueFrom == nil || c.Env[0].ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
		t.Fatalf("env %+v", c.Env)
	}
	if c.Image != "registry.example/sparsetune:v1" || c.VolumeMounts[0].MountPath != "/data" || pod.Volumes[0].PersistentVolumeClaim.ClaimName != "work" {
		t.Fatalf("image %s, mounts %+v, volumes %+v", c.Image, c.VolumeMounts, pod.Volumes)
	}
}

// TestEmitErrors: what a scheduler could not run is refused.
func TestEmitErrors(t *testing.T) {
	p := tinyPlan(t)
	for name, tc := range map[string]struct {
		kind, dir string
		o         EmitOptions
		want      string
	}{
		"relative dir":      {"slurm", "runs/sweep", EmitOptions{}, "absolute path"},
		"unknown scheduler": {"pbs", "/data/s", EmitOptions{}, "want slurm or k8s"},
		"bad job name":      {"k8s", "/data/s", EmitOptions{Name: "My_Sweep"}, "not a Kubernetes name"},
		"outside the mount": {"k8s", "/data/s", EmitOptions{Mount: "/scratch"}, "not under the volume mount"},
	} {
		err := Emit(&bytes.Buffer{}, tc.kind, tc.dir, p, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error mentioning %q", name, err, tc.want)
		}
	}
}
