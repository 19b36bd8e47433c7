package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	_ "github.com/ntkharness/ntkharness/experiments/cells" // registers the cell kinds a sweep runs
	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/internal/atomicfile"
	"github.com/ntkharness/ntkharness/internal/progress"
	"k8s.io/apimachinery/pkg/api/resource"
)

func init() {
	register("sweep plan", "list the cells of a sweep file, their count and estimated cost", runSweepPlan)
	register("sweep run", "compute the cells of a sweep (all, one, a shard, or the cluster task)", runSweepRunCmd)
	register("sweep gather", "assemble a sweep's cell results into one CSV and JSON table", runSweepGather)
	register("sweep emit", "write a cluster job for a sweep: sweep emit k8s|slurm", runSweepEmit)
	register("sweep emit k8s", "write a Kubernetes Indexed Job running a sweep", runSweepEmitK8s)
	register("sweep emit slurm", "write a Slurm job-array script running a sweep", runSweepEmitSlurm)
}

const defaultResults = "results"

// parseInterspersed parses flags that may come before, between or after the
// positional arguments, and returns the positional ones.
func parseInterspersed(fs *flagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args, true); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// loadSweep reads the one positional argument, the sweep file. A bad sweep
// file is a usage error (exit 2), which a cluster does not retry.
func loadSweep(fs *flagSet, pos []string) (*sweep.Sweep, error) {
	if len(pos) != 1 {
		return nil, usagef("%s: want exactly one sweep file, got %d arguments (see ntkharness %s --help)", fs.Name(), len(pos), fs.Name())
	}
	s, err := sweep.Load(pos[0])
	if err != nil {
		return nil, usagef("%s: %v", fs.Name(), err)
	}
	if err := s.CheckKinds(); err != nil {
		return nil, usagef("%s: %s: %v", fs.Name(), pos[0], err)
	}
	return s, nil
}

func runSweepPlan(args []string) error {
	fs := newFlags("sweep plan", "SPEC [--limit N] [--results DIR]", `
List the cells of the sweep file SPEC (index and axis values), their count,
the results folder they go to and how many of them are already done there,
and the cost estimated by the kinds' cost models.`)
	limit := fs.Int("limit", 20, "list at most `N` cells (0 lists all)")
	results := fs.String("results", defaultResults, "results root `DIR`, to count the cells already done")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *limit < 0 {
		return usagef("sweep plan: --limit %d: must not be negative", *limit)
	}
	s, err := loadSweep(fs, pos)
	if err != nil {
		return err
	}
	w := os.Stdout
	name := s.Name
	if name == "" {
		name = "(unnamed)"
	}
	var dims []string
	for _, a := range s.Axes() {
		dims = append(dims, fmt.Sprintf("%s %d", a, len(s.Grid[a].Values)))
	}
	shape := strings.Join(dims, " x ")
	if shape == "" {
		shape = "no axes"
	}
	fmt.Fprintf(w, "sweep %s (hash %s): %d cells = %s\n", name, s.Hash(), s.Len(), shape)
	fmt.Fprintf(w, "kinds: %s\n", strings.Join(s.Kinds, ", "))
	dir := s.Dir(*results)
	if _, err := os.Stat(dir); err == nil {
		done := 0
		for i := range s.Len() {
			if _, err := s.ReadCell(*results, i); err == nil {
				done++
			}
		}
		fmt.Fprintf(w, "results: %s (%d of %d cells done)\n", dir, done, s.Len())
	} else {
		fmt.Fprintf(w, "results: %s (not started)\n", dir)
	}
	n := s.Len()
	if *limit > 0 && *limit < n {
		n = *limit
	}
	for i := range n {
		c := s.Cell(i)
		fmt.Fprintf(w, "%8d  %s\n", i, c)
	}
	if n < s.Len() {
		fmt.Fprintf(w, "%8s  (%d more; --limit 0 lists all)\n", "...", s.Len()-n)
	}
	e := s.Estimate()
	valid := e.Cells - e.Invalid
	switch {
	case len(e.Unregistered) > 0:
		fmt.Fprintf(w, "cost: unknown: kinds not in this build: %s (available: %s)\n", strings.Join(e.Unregistered, ", "), strings.Join(sweep.Kinds(), ", "))
	case len(e.NoCostModel) > 0:
		fmt.Fprintf(w, "cost: unknown: no cost model for kinds %s\n", strings.Join(e.NoCostModel, ", "))
	case !e.Known:
		fmt.Fprintf(w, "cost: unknown for some cells (their kinds could not estimate them)\n")
	}
	if e.Groups < valid+e.Invalid {
		fmt.Fprintf(w, "groups: %d cells in %d groups computed together (largest %d cells)\n", e.Cells, e.Groups, e.LargestGroup)
	}
	if e.Seconds > 0 || e.Known {
		what := "estimated cost"
		if !e.Known {
			what = "estimated cost of the kinds with a cost model"
		}
		per := 0.0
		if valid > 0 {
			per = e.Seconds / float64(valid)
		}
		fmt.Fprintf(w, "%s: %.3g CPU-hours in total (%.3g s per cell), peak memory %s per cell\n",
			what, e.Seconds/3600, per, sweep.FormatBytes(e.PeakMemory))
	}
	if e.Invalid > 0 {
		fmt.Fprintf(w, "warning: %d cells have an invalid spec and will fail, e.g. %v\n", e.Invalid, e.Example)
	}
	if e.OverMemory > 0 {
		fmt.Fprintf(w, "warning: %d cells have a memory estimate over max_memory %s and will fail\n", e.OverMemory, s.MaxMemory)
	}
	return nil
}

