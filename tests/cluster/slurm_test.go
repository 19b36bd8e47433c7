// Package cluster tests the cluster path of ntkharness against a real
// scheduler: the Slurm script of `ntkharness sweep emit slurm` submitted with
// sbatch to a running slurmctld. It needs a cluster, so it runs only with
// NTKHARNESS_SLURM=1 (make test-cluster starts a one-node cluster with
// scripts/slurm-local.sh, runs it and stops the cluster); plain `make test`
// skips it.
package cluster

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mainSweep is a theory-gd sweep of 6 cells in 3 array tasks of 2 cells
// (per-task 2): cells 2i and 2i+1 are depth d_i with 64 and 1024 training
// points. The second cell of each task takes seconds, so a task can be
// killed after its first cell and before its second.
const mainSweep = `name: cluster-theory-gd
spec: {arch: fcn, act: erf, depth: 1, sw2: 1.5, sb2: 0.05}
grid:
  depth: [1, 10, 100]
  n_train: [64, 1024]
kinds: [theory-gd]
settings: {dataset: mnist, n_test: 64, times: [1, 64, 4096], converged: true}
`

const mainPerTask = 2

// killTask is the array task killed while it runs, between its two cells.
const killTask = 2

// failSweep has two cells, one array task each: cell 1 has a negative
// weight variance, an invalid spec, so it fails permanently (exit 3).
const failSweep = `name: cluster-permanent-failure
spec: {arch: fcn, act: erf, depth: 1, sw2: 1.5, sb2: 0.05}
grid:
  sw2: [1.5, -1]
kinds: [theory-gd]
settings: {dataset: mnist, n_train: 32, n_test: 32, times: [1, 64]}
`

const failCell = 1

