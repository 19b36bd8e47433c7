package sweep

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Paths inside a worker pod.
const (
	PodSpecDir    = "/etc/ntkharness"
	PodSpecFile   = PodSpecDir + "/sweep.json"
	PodResultsDir = "/results"
	// ContainerName is the worker container, named by the pod failure policy.
	ContainerName = "sweep"
)

// ClusterOptions sizes the workers of a cluster job.
type ClusterOptions struct {
	Name        string // job name; default "ntkharness-sweep-<hash>"
	Namespace   string // Kubernetes namespace; empty means the current one
	Image       string // container image holding the ntkharness binary (Kubernetes)
	Binary      string // path of the binary in the image or on the nodes; default "ntkharness"
	CPU         int    // cores per worker; also OPENBLAS_NUM_THREADS and GOMAXPROCS
	Memory      string // memory per worker, a quantity such as "8Gi"
	Parallelism int    // workers running at once; 0 means no limit (Slurm) or all (Kubernetes)
	Retries     int    // retries of a task after a transient failure
	PerTask     int    // cells per task (array element / completion index); default 1
	ResultsPVC  string // Kubernetes: ReadWriteMany claim mounted at /results
	Results     string // Slurm: results root on the shared file system
	Time        string // Slurm: wall-clock limit per task, e.g. "4:00:00"
	Partition   string // Slurm: partition, optional
}

var (
	dnsLabel  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	slurmTime = regexp.MustCompile(`^(\d+-)?\d+(:\d{1,2}){0,2}$`)
)

func (o *ClusterOptions) check(s *Sweep) (resource.Quantity, error) {
	if o.Name == "" {
		o.Name = "ntkharness-sweep-" + s.hash
	}
	if len(o.Name) > 52 || !dnsLabel.MatchString(o.Name) {
		return resource.Quantity{}, fmt.Errorf("name %q: want at most 52 lower-case letters, digits and '-', starting and ending with a letter or digit", o.Name)
	}
	if o.Binary == "" {
		o.Binary = "ntkharness"
	}
	if o.PerTask == 0 {
		o.PerTask = 1
	}
	switch {
	case o.CPU < 1:
		return resource.Quantity{}, fmt.Errorf("cpu %d: must be at least 1", o.CPU)
	case o.Parallelism < 0:
		return resource.Quantity{}, fmt.Errorf("parallelism %d: must not be negative", o.Parallelism)
	case o.Retries < 0:
		return resource.Quantity{}, fmt.Errorf("retries %d: must not be negative", o.Retries)
	case o.PerTask < 1:
		return resource.Quantity{}, fmt.Errorf("per-task %d: must be at least 1", o.PerTask)
	}
	mem, err := resource.ParseQuantity(o.Memory)
	if err != nil || mem.Sign() <= 0 {
		return resource.Quantity{}, fmt.Errorf("memory %q: want a positive quantity such as 8Gi or 512Mi", o.Memory)
	}
	return mem, nil
}