// runSweepRunCmd exits with status 3 when a cell failed permanently, so that
// a cluster does not retry it (Kubernetes: podFailurePolicy FailIndex).
func runSweepRunCmd(args []string) error {
	err := runSweepRun(args)
	if err != nil && sweep.IsPermanent(err) {
		return exitError{err, sweep.ExitPermanent}
	}
	return err
}

func runSweepRun(args []string) error {
	fs := newFlags("sweep run", "SPEC [--cell N | --shard i/n] [--per-task K] [--workers W] [--results DIR]", `
Compute the cells of the sweep file SPEC that have no valid result yet and
write each atomically to DIR/<hash>/cells/<index>.json. Rerunning after an
interruption redoes only the unfinished cells.

Which cells: --cell N runs cell N; --shard i/n runs the cells whose index is
i modulo n; otherwise the task index of a cluster job, from the first set of
JOB_COMPLETION_INDEX (Kubernetes), SLURM_ARRAY_TASK_ID (Slurm) and
AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch), runs cells task*K to task*K+K-1 with
K from --per-task; with none of these, every cell runs.

Exit status: 0 every selected cell has a result (ok or diverged); 1 a
transient error (retry); 2 a bad command line or sweep file; 3 a cell failed
permanently (its file records why; do not retry).`)
	cell := fs.Int("cell", -1, "run only cell `N`")
	shard := fs.String("shard", "", "run shard `i/n`: the cells whose index is i modulo n")
	perTask := fs.Int("per-task", 1, "cells per cluster task `K` (task index from the environment)")
	workers := fs.Int("workers", 1, "compute `W` cells at once")
	results := fs.String("results", defaultResults, "results root `DIR`")
	retryFailed := fs.Bool("retry-failed", false, "recompute cells recorded as failed")
	quiet := fs.Bool("quiet", false, "draw no progress bar")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	s, err := loadSweep(fs, pos)
	if err != nil {
		return err
	}
	if *workers < 1 {
		return usagef("sweep run: --workers %d: must be at least 1", *workers)
	}
	if *perTask < 1 {
		return usagef("sweep run: --per-task %d: must be at least 1", *perTask)
	}
	if fs.given()["cell"] && *cell < 0 {
		return usagef("sweep run: --cell %d: must not be negative", *cell)
	}
	if *cell >= 0 && *shard != "" {
		return usagef("sweep run: give --cell or --shard, not both")
	}
	var cells []int
	what := "all cells"
	switch {
	case *cell >= 0:
		if *cell >= s.Len() {
			return usagef("sweep run: --cell %d: the sweep has %d cells (0 to %d)", *cell, s.Len(), s.Len()-1)
		}
		cells = []int{*cell}
		what = fmt.Sprintf("cell %d", *cell)
	case *cell < -1:
		return usagef("sweep run: --cell %d: must not be negative", *cell)
	case *shard != "":
		i, n, err := sweep.ParseShard(*shard)
		if err != nil {
			return usagef("sweep run: --%v", err)
		}
		cells = s.ShardCells(i, n)
		what = "shard " + *shard
	default:
		t, env, ok, err := sweep.TaskFromEnv(os.Getenv)
		if err != nil {
			return usagef("sweep run: %v", err)
		}
		if ok {
			cells, err = s.TaskCells(t, *perTask)
			if err != nil {
				return usagef("sweep run: %s: %v", env, err)
			}
			what = fmt.Sprintf("task %d from %s", t, env)
		}
	}
	n := s.Len()
	if cells != nil {
		n = len(cells)
	}
	fmt.Fprintf(os.Stderr, "sweep %s: %s (%d cells), %d workers, results in %s\n", s.Hash(), what, n, *workers, s.Dir(*results))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opt := sweep.RunOptions{Results: *results, Cells: cells, Workers: *workers, RetryFailed: *retryFailed, Log: os.Stderr}
	// The bar starts when Run knows how many cells are left to compute.
	var bar *progress.Bar
	if !*quiet {
		opt.Progress = func(done float64, total int) {
			if bar == nil {
				bar = progress.New("sweep "+s.Hash(), total)
			}
			bar.UpdateFraction(done, total)
		}
	}
	sum, err := s.Run(ctx, opt)
	bar.Finish()
	fmt.Fprintln(os.Stdout, "sweep "+s.Hash()+": "+sum.String())
	return err
}