func TestSlurmSweep(t *testing.T) {
	if os.Getenv("NTKHARNESS_SLURM") != "1" {
		t.Skip("no Slurm cluster: set NTKHARNESS_SLURM=1 with a cluster up (make test-cluster starts a one-node one)")
	}
	for _, cmd := range []string{"sinfo", "sbatch", "squeue", "scancel", "scontrol"} {
		if _, err := exec.LookPath(cmd); err != nil {
			t.Fatalf("NTKHARNESS_SLURM=1 but %s is not installed: %v", cmd, err)
		}
	}
	if out, err := run(t, "", 15*time.Second, "sinfo", "-h", "-N", "-o", "%N %T"); err != nil {
		t.Fatalf("NTKHARNESS_SLURM=1 but sinfo does not answer (is SLURM_CONF set?): %v\n%s", err, out)
	} else {
		t.Logf("sinfo: %s", strings.TrimSpace(out))
	}
	dir := t.TempDir()
	bin := binary(t, dir)
	c := &cluster{t: t, dir: dir}
	t.Cleanup(c.cancelAll)

	mainSpec := filepath.Join(dir, "main.yaml")
	failSpec := filepath.Join(dir, "fail.yaml")
	writeFile(t, mainSpec, mainSweep)
	writeFile(t, failSpec, failSweep)
	clusterResults := filepath.Join(dir, "cluster")
	localResults := filepath.Join(dir, "local")

	// 1. Emit both sweeps as Slurm scripts and submit them.
	emit := func(spec, name string, perTask int) string {
		script := filepath.Join(dir, name+".sh")
		mustRun(t, "", time.Minute, bin, "sweep", "emit", "slurm", spec, "--results", clusterResults,
			"--binary", bin, "--name", name, "--cpu", "1", "--memory", "1Gi", "--time", "10",
			"--per-task", strconv.Itoa(perTask), "--retries", "1", "-o", script)
		return script
	}
	mainScript := emit(mainSpec, "ntkh-main", mainPerTask)
	failScript := emit(failSpec, "ntkh-fail", 1)
	mainHash, mainCells := plan(t, bin, mainSpec)
	failHash, _ := plan(t, bin, failSpec)
	mainJob := c.sbatch(mainScript)
	failJob := c.sbatch(failScript)
	t.Logf("submitted %s (sweep %s, %d cells) and %s (sweep %s)", mainJob, mainHash, mainCells, failJob, failHash)

	// The same sweeps computed locally, for the comparison of step 4, with
	// the thread counts the array tasks get from --cpu 1: a BLAS or a
	// parallel loop that splits a sum over more threads rounds its last bit
	// differently, and the comparison is of the cluster path, not of that.
	localDone := make(chan error, 1)
	oneThread := []string{"GOMAXPROCS=1", "OPENBLAS_NUM_THREADS=1"}
	go func() {
		_, err := runEnv(oneThread, "", 5*time.Minute, bin, "sweep", "run", mainSpec, "--results", localResults, "--quiet")
		if err == nil {
			var out string
			out, err = runEnv(oneThread, "", 5*time.Minute, bin, "sweep", "run", failSpec, "--results", localResults, "--quiet")
			if code := exitCode(err); code != 3 {
				err = fmt.Errorf("local sweep run of the failing sweep: exit status %d, want 3: %v\n%s", code, err, out)
			} else {
				err = nil
			}
		}
		localDone <- err
	}()

	// 2. Kill the array task killTask with SIGKILL while it runs: after its
	// first cell is written and before its second is. Without --batch Slurm
	// treats SIGKILL as a cancellation and sends SIGTERM first (a graceful
	// stop); with it the batch shell gets SIGKILL and the step's other
	// processes are killed when the step ends.
	cells := filepath.Join(clusterResults, mainHash, "cells")
	first, second := cellFile(cells, killTask*mainPerTask), cellFile(cells, killTask*mainPerTask+1)
	task := fmt.Sprintf("%s_%d", mainJob, killTask)
	deadline := time.Now().Add(4 * time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("array task %s did not run with cell %d done and cell %d not yet done within 4 minutes; squeue: %s",
				task, killTask*mainPerTask, killTask*mainPerTask+1, c.squeue(mainJob))
		}
		if exists(first) && !exists(second) && c.taskState(mainJob, killTask) == "RUNNING" {
			break
		}
		if exists(second) {
			t.Fatalf("array task %s computed its second cell before it could be killed: the cells are too fast for this test", task)
		}
		if c.squeue(mainJob) == "" {
			t.Fatalf("job %s ended without array task %d running between its two cells (is the task in the array?); cells written: %v",
				mainJob, killTask, listDir(cells))
		}
		time.Sleep(50 * time.Millisecond)
	}
	mustRun(t, "", 30*time.Second, "scancel", "--signal=KILL", "--batch", task)
	t.Logf("killed running array task %s (cell %d done, cell %d in progress)", task, killTask*mainPerTask, killTask*mainPerTask+1)
	c.wait(mainJob)
	for i := range ceilDiv(mainCells, mainPerTask) {
		state, code := c.taskResult(mainJob, i)
		want, wantCode := "COMPLETED", "0:0"
		if i == killTask {
			want, wantCode = "FAILED", "0:9"
		}
		if state != want || code != wantCode {
			t.Errorf("array task %s_%d: state %s exit code %s, want %s %s", mainJob, i, state, code, want, wantCode)
		}
	}

	// 3. Resubmit the tasks of the missing cells: sbatch --array=<missing>.
	table := c.gather(bin, mainSpec, clusterResults)
	var missingCells []int
	for _, r := range table.Rows {
		if r.Status == "missing" {
			missingCells = append(missingCells, r.Index)
		}
	}
	if want := []int{killTask*mainPerTask + 1}; !slices.Equal(missingCells, want) {
		t.Fatalf("missing cells after the kill: %v, want %v", missingCells, want)
	}
	var tasks []string
	for _, i := range missingCells {
		if s := strconv.Itoa(i / mainPerTask); !slices.Contains(tasks, s) {
			tasks = append(tasks, s)
		}
	}
	again := c.sbatch(mainScript, "--array="+strings.Join(tasks, ","))
	t.Logf("resubmitted array tasks %s as %s", strings.Join(tasks, ","), again)
	c.wait(again)
	if state, code := c.taskResult(again, killTask); state != "COMPLETED" || code != "0:0" {
		t.Errorf("resubmitted task %s_%d: state %s exit code %s, want COMPLETED 0:0", again, killTask, state, code)
	}
	if b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("ntkh-main-%s_%d.out", again, killTask))); err == nil {
		if !strings.Contains(string(b), "1 computed, 1 already done") {
			t.Errorf("the resubmitted task did not resume from the killed one's first cell:\n%s", b)
		}
	} else {
		t.Errorf("output of the resubmitted task: %v", err)
	}

	// 5. The permanent failure: exit status 3, one attempt, not retried.
	c.wait(failJob)
	if state, code := c.taskResult(failJob, 0); state != "COMPLETED" || code != "0:0" {
		t.Errorf("task %s_0 (a valid cell): state %s exit code %s, want COMPLETED 0:0", failJob, state, code)
	}
	if state, code := c.taskResult(failJob, failCell); state != "FAILED" || code != "3:0" {
		t.Errorf("task %s_%d (an invalid spec): state %s exit code %s, want FAILED 3:0", failJob, failCell, state, code)
	}
	out, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("ntkh-fail-%s_%d.out", failJob, failCell)))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(out), fmt.Sprintf("task %d from SLURM_ARRAY_TASK_ID", failCell)); n != 1 {
		t.Errorf("the permanently failing task ran sweep run %d times, want once (exit 3 must not be retried):\n%s", n, out)
	}

	// 4. Every gathered table equals the local run's, timing apart.
	if err := <-localDone; err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct{ spec, hash string }{{mainSpec, mainHash}, {failSpec, failHash}} {
		got := c.gather(bin, s.spec, clusterResults)
		want := c.gather(bin, s.spec, localResults)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("sweep %s: the gathered cluster table differs from the local one\ncluster: %+v\nlocal:   %+v", s.hash, got, want)
		}
		gotCSV := dropColumn(t, readFile(t, filepath.Join(clusterResults, s.hash, "table.csv")), "seconds")
		wantCSV := dropColumn(t, readFile(t, filepath.Join(localResults, s.hash, "table.csv")), "seconds")
		if !reflect.DeepEqual(gotCSV, wantCSV) {
			t.Errorf("sweep %s: table.csv differs apart from seconds\ncluster: %v\nlocal:   %v", s.hash, gotCSV, wantCSV)
		}
		counts := map[string]int{}
		for _, r := range got.Rows {
			counts[r.Status]++
		}
		t.Logf("sweep %s: cluster table equals the local one (%v)", s.hash, counts)
	}
}

