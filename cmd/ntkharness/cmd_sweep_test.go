package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ntkharness/ntkharness/experiments/sweep"
	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"
)

const cliSweep = `{
  "name": "cli",
  "spec": {"arch": "fcn", "act": "erf", "depth": 1, "sw2": 1, "sb2": 0.05},
  "grid": {"sw2": [0.5, 1.0, 1.5], "depth": [1, 3]},
  "kinds": ["synthetic"],
  "settings": {"synthetic": {"diverge": [4]}}
}`

// writeSweep writes src as a sweep file and returns its path.
func writeSweep(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sweep.json")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// clearIndexEnv hides the cluster task variables of the environment the
// tests themselves may run in.
func clearIndexEnv(t *testing.T) {
	for _, name := range sweep.IndexEnv {
		t.Setenv(name, "")
	}
}

func TestSweepUsageErrors(t *testing.T) {
	clearIndexEnv(t)
	spec := writeSweep(t, cliSweep)
	bad := writeSweep(t, `{"spec": {"arch": "fcn"}, "kinds": []}`)
	res := t.TempDir()
	tests := []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"sweep", "plan"}, 2, "want exactly one sweep file, got 0"},
		{[]string{"sweep", "plan", spec, spec}, 2, "got 2 arguments"},
		{[]string{"sweep", "plan", spec, "--limit", "-1"}, 2, "--limit -1"},
		{[]string{"sweep", "plan", bad}, 2, "no kinds"},
		{[]string{"sweep", "plan", "/no/such/sweep.json"}, 2, "/no/such/sweep.json"},
		{[]string{"sweep", "run", spec, "--results", res, "--cell", "6"}, 2, "--cell 6: the sweep has 6 cells"},
		{[]string{"sweep", "run", spec, "--results", res, "--cell", "-4"}, 2, "--cell -4"},
		{[]string{"sweep", "run", spec, "--results", res, "--cell", "1", "--shard", "0/2"}, 2, "not both"},
		{[]string{"sweep", "run", spec, "--results", res, "--shard", "2/2"}, 2, `shard "2/2"`},
		{[]string{"sweep", "run", spec, "--results", res, "--workers", "0"}, 2, "--workers 0"},
		{[]string{"sweep", "run", spec, "--results", res, "--per-task", "0"}, 2, "--per-task 0"},
		{[]string{"sweep", "run", spec, "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"sweep", "emit"}, 2, "name a target"},
		{[]string{"sweep", "emit", "nomad", spec}, 2, `unknown target "nomad"`},
		{[]string{"sweep", "emit", "k8s", spec, "--memory", "lots"}, 2, `memory "lots"`},
		{[]string{"sweep", "emit", "k8s", spec, "--cpu", "0"}, 2, "cpu 0"},
		{[]string{"sweep", "emit", "slurm", spec, "--time", "forever"}, 2, `time "forever"`},
		{[]string{"sweep", "gather", spec, "--results", filepath.Join(res, "absent")}, 1, "results folder"},
		{[]string{"sweep", "run", "--help"}, 0, ""},
		{[]string{"sweep", "emit", "--help"}, 0, ""},
	}
	for _, tt := range tests {
		_, stderr, status := runCLI(t, tt.args...)
		if status != tt.status || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("%v: status %d stderr %q, want %d and %q", tt.args, status, stderr, tt.status, tt.stderr)
		}
		if strings.Count(strings.TrimSpace(stderr), "\n") > 0 && status != 0 {
			t.Errorf("%v: error is not one line: %q", tt.args, stderr)
		}
	}
	t.Setenv("JOB_COMPLETION_INDEX", "six")
	if _, stderr, status := runCLI(t, "sweep", "run", spec, "--results", res); status != 2 || !strings.Contains(stderr, `JOB_COMPLETION_INDEX="six"`) {
		t.Errorf("bad index variable: status %d %q", status, stderr)
	}
}

// TestSweepGatherEmpty gathers a sweep that has not started: every cell is
// listed as missing.
func TestSweepGatherEmpty(t *testing.T) {
	spec := writeSweep(t, cliSweep)
	res := t.TempDir()
	stdout, stderr, status := runCLI(t, "sweep", "gather", spec, "--results", res, "--csv", "-")
	if status != 0 || !strings.Contains(stderr, "6 cells: 0 ok, 0 diverged, 0 failed, 6 missing") {
		t.Fatalf("status %d %q", status, stderr)
	}
	if n := strings.Count(stdout, ",missing,no result file,"); n != 6 {
		t.Errorf("%d missing rows in the CSV, want 6:\n%s", n, stdout)
	}
	s, _ := sweep.Load(spec)
	if _, err := os.Stat(filepath.Join(s.Dir(res), "table.json")); err != nil {
		t.Errorf("default JSON table: %v", err)
	}
}