func runSweepGather(args []string) error {
	fs := newFlags("sweep gather", "SPEC [--results DIR] [--csv FILE] [--json FILE]", `
Assemble the cell results of the sweep file SPEC found under DIR into one
table, one row per cell: index, the axis values, status (ok, diverged,
failed, missing), reason, seconds and every scalar result as a column
"kind.name". Cells without a valid result file are listed as missing. The
JSON table also holds the array results. "-" writes to standard output.`)
	results := fs.String("results", defaultResults, "results root `DIR`")
	csvPath := fs.String("csv", "", "write the CSV table to `FILE` (default DIR/<hash>/table.csv)")
	jsonPath := fs.String("json", "", "write the JSON table to `FILE` (default DIR/<hash>/table.json)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	s, err := loadSweep(fs, pos)
	if err != nil {
		return err
	}
	for _, p := range []string{*csvPath, *jsonPath} {
		if p != "" && p != "-" {
			if err := atomicfile.CheckFile(p); err != nil {
				return err
			}
		}
	}
	t, err := sweep.Gather(s, *results)
	if err != nil {
		return err
	}
	if *csvPath == "" || *jsonPath == "" {
		if err := os.MkdirAll(s.Dir(*results), 0o755); err != nil {
			return err
		}
	}
	if *csvPath == "" {
		*csvPath = filepath.Join(s.Dir(*results), "table.csv")
	}
	if *jsonPath == "" {
		*jsonPath = filepath.Join(s.Dir(*results), "table.json")
	}
	if err := writeOutput(*csvPath, t.WriteCSV); err != nil {
		return err
	}
	if err := writeOutput(*jsonPath, t.WriteJSON); err != nil {
		return err
	}
	c := t.Counts()
	fmt.Fprintf(os.Stderr, "sweep %s: %d cells: %d ok, %d diverged, %d failed, %d missing; wrote %s and %s\n",
		s.Hash(), len(t.Rows), c[sweep.StatusOK], c[sweep.StatusDiverged], c[sweep.StatusFailed], c[sweep.StatusMissing], *csvPath, *jsonPath)
	return nil
}

// writeOutput writes to path ("-" or "" is standard output) through fill;
// files are replaced atomically.
func writeOutput(path string, fill func(io.Writer) error) error {
	if path == "-" || path == "" {
		return fill(os.Stdout)
	}
	return atomicfile.Write(path, fill)
}

func runSweepEmit(args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Println("Usage: ntkharness sweep emit k8s|slurm SPEC [flags]\n\nSee ntkharness sweep emit k8s --help and ntkharness sweep emit slurm --help.")
		return errHelp
	}
	if len(args) == 0 {
		return usagef("sweep emit: name a target: k8s or slurm (ntkharness sweep emit k8s|slurm SPEC)")
	}
	return usagef("sweep emit: unknown target %q: want k8s or slurm", args[0])
}

// clusterFlags adds the flags both emitters share.
func clusterFlags(fs *flagSet) (o *sweep.ClusterOptions, out *string) {
	o = &sweep.ClusterOptions{}
	fs.StringVar(&o.Name, "name", "", "job `name` (default ntkharness-sweep-<hash>)")
	fs.StringVar(&o.Binary, "binary", "ntkharness", "`path` of the ntkharness binary on the workers")
	fs.IntVar(&o.CPU, "cpu", 2, "cores per worker `N` (also OPENBLAS_NUM_THREADS and GOMAXPROCS)")
	fs.StringVar(&o.Memory, "memory", "", "memory per worker, a `quantity` such as 8Gi (default the sweep's max_memory, else 4Gi)")
	fs.IntVar(&o.Parallelism, "parallelism", 0, "at most `P` workers at once (0: no limit)")
	fs.IntVar(&o.Retries, "retries", 3, "retries of a task after a transient failure (exit 1)")
	fs.IntVar(&o.PerTask, "per-task", 1, "cells per task `K`; the job has ceil(cells/K) tasks")
	out = fs.String("o", "-", "write to `FILE` (- for standard output)")
	return o, out
}