// cluster submits and watches jobs.
type cluster struct {
	t    *testing.T
	dir  string
	jobs []string
}

// sbatch submits script from the test folder and returns the job id.
func (c *cluster) sbatch(script string, args ...string) string {
	c.t.Helper()
	out := mustRun(c.t, c.dir, time.Minute, "sbatch", append(append([]string{"--parsable"}, args...), script)...)
	id, _, _ := strings.Cut(strings.TrimSpace(out), ";")
	if _, err := strconv.Atoi(id); err != nil {
		c.t.Fatalf("sbatch printed %q, want a job id", out)
	}
	c.jobs = append(c.jobs, id)
	return id
}

// cancelAll cancels every job the test submitted, in case it stopped early.
func (c *cluster) cancelAll() {
	if len(c.jobs) > 0 {
		run(c.t, "", 30*time.Second, "scancel", c.jobs...)
	}
}

func (c *cluster) squeue(job string) string {
	out, _ := run(c.t, "", 15*time.Second, "squeue", "-h", "-r", "-j", job, "-o", "%i %T %R")
	return strings.TrimSpace(out)
}

// taskState is the squeue state of array task i of job ("" when not listed).
func (c *cluster) taskState(job string, i int) string {
	out, _ := run(c.t, "", 15*time.Second, "squeue", "-h", "-r", "-j", job, "-o", "%K %T")
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == strconv.Itoa(i) {
			return f[1]
		}
	}
	return ""
}