func TestSweepPlan(t *testing.T) {
	spec := writeSweep(t, cliSweep)
	s, err := sweep.Load(spec)
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, status := runCLI(t, "sweep", "plan", spec, "--limit", "2", "--results", t.TempDir())
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	for _, want := range []string{
		"sweep cli (hash " + s.Hash() + "): 6 cells = depth 2 x sw2 3",
		"kinds: synthetic",
		"(not started)",
		"       0  depth=1 sw2=0.5\n       1  depth=1 sw2=1\n",
		"(4 more; --limit 0 lists all)",
		"peak memory 1.0 MiB per cell",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, stdout)
		}
	}
	unknown := writeSweep(t, strings.Replace(cliSweep, `"kinds": ["synthetic"]`, `"kinds": ["no-such-kind"]`, 1))
	// An unknown kind is a mistake in the file, reported before planning.
	_, stderr, status = runCLI(t, "sweep", "plan", unknown)
	if status != 2 || !strings.Contains(stderr, `unknown kind "no-such-kind"`) {
		t.Errorf("plan with an unknown kind: status %d, stderr %q", status, stderr)
	}
}

// TestSweepRunGather runs a sweep in two shards, gathers it, and checks the
// CSV against the closed form of the synthetic kind.
func TestSweepRunGather(t *testing.T) {
	clearIndexEnv(t)
	spec := writeSweep(t, cliSweep)
	res := t.TempDir()
	for _, shard := range []string{"0/2", "1/2"} {
		if _, stderr, status := runCLI(t, "sweep", "run", spec, "--results", res, "--shard", shard, "--quiet"); status != 0 {
			t.Fatalf("shard %s: status %d: %s", shard, status, stderr)
		}
	}
	stdout, _, status := runCLI(t, "sweep", "run", spec, "--results", res, "--quiet")
	if status != 0 || !strings.Contains(stdout, "6 cells: 0 computed, 6 already done; 5 ok, 1 diverged, 0 failed") {
		t.Errorf("rerun: status %d %q", status, stdout)
	}
	out := t.TempDir()
	csvPath, jsonPath := filepath.Join(out, "t.csv"), filepath.Join(out, "t.json")
	_, stderr, status := runCLI(t, "sweep", "gather", spec, "--results", res, "--csv", csvPath, "--json", jsonPath)
	if status != 0 || !strings.Contains(stderr, "6 cells: 5 ok, 1 diverged, 0 failed, 0 missing") {
		t.Fatalf("gather: status %d %q", status, stderr)
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	wantHead := []string{"index", "depth", "sw2", "status", "reason", "seconds", "synthetic.loss", "synthetic.noise", "synthetic.value"}
	if !reflect.DeepEqual(recs[0], wantHead) || len(recs) != 7 {
		t.Fatalf("CSV header %v and %d rows, want %v and 6 rows", recs[0], len(recs)-1, wantHead)
	}
	for _, r := range recs[1:] {
		depth, _ := strconv.ParseFloat(r[1], 64)
		sw2, _ := strconv.ParseFloat(r[2], 64)
		value, _ := strconv.ParseFloat(r[8], 64)
		if value != sw2*depth+0.05 {
			t.Errorf("row %v: value %v, want sw2*depth+sb2 = %v", r, value, sw2*depth+0.05)
		}
		if wantDiverged := r[0] == "4"; wantDiverged != (r[3] == "diverged") || wantDiverged != (r[6] == "+Inf") {
			t.Errorf("row %v: status %s loss %q", r, r[3], r[6])
		}
	}
	jf, err := os.Open(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	defer jf.Close()
	if tab, err := sweep.ReadTable(jf); err != nil || len(tab.Rows) != 6 || tab.Rows[0].Arrays["synthetic.powers"].Data[0] != 1 {
		t.Errorf("JSON table: %v", err)
	}
}

// TestSweepRunPermanent checks in-process that a failed cell ends the
// command with status 3 and one error line.
func TestSweepRunPermanent(t *testing.T) {
	clearIndexEnv(t)
	spec := writeSweep(t, strings.Replace(cliSweep, `"diverge": [4]`, `"fail": [2]`, 1))
	_, stderr, code := runCLI(t, "sweep", "run", spec, "--results", t.TempDir(), "--quiet")
	if code != sweep.ExitPermanent || !strings.Contains(stderr, "1 cells failed permanently") {
		t.Errorf("exit %d, stderr %q; want 3 and the failure", code, stderr)
	}
}

func TestSweepEmit(t *testing.T) {
	spec := writeSweep(t, cliSweep)
	out := filepath.Join(t.TempDir(), "job.yaml")
	if _, stderr, status := runCLI(t, "sweep", "emit", "k8s", spec, "--image", "img:1", "--cpu", "3", "--parallelism", "2", "--results-pvc", "nfs-results", "-o", out); status != 0 {
		t.Fatalf("emit k8s: %d %s", status, stderr)
	}
	b, _ := os.ReadFile(out)
	docs := strings.Split(string(b), "\n---\n")
	var job batchv1.Job
	if len(docs) != 2 || yaml.UnmarshalStrict([]byte(docs[1]), &job) != nil {
		t.Fatalf("emitted YAML does not hold a Job:\n%s", b)
	}
	if *job.Spec.Completions != 6 || *job.Spec.Parallelism != 2 || job.Spec.Template.Spec.Containers[0].Image != "img:1" ||
		job.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "nfs-results" {
		t.Errorf("job spec %+v", job.Spec)
	}
	mem := job.Spec.Template.Spec.Containers[0].Resources.Limits.Memory()
	if mem.String() != "4Gi" {
		t.Errorf("default memory %s, want 4Gi", mem)
	}
	// A big grid warns about Slurm's array size limit and suggests --per-task.
	big := writeSweep(t, strings.Replace(cliSweep, `"depth": [1, 3]`, `"depth": {"from": 1, "to": 1000, "steps": 1000}`, 1))
	stdout, stderr, status := runCLI(t, "sweep", "emit", "slurm", big, "--results", "/shared/r")
	if status != 0 || !strings.Contains(stderr, "3000 array elements exceed") || !strings.Contains(stderr, "--per-task 3") {
		t.Errorf("emit slurm big: %d %q", status, stderr)
	}
	if !strings.Contains(stdout, "#SBATCH --array=0-2999\n") || !strings.Contains(stdout, "--results /shared/r") {
		t.Errorf("emit slurm:\n%s", stdout)
	}
}

// TestSweepCLIProcess is the CLI in a child process (os/exec helper-process
// pattern): it runs only when NTKHARNESS_SWEEP_CLI=1.
func TestSweepCLIProcess(t *testing.T) {
	if os.Getenv("NTKHARNESS_SWEEP_CLI") != "1" {
		return
	}
	args := os.Args
	for len(args) > 0 && args[0] != "--" {
		args = args[1:]
	}
	os.Exit(run(args[1:]))
}

func cliProcess(t *testing.T, env []string, args ...string) (status int, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestSweepCLIProcess$", "--"}, args...)...)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name != "JOB_COMPLETION_INDEX" && name != "SLURM_ARRAY_TASK_ID" && name != "AWS_BATCH_JOB_ARRAY_INDEX" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "NTKHARNESS_SWEEP_CLI=1")
	cmd.Env = append(cmd.Env, env...)
	var eb bytes.Buffer
	cmd.Stderr = &eb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), eb.String()
	case err != nil:
		t.Fatal(err)
	}
	return 0, eb.String()
}

