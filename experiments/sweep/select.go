package sweep

import (
	"fmt"
	"strconv"
	"strings"
)

// IndexEnv lists the environment variables that carry a worker's task index,
// in the order they are consulted: Kubernetes Indexed Jobs, Slurm job
// arrays, AWS Batch array jobs.
var IndexEnv = []string{"JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID", "AWS_BATCH_JOB_ARRAY_INDEX"}

// TaskFromEnv returns the task index found in the first variable of
// IndexEnv that is set (non-empty), and that variable's name; ok is false
// when none is set. A value that is not a non-negative integer is an error.
func TaskFromEnv(getenv func(string) string) (index int, name string, ok bool, err error) {
	for _, name := range IndexEnv {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			continue
		}
		i, err := strconv.Atoi(v)
		if err != nil || i < 0 {
			return 0, name, true, fmt.Errorf("environment variable %s=%q: want a non-negative integer task index", name, v)
		}
		return i, name, true, nil
	}
	return 0, "", false, nil
}

// Tasks returns the number of tasks of perTask cells each that cover the
// sweep: ceil(Len() / perTask).
func (s *Sweep) Tasks(perTask int) int {
	if perTask < 1 {
		perTask = 1
	}
	return (s.n + perTask - 1) / perTask
}

// TaskCells returns the cells of task t when each task runs perTask
// consecutive cells: t*perTask up to (t+1)*perTask - 1, clipped to the grid.
func (s *Sweep) TaskCells(t, perTask int) ([]int, error) {
	if perTask < 1 {
		return nil, fmt.Errorf("cells per task %d: must be at least 1", perTask)
	}
	if nt := s.Tasks(perTask); t < 0 || t >= nt {
		return nil, fmt.Errorf("task %d out of range: the sweep has %d cells, %d tasks of %d (indices 0 to %d)", t, s.n, nt, perTask, nt-1)
	}
	var cells []int
	for i := t * perTask; i < min((t+1)*perTask, s.n); i++ {
		cells = append(cells, i)
	}
	return cells, nil
}

// ShardCells returns the cells of shard i of n: the indices congruent to i
// modulo n, which spreads every axis evenly over the shards.
func (s *Sweep) ShardCells(i, n int) []int {
	var cells []int
	for c := i; c < s.n; c += n {
		cells = append(cells, c)
	}
	return cells
}

// ParseShard parses "i/n" with 0 <= i < n.
func ParseShard(v string) (i, n int, err error) {
	a, b, ok := strings.Cut(v, "/")
	if ok {
		i, err = strconv.Atoi(a)
		if err == nil {
			n, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("shard %q: want i/n with 0 <= i < n, e.g. 0/4", v)
	}
	return i, n, nil
}

// Estimate is the planned cost of a sweep.
type Estimate struct {
	Cells int
	// Seconds is the total estimated CPU time over the cells and kinds that
	// have an estimate; Known tells whether that is all of them.
	Seconds float64
	Known   bool
	// PeakMemory is the largest memory estimate of one cell.
	PeakMemory int64
	// NoCostModel lists the kinds without a cost model; Unregistered the
	// kinds this build does not have.
	NoCostModel, Unregistered []string
	// Invalid counts cells whose spec is invalid (they will fail); Example
	// is the first such error.
	Invalid int
	Example error
	// OverMemory counts cells whose memory estimate exceeds max_memory.
	OverMemory int
	// Groups is the number of groups Run computes the cells in (see
	// Groups), LargestGroup the cells of the largest; Seconds counts a
	// group's estimate (Group.Cost) where its kind has one.
	Groups, LargestGroup int
}

// Estimate adds up the kinds' cost models over the cells of the sweep.
func (s *Sweep) Estimate() Estimate {
	e := Estimate{Cells: s.n, Known: true}
	var ks []Kind
	for _, name := range s.Kinds {
		k, ok := LookupKind(name)
		switch {
		case !ok:
			e.Unregistered = append(e.Unregistered, name)
			e.Known = false
		case k.Cost == nil:
			e.NoCostModel = append(e.NoCostModel, name)
			e.Known = false
		default:
			ks = append(ks, k)
		}
	}
	all := make([]int, s.n)
	for i := range all {
		all[i] = i
	}
	limit, _ := s.memoryLimit()
	for _, g := range s.Groups(all, limit) {
		e.Groups++
		e.LargestGroup = max(e.LargestGroup, len(g))
		cs := make([]Cell, 0, len(g))
		for _, i := range g {
			c := s.Cell(i)
			err := c.SpecErr
			if err == nil {
				err = c.Spec.Validate()
			}
			if err != nil {
				if e.Invalid == 0 {
					e.Example = fmt.Errorf("cell %d (%s): %v", i, c, err)
				}
				e.Invalid++
				continue
			}
			cs = append(cs, c)
		}
		mem := make([]int64, len(cs))
		over := make([]bool, len(cs))
		for _, k := range ks {
			// A group's time is its own estimate when the kind has one;
			// memory is checked per cell before it runs.
			grouped := false
			if len(cs) > 1 && k.Group != nil && k.Group.Cost != nil {
				if cost, ok := k.Group.Cost(cs); ok {
					e.Seconds += cost.Seconds
					grouped = true
				}
			}
			for j, c := range cs {
				cost, ok := k.Cost(c)
				if !ok {
					e.Known = e.Known && grouped
					continue
				}
				if !grouped {
					e.Seconds += cost.Seconds
				}
				mem[j] = max(mem[j], cost.MemoryBytes)
				over[j] = over[j] || (s.maxMem > 0 && cost.MemoryBytes > s.maxMem)
			}
		}
		for j := range cs {
			e.PeakMemory = max(e.PeakMemory, mem[j])
			if over[j] {
				e.OverMemory++
			}
		}
	}
	return e
}