// KubernetesJob returns a ConfigMap holding the canonical sweep file and an
// Indexed Job with one completion per task (Tasks(PerTask) completions). Each
// pod runs `ntkharness sweep run /etc/ntkharness/sweep.json --results
// /results --per-task K`, picks its task from JOB_COMPLETION_INDEX, and
// writes its cells to the shared claim ResultsPVC mounted at /results.
// A transient failure (exit 1) is retried up to Retries times per index
// (backoffLimitPerIndex); exit 2 (usage) and 3 (a cell failed permanently)
// fail the index at once (podFailurePolicy FailIndex); pods evicted or
// preempted (DisruptionTarget) are retried without counting.
func (s *Sweep) KubernetesJob(o ClusterOptions) (*corev1.ConfigMap, *batchv1.Job, error) {
	mem, err := o.check(s)
	if err != nil {
		return nil, nil, err
	}
	if o.Image == "" {
		return nil, nil, fmt.Errorf("image: give the container image that holds %s", o.Binary)
	}
	if o.ResultsPVC == "" || !dnsLabel.MatchString(o.ResultsPVC) {
		return nil, nil, fmt.Errorf("results-pvc %q: give the name of a ReadWriteMany PersistentVolumeClaim for the results", o.ResultsPVC)
	}
	if s.Tasks(o.PerTask) > MaxIndexedCompletions {
		return nil, nil, fmt.Errorf("%d tasks exceed the %d completions an Indexed Job may have: use a per-task of at least %d",
			s.Tasks(o.PerTask), MaxIndexedCompletions, (s.n+MaxIndexedCompletions-1)/MaxIndexedCompletions)
	}
	if len(s.canonical) > MaxConfigMapBytes {
		return nil, nil, fmt.Errorf("the sweep file is %d bytes in canonical form, more than a ConfigMap holds (%d)", len(s.canonical), MaxConfigMapBytes)
	}
	tasks := int32(s.Tasks(o.PerTask))
	labels := map[string]string{
		"app.kubernetes.io/name":      "ntkharness",
		"app.kubernetes.io/component": "sweep",
		"ntkharness/sweep":            s.hash,
	}
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name + "-spec", Namespace: o.Namespace, Labels: labels},
		Data:       map[string]string{"sweep.json": string(s.canonical)},
	}
	cpu := resource.MustParse(strconv.Itoa(o.CPU))
	res := corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem}
	parallelism := int32(o.Parallelism)
	if parallelism == 0 || parallelism > tasks {
		parallelism = tasks
	}
	threads := strconv.Itoa(o.CPU)
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: labels},
		Spec: batchv1.JobSpec{
			CompletionMode:       ptr(batchv1.IndexedCompletion),
			Completions:          ptr(tasks),
			Parallelism:          ptr(parallelism),
			BackoffLimitPerIndex: ptr(int32(o.Retries)),
			PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
				{
					Action: batchv1.PodFailurePolicyActionFailIndex,
					OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
						ContainerName: ptr(ContainerName),
						Operator:      batchv1.PodFailurePolicyOnExitCodesOpIn,
						Values:        []int32{ExitUsage, ExitPermanent},
					},
				},
				{
					Action: batchv1.PodFailurePolicyActionIgnore,
					OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{
						{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue},
					},
				},
			}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{
						Name:  ContainerName,
						Image: o.Image,
						Command: []string{o.Binary, "sweep", "run", PodSpecFile,
							"--results", PodResultsDir, "--per-task", strconv.Itoa(o.PerTask), "--workers", "1"},
						Env: []corev1.EnvVar{
							{Name: "OPENBLAS_NUM_THREADS", Value: threads},
							{Name: "GOMAXPROCS", Value: threads},
						},
						Resources: corev1.ResourceRequirements{Requests: res, Limits: res},
						VolumeMounts: []corev1.VolumeMount{
							{Name: "results", MountPath: PodResultsDir},
							{Name: "spec", MountPath: PodSpecDir, ReadOnly: true},
						},
					}},
					Volumes: []corev1.Volume{
						{Name: "results", VolumeSource: corev1.VolumeSource{
							PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: o.ResultsPVC},
						}},
						{Name: "spec", VolumeSource: corev1.VolumeSource{
							ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm.Name}},
						}},
					},
				},
			},
		},
	}
	return cm, job, nil
}