// TestSweepWorkers starts `ntkharness sweep run` once per index with
// JOB_COMPLETION_INDEX set, as a Kubernetes Indexed Job does, and compares
// the gathered table with a local run's; it also checks the exit statuses
// the job's podFailurePolicy acts on.
func TestSweepWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	spec := writeSweep(t, cliSweep)
	s, _ := sweep.Load(spec)
	local, cluster := t.TempDir(), t.TempDir()
	if st, stderr := cliProcess(t, nil, "sweep", "run", spec, "--results", local, "--workers", "2"); st != 0 {
		t.Fatalf("local run: %d %s", st, stderr)
	}
	for i := range s.Len() {
		st, stderr := cliProcess(t, []string{"JOB_COMPLETION_INDEX=" + strconv.Itoa(i)}, "sweep", "run", spec, "--results", cluster)
		if st != 0 || !strings.Contains(stderr, "task "+strconv.Itoa(i)+" from JOB_COMPLETION_INDEX (1 cells)") {
			t.Errorf("index %d: status %d %s", i, st, stderr)
		}
	}
	a, err := sweep.Gather(s, local)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sweep.Gather(s, cluster)
	if err != nil {
		t.Fatal(err)
	}
	var ja, jb bytes.Buffer
	for i := range a.Rows {
		a.Rows[i].Seconds, b.Rows[i].Seconds = 0, 0
	}
	a.WriteJSON(&ja)
	b.WriteJSON(&jb)
	if ja.String() != jb.String() || a.Counts()[sweep.StatusMissing] != 0 {
		t.Errorf("indexed workers and the local run differ:\n%s\n%s", jb.String(), ja.String())
	}
	failing := writeSweep(t, strings.Replace(cliSweep, `"diverge": [4]`, `"fail": [4]`, 1))
	tests := []struct {
		index  string
		status int
	}{
		{"3", sweep.ExitOK},
		{"4", sweep.ExitPermanent},
		{"6", sweep.ExitUsage}, // past the last cell
	}
	for _, tt := range tests {
		st, stderr := cliProcess(t, []string{"JOB_COMPLETION_INDEX=" + tt.index}, "sweep", "run", failing, "--results", t.TempDir())
		if st != tt.status {
			t.Errorf("index %s: status %d, want %d (%s)", tt.index, st, tt.status, stderr)
		}
	}
}