// defaultMemory fills o.Memory and warns when workers get less memory than
// the sweep's max_memory.
func defaultMemory(s *sweep.Sweep, o *sweep.ClusterOptions) {
	if o.Memory == "" {
		o.Memory = s.MaxMemory
		if o.Memory == "" {
			o.Memory = "4Gi"
		}
		return
	}
	if q, err := resource.ParseQuantity(o.Memory); err == nil && s.MaxMemoryBytes() > 0 && q.Value() < s.MaxMemoryBytes() {
		fmt.Fprintf(os.Stderr, "ntkharness: warning: --memory %s is less than the sweep's max_memory %s: workers may be killed for memory\n", o.Memory, s.MaxMemory)
	}
}

// loadEmitSweep parses an emit command's flags, loads its sweep file and
// fills in the default memory request.
func loadEmitSweep(fs *flagSet, args []string, o *sweep.ClusterOptions) (*sweep.Sweep, error) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, err
	}
	// The library takes PerTask 0 as its default of 1; on the command line
	// a value given as 0 is an error.
	if fs.given()["per-task"] && o.PerTask < 1 {
		return nil, usagef("%s: --per-task %d: must be at least 1", fs.Name(), o.PerTask)
	}
	s, err := loadSweep(fs, pos)
	if err != nil {
		return nil, err
	}
	defaultMemory(s, o)
	return s, nil
}

func runSweepEmitK8s(args []string) error {
	fs := newFlags("sweep emit k8s", "SPEC [--image IMG] [--cpu N] [--memory 8Gi] [--parallelism P] [--results-pvc NAME] [-o FILE]", `
Write a ConfigMap holding the sweep file and a Kubernetes Indexed Job with
one completion per task (ceil(cells/K)), ready for kubectl apply -f. Each
pod runs "ntkharness sweep run", takes its task from JOB_COMPLETION_INDEX
and writes its cells to the ReadWriteMany claim --results-pvc mounted at
/results. Exit status 1 is retried --retries times per index; 2 and 3 fail
the index at once (podFailurePolicy FailIndex); evicted or preempted pods
are retried without counting.`)
	o, out := clusterFlags(fs)
	fs.StringVar(&o.Image, "image", "ntkharness:latest", "container `image` holding the ntkharness binary")
	fs.StringVar(&o.ResultsPVC, "results-pvc", "ntkharness-results", "`name` of the PersistentVolumeClaim for the results")
	fs.StringVar(&o.Namespace, "namespace", "", "Kubernetes `namespace` (default: kubectl's current one)")
	s, err := loadEmitSweep(fs, args, o)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := s.WriteKubernetes(&b, *o); err != nil {
		return usagef("sweep emit k8s: %v", err)
	}
	return writeOutput(*out, func(w io.Writer) error {
		_, err := w.Write(b.Bytes())
		return err
	})
}

func runSweepEmitSlurm(args []string) error {
	fs := newFlags("sweep emit slurm", "SPEC [--cpu N] [--memory 8Gi] [--time 4:00:00] [--parallelism P] [--results DIR] [-o FILE]", `
Write an sbatch script running the sweep as a Slurm job array with one
element per task (ceil(cells/K)). Each element runs "ntkharness sweep run"
on a copy of the sweep file embedded in the script, takes its task from
SLURM_ARRAY_TASK_ID, writes its cells under --results (a folder on the file
system shared by the nodes) and retries exit status 1 --retries times.`)
	o, out := clusterFlags(fs)
	fs.StringVar(&o.Results, "results", defaultResults, "results root `DIR` on the shared file system (made absolute)")
	fs.StringVar(&o.Time, "time", "4:00:00", "wall-clock `limit` per array element")
	fs.StringVar(&o.Partition, "partition", "", "Slurm `partition` (default: the cluster's)")
	s, err := loadEmitSweep(fs, args, o)
	if err != nil {
		return err
	}
	if abs, err := filepath.Abs(o.Results); err == nil {
		o.Results = abs
	}
	script, err := s.SlurmScript(*o)
	if err != nil {
		return usagef("sweep emit slurm: %v", err)
	}
	if t := s.Tasks(max(o.PerTask, 1)); t > sweep.SlurmMaxArray {
		fmt.Fprintf(os.Stderr, "ntkharness: warning: %d array elements exceed Slurm's default MaxArraySize %d; use --per-task %d or ask for a larger limit\n",
			t, sweep.SlurmMaxArray, (s.Len()+sweep.SlurmMaxArray-1)/sweep.SlurmMaxArray)
	}
	return writeOutput(*out, func(w io.Writer) error {
		_, err := io.WriteString(w, script)
		return err
	})
}