// WriteKubernetes writes the ConfigMap and the Job of KubernetesJob as one
// multi-document YAML file, ready for kubectl apply -f.
func (s *Sweep) WriteKubernetes(w io.Writer, o ClusterOptions) error {
	cm, job, err := s.KubernetesJob(o)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Sweep %s (%s): %d cells in %d tasks of %d.\n", s.displayName(), s.hash, s.n, *job.Spec.Completions, o.PerTask)
	fmt.Fprintf(&b, "# Submit: kubectl apply -f FILE. Results: claim %s, folder %s/ on it.\n", o.ResultsPVC, s.hash)
	for i, obj := range []any{cm, job} {
		y, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	_, err = w.Write(b.Bytes())
	return err
}

// SlurmScript returns an sbatch script running the sweep as a job array of
// Tasks(PerTask) elements; each element runs `ntkharness sweep run` on a copy
// of the canonical sweep file (embedded in the script), picks its task from
// SLURM_ARRAY_TASK_ID and writes to Results on the shared file system. The
// script retries exit status 1 (transient) up to Retries times and passes
// any other status on.
func (s *Sweep) SlurmScript(o ClusterOptions) (string, error) {
	mem, err := o.check(s)
	if err != nil {
		return "", err
	}
	if o.Results == "" {
		return "", fmt.Errorf("results: give the results folder on the file system shared by the nodes")
	}
	if o.Time == "" || !slurmTime.MatchString(o.Time) {
		return "", fmt.Errorf("time %q: want a Slurm time limit such as 30, 4:00:00 or 1-12:00:00", o.Time)
	}
	tasks := s.Tasks(o.PerTask)
	array := fmt.Sprintf("0-%d", tasks-1)
	if o.Parallelism > 0 {
		array += fmt.Sprintf("%%%d", o.Parallelism)
	}
	memMiB := (mem.Value() + 1<<20 - 1) >> 20
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/bash\n")
	fmt.Fprintf(&b, "# Sweep %s (%s): %d cells in %d tasks of %d.\n", s.displayName(), s.hash, s.n, tasks, o.PerTask)
	fmt.Fprintf(&b, "# Submit: sbatch THIS_FILE. Gather: ntkharness sweep gather SPEC --results %s\n", shellQuote(o.Results))
	fmt.Fprintf(&b, "#SBATCH --job-name=%s\n", o.Name)
	fmt.Fprintf(&b, "#SBATCH --array=%s\n", array)
	fmt.Fprintf(&b, "#SBATCH --cpus-per-task=%d\n", o.CPU)
	fmt.Fprintf(&b, "#SBATCH --mem=%dM\n", memMiB)
	fmt.Fprintf(&b, "#SBATCH --time=%s\n", o.Time)
	fmt.Fprintf(&b, "#SBATCH --output=%s-%%A_%%a.out\n", o.Name)
	if o.Partition != "" {
		fmt.Fprintf(&b, "#SBATCH --partition=%s\n", o.Partition)
	}
	fmt.Fprintf(&b, "set -u\n")
	fmt.Fprintf(&b, "export OPENBLAS_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-%d}\"\n", o.CPU)
	fmt.Fprintf(&b, "export GOMAXPROCS=\"$OPENBLAS_NUM_THREADS\"\n")
	fmt.Fprintf(&b, "spec=$(mktemp \"${TMPDIR:-/tmp}/ntkharness-sweep-XXXXXX\") || exit 1\n")
	fmt.Fprintf(&b, "trap 'rm -f \"$spec\"' EXIT\n")
	fmt.Fprintf(&b, "cat >\"$spec\" <<'NTKHARNESS_SWEEP_EOF'\n%sNTKHARNESS_SWEEP_EOF\n", s.canonical)
	fmt.Fprintf(&b, "# Exit 1 is transient and retried; 2 (usage) and 3 (a cell failed, see its file) are final.\n")
	fmt.Fprintf(&b, "for attempt in $(seq 0 %d); do\n", o.Retries)
	fmt.Fprintf(&b, "  [ \"$attempt\" -gt 0 ] && sleep $((attempt * 30))\n")
	fmt.Fprintf(&b, "  %s sweep run \"$spec\" --results %s --per-task %d --workers 1\n", shellQuote(o.Binary), shellQuote(o.Results), o.PerTask)
	fmt.Fprintf(&b, "  status=$?\n")
	fmt.Fprintf(&b, "  [ \"$status\" -ne %d ] && exit \"$status\"\n", ExitTransient)
	fmt.Fprintf(&b, "done\n")
	fmt.Fprintf(&b, "exit %d\n", ExitTransient)
	return b.String(), nil
}

// Kubernetes limits: completions of an Indexed Job, bytes of a ConfigMap.
const (
	MaxIndexedCompletions = 100_000
	MaxConfigMapBytes     = 1 << 20
)

// SlurmMaxArray is Slurm's default MaxArraySize: array indices must stay
// below it unless the cluster raised the limit.
const SlurmMaxArray = 1001

func (s *Sweep) displayName() string {
	if s.Name == "" {
		return "(unnamed)"
	}
	return s.Name
}

// shellQuote quotes v for a POSIX shell.
func shellQuote(v string) string {
	if v != "" && regexp.MustCompile(`^[A-Za-z0-9_./:=@%+-]+$`).MatchString(v) {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

func ptr[T any](v T) *T { return &v }