// gatherJSON gathers the sweep under root as JSON without compute times.
func gatherJSON(t *testing.T, s *sweep.Sweep, root string) string {
	t.Helper()
	tab, err := sweep.Gather(s, root)
	if err != nil {
		t.Fatal(err)
	}
	for i := range tab.Rows {
		tab.Rows[i].Seconds = 0
	}
	var b bytes.Buffer
	tab.WriteJSON(&b)
	return b.String()
}

// TestEmittedJobsRun executes what the emitted jobs would: the Kubernetes
// container command (with the mounts mapped to local folders) once per
// completion index, and the Slurm script once per array index, each with
// this test binary standing in for the ntkharness binary. Both must
// reproduce the local run's table.
func TestEmittedJobsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	clearIndexEnv(t)
	spec := writeSweep(t, cliSweep) // 6 cells
	s, _ := sweep.Load(spec)
	local := t.TempDir()
	if st, stderr := cliProcess(t, nil, "sweep", "run", spec, "--results", local); st != 0 {
		t.Fatalf("local run: %d %s", st, stderr)
	}
	want := gatherJSON(t, s, local)

	dir := t.TempDir()
	// The stand-in binary: this test binary in CLI mode.
	bin := filepath.Join(dir, "ntkharness")
	os.WriteFile(bin, []byte("#!/bin/sh\nNTKHARNESS_SWEEP_CLI=1 exec "+os.Args[0]+" -test.run='^TestSweepCLIProcess$' -- \"$@\"\n"), 0o755)

	// Kubernetes: 3 completions of 2 cells.
	yml := filepath.Join(dir, "job.yaml")
	if _, stderr, st := runCLI(t, "sweep", "emit", "k8s", spec, "--per-task", "2", "-o", yml); st != 0 {
		t.Fatalf("emit k8s: %s", stderr)
	}
	b, _ := os.ReadFile(yml)
	docs := strings.Split(string(b), "\n---\n")
	var job batchv1.Job
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &job); err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal([]byte(docs[0]), &cm); err != nil {
		t.Fatal(err)
	}
	mounts := map[string]string{"/etc/ntkharness": filepath.Join(dir, "etc"), "/results": filepath.Join(dir, "pvc")}
	os.MkdirAll(mounts["/etc/ntkharness"], 0o755)
	os.MkdirAll(mounts["/results"], 0o755)
	os.WriteFile(filepath.Join(mounts["/etc/ntkharness"], "sweep.json"), []byte(cm.Data["sweep.json"]), 0o644)
	c := job.Spec.Template.Spec.Containers[0]
	for i := range int(*job.Spec.Completions) {
		var args []string
		for _, a := range c.Command[1:] {
			for from, to := range mounts {
				if a == from || strings.HasPrefix(a, from+"/") {
					a = to + strings.TrimPrefix(a, from)
				}
			}
			args = append(args, a)
		}
		env := []string{"JOB_COMPLETION_INDEX=" + strconv.Itoa(i)}
		for _, e := range c.Env {
			env = append(env, e.Name+"="+e.Value)
		}
		if st, stderr := cliProcess(t, env, args...); st != 0 {
			t.Errorf("pod %d (%q): status %d %s", i, args, st, stderr)
		}
	}
	if got := gatherJSON(t, s, mounts["/results"]); got != want {
		t.Errorf("the Kubernetes job's results differ from the local run:\n%s\n%s", got, want)
	}

	// Slurm: 6 array elements of 1 cell.
	res := filepath.Join(dir, "shared")
	script := filepath.Join(dir, "job.sh")
	if _, stderr, st := runCLI(t, "sweep", "emit", "slurm", spec, "--results", res, "--binary", bin, "-o", script); st != 0 {
		t.Fatalf("emit slurm: %s", stderr)
	}
	for i := range s.Len() {
		cmd := exec.Command(bash, script)
		cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID="+strconv.Itoa(i), "TMPDIR="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("array element %d: %v\n%s", i, err, out)
		}
	}
	if got := gatherJSON(t, s, res); got != want {
		t.Errorf("the Slurm job's results differ from the local run:\n%s\n%s", got, want)
	}
}