// wait waits until no task of job is pending or running.
func (c *cluster) wait(job string) {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for c.squeue(job) != "" {
		if time.Now().After(deadline) {
			c.t.Fatalf("job %s still queued after 5 minutes: %s", job, c.squeue(job))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

var (
	taskRe  = regexp.MustCompile(`\bArrayTaskId=(\d+)\b`)
	stateRe = regexp.MustCompile(`\bJobState=(\S+)`)
	codeRe  = regexp.MustCompile(`\bExitCode=(\S+)`)
)

// taskResult is the final state and exit code (status:signal) of array task
// i of a finished job, from scontrol (the cluster keeps finished jobs for
// MinJobAge).
func (c *cluster) taskResult(job string, i int) (state, code string) {
	c.t.Helper()
	out := mustRun(c.t, "", 15*time.Second, "scontrol", "-o", "show", "job", job)
	for _, line := range strings.Split(out, "\n") {
		if m := taskRe.FindStringSubmatch(line); m != nil && m[1] == strconv.Itoa(i) {
			s, e := stateRe.FindStringSubmatch(line), codeRe.FindStringSubmatch(line)
			if s != nil && e != nil {
				return s[1], e[1]
			}
		}
	}
	c.t.Fatalf("scontrol lists no array task %d of job %s:\n%s", i, job, out)
	return "", ""
}

// table is a gathered JSON table without its timing column.
type table struct {
	Sweep   string   `json:"sweep"`
	Params  []string `json:"params"`
	Columns []string `json:"columns"`
	Rows    []struct {
		Index  int             `json:"index"`
		Params map[string]any  `json:"params"`
		Status string          `json:"status"`
		Reason string          `json:"reason"`
		Values map[string]any  `json:"values"`
		Arrays json.RawMessage `json:"arrays"`
	} `json:"rows"`
}

// gather runs sweep gather on results and reads its JSON table.
func (c *cluster) gather(bin, spec, results string) table {
	c.t.Helper()
	mustRun(c.t, "", time.Minute, bin, "sweep", "gather", spec, "--results", results)
	hash, _ := plan(c.t, bin, spec)
	var tb table
	if err := json.Unmarshal([]byte(readFile(c.t, filepath.Join(results, hash, "table.json"))), &tb); err != nil {
		c.t.Fatal(err)
	}
	return tb
}

var planRe = regexp.MustCompile(`\(hash ([0-9a-f]+)\): (\d+) cells`)

// plan returns the sweep's hash and number of cells.
func plan(t *testing.T, bin, spec string) (string, int) {
	t.Helper()
	out := mustRun(t, "", time.Minute, bin, "sweep", "plan", spec, "--limit", "1")
	m := planRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("sweep plan printed no hash:\n%s", out)
	}
	n, _ := strconv.Atoi(m[2])
	return m[1], n
}

// binary returns the ntkharness binary: $NTKHARNESS_BIN, else one built
// into dir. The cluster's jobs run it, so it must be an absolute path.
func binary(t *testing.T, dir string) string {
	if b := os.Getenv("NTKHARNESS_BIN"); b != "" {
		abs, err := filepath.Abs(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(abs); err != nil {
			t.Fatalf("NTKHARNESS_BIN: %v", err)
		}
		return abs
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(dir, "ntkharness")
	mustRun(t, root, 5*time.Minute, "go", "build", "-o", bin, "./cmd/ntkharness")
	return bin
}

// run runs a command with a time limit and returns its combined output.
func run(t *testing.T, dir string, limit time.Duration, name string, args ...string) (string, error) {
	return runEnv(nil, dir, limit, name, args...)
}

// runEnv is run with extra environment variables (NAME=value).
func runEnv(env []string, dir string, limit time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

func mustRun(t *testing.T, dir string, limit time.Duration, name string, args ...string) string {
	t.Helper()
	out, err := run(t, dir, limit, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if e, ok := err.(*exec.ExitError); ok {
		return e.ExitCode()
	}
	return -1
}

func cellFile(dir string, i int) string { return filepath.Join(dir, fmt.Sprintf("%06d.json", i)) }

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func listDir(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dropColumn parses a CSV table and removes the named column.
func dropColumn(t *testing.T, text, column string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("CSV table: %v", err)
	}
	k := slices.Index(rows[0], column)
	if k < 0 {
		t.Fatalf("CSV table has no %s column: %v", column, rows[0])
	}
	for i, r := range rows {
		rows[i] = slices.Delete(slices.Clone(r), k, k+1)
	}
	return rows
}
