package sweep

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

func clusterOpts() ClusterOptions {
	return ClusterOptions{Image: "registry.example/ntkharness:v1", CPU: 4, Memory: "8Gi", Parallelism: 5,
		Retries: 2, PerTask: 5, ResultsPVC: "sweep-results", Namespace: "research", Results: "/shared/results", Time: "2:00:00"}
}

// TestKubernetesManifest parses the emitted YAML back into the typed
// objects (strictly: a field the API does not know fails) and checks them.
func TestKubernetesManifest(t *testing.T) {
	s := mustParse(t, grid3) // 12 cells, so 3 tasks of 5
	var b bytes.Buffer
	if err := s.WriteKubernetes(&b, clusterOpts()); err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(b.String(), "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("%d YAML documents, want a ConfigMap and a Job:\n%s", len(docs), b.String())
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict([]byte(docs[0]), &cm); err != nil {
		t.Fatalf("ConfigMap: %v", err)
	}
	var job batchv1.Job
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &job); err != nil {
		t.Fatalf("Job: %v", err)
	}
	name := "ntkharness-sweep-" + s.Hash()
	if cm.Kind != "ConfigMap" || cm.APIVersion != "v1" || cm.Name != name+"-spec" || cm.Namespace != "research" {
		t.Errorf("ConfigMap %s/%s %s/%s", cm.APIVersion, cm.Kind, cm.Namespace, cm.Name)
	}
	// The pods read the same sweep: same hash.
	if embedded, err := Parse([]byte(cm.Data["sweep.json"])); err != nil || embedded.Hash() != s.Hash() {
		t.Errorf("ConfigMap sweep.json: %v, hash mismatch", err)
	}
	js := job.Spec
	checks := []struct {
		what      string
		got, want any
	}{
		{"apiVersion/kind", job.APIVersion + "/" + job.Kind, "batch/v1/Job"},
		{"name", job.Name, name},
		{"namespace", job.Namespace, "research"},
		{"completionMode", *js.CompletionMode, batchv1.IndexedCompletion},
		{"completions", *js.Completions, int32(3)},
		{"parallelism", *js.Parallelism, int32(3)}, // 5 asked, only 3 tasks
		{"backoffLimitPerIndex", *js.BackoffLimitPerIndex, int32(2)},
		{"restartPolicy", js.Template.Spec.RestartPolicy, corev1.RestartPolicyNever},
		{"failure rules", len(js.PodFailurePolicy.Rules), 2},
		{"rule 0 action", js.PodFailurePolicy.Rules[0].Action, batchv1.PodFailurePolicyActionFailIndex},
		{"rule 0 container", *js.PodFailurePolicy.Rules[0].OnExitCodes.ContainerName, "sweep"},
		{"rule 0 operator", js.PodFailurePolicy.Rules[0].OnExitCodes.Operator, batchv1.PodFailurePolicyOnExitCodesOpIn},
		{"rule 0 codes", js.PodFailurePolicy.Rules[0].OnExitCodes.Values, []int32{2, 3}},
		{"rule 1 action", js.PodFailurePolicy.Rules[1].Action, batchv1.PodFailurePolicyActionIgnore},
		{"rule 1 condition", js.PodFailurePolicy.Rules[1].OnPodConditions[0].Type, corev1.DisruptionTarget},
		{"containers", len(js.Template.Spec.Containers), 1},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	c := js.Template.Spec.Containers[0]
	if c.Name != "sweep" || c.Image != "registry.example/ntkharness:v1" {
		t.Errorf("container %s image %s", c.Name, c.Image)
	}
	if want := []string{"ntkharness", "sweep", "run", "/etc/ntkharness/sweep.json", "--results", "/results", "--per-task", "5", "--workers", "1"}; !reflect.DeepEqual(c.Command, want) {
		t.Errorf("command %q, want %q", c.Command, want)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["OPENBLAS_NUM_THREADS"] != "4" || env["GOMAXPROCS"] != "4" {
		t.Errorf("env %v, want OPENBLAS_NUM_THREADS=4 GOMAXPROCS=4", env)
	}
	for _, rl := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
		if cpu, mem := rl[corev1.ResourceCPU], rl[corev1.ResourceMemory]; cpu.Cmp(resource.MustParse("4")) != 0 || mem.Cmp(resource.MustParse("8Gi")) != 0 {
			t.Errorf("resources cpu %s memory %s, want 4 and 8Gi", cpu.String(), mem.String())
		}
	}
	vols := map[string]corev1.Volume{}
	for _, v := range js.Template.Spec.Volumes {
		vols[v.Name] = v
	}
	if v := vols["results"]; v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "sweep-results" {
		t.Errorf("results volume %+v, want claim sweep-results", v)
	}
	if v := vols["spec"]; v.ConfigMap == nil || v.ConfigMap.Name != cm.Name {
		t.Errorf("spec volume %+v, want ConfigMap %s", v, cm.Name)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	if mounts["results"] != "/results" || mounts["spec"] != "/etc/ntkharness" {
		t.Errorf("mounts %v", mounts)
	}
}

func TestClusterOptionErrors(t *testing.T) {
	s := mustParse(t, grid3)
	tests := []struct {
		name   string
		change func(*ClusterOptions)
		want   string
	}{
		{"no image", func(o *ClusterOptions) { o.Image = "" }, "image"},
		{"bad memory", func(o *ClusterOptions) { o.Memory = "eight gigs" }, `memory "eight gigs"`},
		{"zero memory", func(o *ClusterOptions) { o.Memory = "0" }, `memory "0"`},
		{"zero cpu", func(o *ClusterOptions) { o.CPU = 0 }, "cpu 0"},
		{"negative retries", func(o *ClusterOptions) { o.Retries = -1 }, "retries -1"},
		{"negative parallelism", func(o *ClusterOptions) { o.Parallelism = -2 }, "parallelism -2"},
		{"bad name", func(o *ClusterOptions) { o.Name = "My_Sweep" }, `name "My_Sweep"`},
		{"bad claim", func(o *ClusterOptions) { o.ResultsPVC = "" }, "results-pvc"},
	}
	for _, tt := range tests {
		o := clusterOpts()
		tt.change(&o)
		if _, _, err := s.KubernetesJob(o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	// 200000 cells: too many completions unless tasks hold 2 cells or more.
	huge := mustParse(t, `{"spec": {"arch": "fcn", "act": "erf", "depth": 1, "sw2": 1, "sb2": 0}, "kinds": ["synthetic"],
		"grid": {"sw2": {"from": 1, "to": 2, "steps": 1000}, "sb2": {"from": 0, "to": 1, "steps": 200}}}`)
	o := clusterOpts()
	o.PerTask = 1
	if _, _, err := huge.KubernetesJob(o); err == nil || !strings.Contains(err.Error(), "use a per-task of at least 2") {
		t.Errorf("200000 completions: %v", err)
	}
	o.PerTask = 2
	if _, job, err := huge.KubernetesJob(o); err != nil || *job.Spec.Completions != 100000 {
		t.Errorf("200000 cells in tasks of 2: %v", err)
	}
	slurm := []struct {
		name   string
		change func(*ClusterOptions)
		want   string
	}{
		{"bad time", func(o *ClusterOptions) { o.Time = "two hours" }, `time "two hours"`},
		{"no results", func(o *ClusterOptions) { o.Results = "" }, "results"},
		{"per-task", func(o *ClusterOptions) { o.PerTask = -1 }, "per-task -1"},
	}
	for _, tt := range slurm {
		o := clusterOpts()
		tt.change(&o)
		if _, err := s.SlurmScript(o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("slurm %s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestSlurmScript checks the #SBATCH header, that bash accepts the script,
// that the embedded sweep has the same hash, and runs the script with a
// stand-in binary to check the retry logic on exit statuses.
func TestSlurmScript(t *testing.T) {
	s := mustParse(t, grid3)
	o := clusterOpts()
	script, err := s.SlurmScript(o)
	if err != nil {
		t.Fatal(err)
	}
	head := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^#SBATCH --([a-z-]+)=(.*)$`).FindAllStringSubmatch(script, -1) {
		head[m[1]] = m[2]
	}
	want := map[string]string{
		"job-name": "ntkharness-sweep-" + s.Hash(), "array": "0-2%5", "cpus-per-task": "4",
		"mem": "8192M", "time": "2:00:00", "output": "ntkharness-sweep-" + s.Hash() + "-%A_%a.out",
	}
	if !reflect.DeepEqual(head, want) {
		t.Errorf("#SBATCH lines %v, want %v", head, want)
	}
	body := script[strings.Index(script, "<<'NTKHARNESS_SWEEP_EOF'\n")+len("<<'NTKHARNESS_SWEEP_EOF'\n"):]
	body = body[:strings.Index(body, "NTKHARNESS_SWEEP_EOF\n")]
	if e, err := Parse([]byte(body)); err != nil || e.Hash() != s.Hash() {
		t.Errorf("embedded sweep: %v (hash mismatch)", err)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash to run the script")
	}
	dir := t.TempDir()
	// A stand-in binary: records its arguments and task, exits with the
	// statuses listed in its STATUSES file, one per call.
	fake := filepath.Join(dir, "fake")
	os.WriteFile(fake, []byte(`#!/bin/bash
echo "task=$SLURM_ARRAY_TASK_ID threads=$OPENBLAS_NUM_THREADS $*" >> "$CALLS"
test -s "$3" || exit 99
st=$(head -n1 "$STATUSES"); sed -i 1d "$STATUSES"; exit "$st"
`), 0o755)
	o.Binary = fake
	o.Retries = 2
	script, err = s.SlurmScript(o)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "job.sh")
	os.WriteFile(path, []byte(strings.ReplaceAll(script, "sleep $((attempt * 30))", "true")), 0o755)
	tests := []struct {
		statuses string
		exit     int
		calls    int
	}{
		{"0\n", 0, 1},          // done
		{"1\n1\n0\n", 0, 3},    // two transient failures, then done
		{"1\n1\n1\n1\n", 1, 3}, // retries exhausted: 1 + 2 retries
		{"3\n0\n", 3, 1},       // permanent: no retry
		{"2\n0\n", 2, 1},       // usage: no retry
	}
	for _, tt := range tests {
		calls := filepath.Join(dir, "calls")
		statuses := filepath.Join(dir, "statuses")
		os.Remove(calls)
		os.WriteFile(statuses, []byte(tt.statuses), 0o644)
		cmd := exec.Command(bash, path)
		cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID=2", "SLURM_CPUS_PER_TASK=4", "CALLS="+calls, "STATUSES="+statuses, "TMPDIR="+dir)
		out, err := cmd.CombinedOutput()
		if st := exitStatus(err); st != tt.exit {
			t.Errorf("statuses %q: exit %d, want %d (%s)", tt.statuses, st, tt.exit, out)
		}
		log, _ := os.ReadFile(calls)
		lines := strings.Split(strings.TrimSpace(string(log)), "\n")
		if len(lines) != tt.calls {
			t.Errorf("statuses %q: %d calls, want %d:\n%s", tt.statuses, len(lines), tt.calls, log)
		}
		if !strings.HasPrefix(lines[0], "task=2 threads=4 sweep run ") || !strings.Contains(lines[0], "--results /shared/results --per-task 5") {
			t.Errorf("call %q", lines[0])
		}
	}
	// The temporary copy of the sweep file is removed.
	if m, _ := filepath.Glob(filepath.Join(dir, "ntkharness-sweep-*")); len(m) != 0 {
		t.Errorf("temporary sweep files left: %v", m)
	}
}