// TestSweepUnknownNames: unknown settings keys, grid axes and kinds, and
// settings of the wrong type, are command-line errors (exit 2) of every
// sweep command, found before any cell runs.
func TestSweepUnknownNames(t *testing.T) {
	clearIndexEnv(t)
	const head = `"spec": {"arch": "fcn", "act": "erf", "depth": 1, "sw2": 1, "sb2": 0.05}`
	files := []struct {
		name, src, stderr string
	}{
		{"settings key", `{` + head + `, "kinds": ["theory-gd"], "settings": {"n_trian": 64}}`, `settings key "n_trian"`},
		{"settings key of another kind", `{` + head + `, "kinds": ["theory-gd"], "settings": {"samples": 4}}`, `settings key "samples"`},
		{"misspelt times", `{` + head + `, "kinds": ["train"], "settings": {"tims": [1, 2]}}`, `settings key "tims"`},
		{"grid axis", `{` + head + `, "kinds": ["synthetic"], "grid": {"bogus": [1, 2]}}`, `grid axis "bogus"`},
		{"kind", `{` + head + `, "kinds": ["nosuchkind"]}`, `unknown kind "nosuchkind"`},
		{"nested key", `{` + head + `, "kinds": ["synthetic"], "settings": {"synthetic": {"sleep": 5}}}`, `unknown field "sleep"`},
		{"value type", `{` + head + `, "kinds": ["ntk"], "settings": {"n_train": "many"}}`, "n_train"},
		{"axis value type", `{` + head + `, "kinds": ["ntk"], "grid": {"samples": ["two"]}}`, "grid axis samples value two"},
	}
	for _, f := range files {
		path := writeSweep(t, f.src)
		res := t.TempDir()
		for _, cmd := range [][]string{
			{"sweep", "plan", path},
			{"sweep", "run", path, "--results", res},
			{"sweep", "gather", path, "--results", res},
			{"sweep", "emit", "slurm", path, "--results", res, "-o", filepath.Join(res, "job.sh")},
		} {
			_, stderr, status := runCLI(t, cmd...)
			if status != 2 || !strings.Contains(stderr, f.stderr) {
				t.Errorf("%s: %v: status %d stderr %q, want 2 and %q", f.name, cmd[:2], status, stderr, f.stderr)
			}
		}
		if entries, _ := os.ReadDir(res); len(entries) != 0 {
			t.Errorf("%s: the results folder holds %d entries, want none", f.name, len(entries))
		}
	}
	// Known keys of any of the sweep's kinds, and their axes, are accepted.
	ok := writeSweep(t, `{`+head+`, "kinds": ["ntk", "theory-gd"], "grid": {"samples": [1, 2], "n_train": [8, 16]}, "settings": {"times": [1], "dataset": "mnist", "max_memory_gib": 1}}`)
	if _, stderr, status := runCLI(t, "sweep", "plan", ok); status != 0 {
		t.Errorf("known keys: status %d stderr %q", status, stderr)
	}
}

// TestSweepMemoryBeforeRunning: without max_memory, a cell whose cost model
// needs more than the machine's memory fails (exit 3) before it allocates
// its network, instead of dying out of memory.
func TestSweepMemoryBeforeRunning(t *testing.T) {
	clearIndexEnv(t)
	for _, kind := range []string{"train", "ntk", "dynamics"} {
		path := writeSweep(t, `{"spec": {"arch": "fcn", "act": "erf", "depth": 2, "width": 100000000, "sw2": 1, "sb2": 0.05},
			"kinds": ["`+kind+`"], "settings": {"dataset": "mnist", "n_train": 8, "n_test": 8}}`)
		res := t.TempDir()
		start := time.Now()
		_, stderr, status := runCLI(t, "sweep", "run", path, "--results", res)
		if status != 3 {
			t.Errorf("%s: status %d stderr %q, want 3", kind, status, stderr)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: failed after %v, want before any work", kind, d)
		}
		matches, _ := filepath.Glob(filepath.Join(res, "*", "cells", "*.json"))
		if len(matches) != 1 {
			t.Errorf("%s: no cell result", kind)
			continue
		}
		b, _ := os.ReadFile(matches[0])
		if !strings.Contains(string(b), "memory estimate") {
			t.Errorf("%s: cell result %s, want a memory refusal", kind, b)
		}
	}
}
