package sweep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/ntkharness/ntkharness/internal/atomicfile"
)

// RunOptions configures Run.
type RunOptions struct {
	// Results is the results root; cells go to Results/<hash>/cells.
	Results string
	// Cells lists the cell indices to run; nil means every cell.
	Cells []int
	// Workers is the number of groups of cells (see Groups; one cell each
	// unless a kind computes cells together) computed at once (default 1).
	Workers int
	// RetryFailed recomputes cells whose file records a permanent failure
	// (useful after a fix to the binary); by default they count as done.
	RetryFailed bool
	// Progress, when set, is called with the number of cells this run has
	// finished and the number it has to compute (cells already done are
	// not counted, so that a rate and an ETA drawn from it are right):
	// once with done = 0 before the first cell, after each group, and
	// while a group runs whenever its kind reports its own progress
	// (ReportProgress), done then counting the group's cells in part. It
	// is not called when there is nothing to compute.
	Progress func(done float64, total int)
	// Log, when set, receives one line per notable event (a corrupt file
	// being recomputed, a cell failing).
	Log io.Writer
}

// CellError is the error of one cell.
type CellError struct {
	Index int
	Err   error
}

func (e CellError) Error() string { return fmt.Sprintf("cell %d: %v", e.Index, e.Err) }

// RunSummary counts what a Run did and the state of its selected cells.
type RunSummary struct {
	Selected int // cells asked for
	Skipped  int // already had a valid result file
	Computed int // computed and written by this run
	Corrupt  int // had an invalid file that was recomputed (or is being)

	OK, Diverged, Failed int         // statuses of the selected cells after the run
	Failures             []CellError // cells whose file records a permanent failure
	Errors               []CellError // transient errors; those cells have no file
}

// String is a one-line account of the summary.
func (r RunSummary) String() string {
	s := fmt.Sprintf("%d cells: %d computed, %d already done; %d ok, %d diverged, %d failed",
		r.Selected, r.Computed, r.Skipped, r.OK, r.Diverged, r.Failed)
	if len(r.Errors) > 0 {
		s += fmt.Sprintf(", %d errors (to retry)", len(r.Errors))
	}
	if r.Corrupt > 0 {
		s += fmt.Sprintf(", %d corrupt files recomputed", r.Corrupt)
	}
	return s
}

// Run computes the selected cells that do not yet have a valid result file,
// in the groups of Groups (cells a kind computes together; one cell each
// without such kinds), opt.Workers groups at a time, writing each cell's
// result atomically as soon as its group is done. It
// can be interrupted at any point (ctx, a signal, a kill -9, a lost node)
// and run again: finished cells are kept and skipped, unfinished ones have
// no file and are redone, and a corrupt file is detected and redone.
// Several processes may run the same or overlapping cells at once: each
// writes complete files by rename, so the worst case is duplicated work.
//
// The error is nil when every selected cell has a result (ok or diverged);
// it satisfies IsPermanent when some cell failed permanently (and no cell
// had a transient error); otherwise it is transient. ExitCode maps it to the
// worker's exit status.
func (s *Sweep) Run(ctx context.Context, opt RunOptions) (RunSummary, error) {
	var sum RunSummary
	if opt.Results == "" {
		return sum, errors.New("sweep: no results folder given")
	}
	for _, k := range s.Kinds {
		if _, ok := LookupKind(k); !ok {
			return sum, Permanentf("sweep: kind %q is not available in this build (available: %s)", k, strings.Join(Kinds(), ", "))
		}
	}
	cells := opt.Cells
	if cells == nil {
		cells = make([]int, s.n)
		for i := range cells {
			cells[i] = i
		}
	}
	for _, i := range cells {
		if i < 0 || i >= s.n {
			return sum, Permanentf("sweep: cell %d out of range: the sweep has %d cells (0 to %d)", i, s.n, s.n-1)
		}
	}
	sum.Selected = len(cells)
	dir := s.Dir(opt.Results)
	if err := os.MkdirAll(s.cellsDir(opt.Results), 0o755); err != nil {
		return sum, fmt.Errorf("sweep: results folder: %v", err)
	}
	// Temporaries of cells whose worker was killed mid-write.
	atomicfile.RemoveStale(s.cellsDir(opt.Results), ".*.tmp-*")
	specPath := dir + string(os.PathSeparator) + "sweep.json"
	if _, err := os.Stat(specPath); err != nil {
		if err := atomicfile.WriteBytes(specPath, s.canonical); err != nil {
			return sum, fmt.Errorf("sweep: %v", err)
		}
	}
	logf := func(format string, args ...any) {
		if opt.Log != nil {
			fmt.Fprintf(opt.Log, format+"\n", args...)
		}
	}
	removeStaleTemps(s.cellsDir(opt.Results), staleAfter)
	var mu sync.Mutex
	done := 0
	count := func(st Status, i int, reason string) {
		switch st {
		case StatusOK:
			sum.OK++
		case StatusDiverged:
			sum.Diverged++
		case StatusFailed:
			sum.Failed++
			sum.Failures = append(sum.Failures, CellError{i, errors.New(reason)})
		}
	}
	var todo []int
	for _, i := range cells {
		r, err := s.ReadCell(opt.Results, i)
		switch {
		case err == nil && (r.Status != StatusFailed || !opt.RetryFailed):
			sum.Skipped++
			count(r.Status, i, r.Reason)
		case err == nil || errors.Is(err, os.ErrNotExist):
			todo = append(todo, i)
		default:
			sum.Corrupt++
			logf("sweep: cell %d: recomputing: %v", i, err)
			todo = append(todo, i)
		}
	}
	if opt.Progress != nil && len(todo) > 0 {
		opt.Progress(0, len(todo))
	}
	limit, _ := s.memoryLimit()
	groups := s.Groups(todo, limit)
	workers := max(opt.Workers, 1)
	jobs := make(chan []int)
	var wg sync.WaitGroup
	// partial holds, per running group, the cells' worth of work it has
	// reported done; mu guards it with done.
	partial := map[*int]float64{}
	report := func() {
		if opt.Progress == nil {
			return
		}
		sum := float64(done)
		for _, p := range partial {
			sum += p
		}
		opt.Progress(sum, len(todo))
	}
	for range min(workers, max(len(groups), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range jobs {
				id := new(int)
				gctx := withProgress(ctx, func(frac float64) {
					mu.Lock()
					partial[id] = frac * float64(len(g))
					report()
					mu.Unlock()
				})
				recs, errs := s.computeGroup(gctx, g)
				for j, i := range g {
					rec, err := recs[j], errs[j]
					if err == nil {
						var data []byte
						data, err = encodeRecord(rec)
						if err == nil {
							err = atomicfile.WriteBytes(s.CellPath(opt.Results, i), data)
						}
					}
					mu.Lock()
					if err != nil {
						sum.Errors = append(sum.Errors, CellError{i, err})
						if ctx.Err() == nil {
							logf("sweep: cell %d: %v (transient; rerun to retry)", i, err)
						}
					} else {
						sum.Computed++
						count(rec.Status, i, rec.Reason)
						if rec.Status == StatusFailed {
							logf("sweep: cell %d failed: %s", i, rec.Reason)
						}
					}
					done++
					mu.Unlock()
				}
				mu.Lock()
				delete(partial, id)
				report()
				mu.Unlock()
			}
		}()
	}
feed:
	for _, g := range groups {
		select {
		case jobs <- g:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return sum, fmt.Errorf("sweep: interrupted after computing %d cells: %v", sum.Computed, err)
	}
	if len(sum.Errors) > 0 {
		return sum, fmt.Errorf("sweep: %d cells had transient errors (rerun to retry them), first: %v", len(sum.Errors), sum.Errors[0])
	}
	if len(sum.Failures) > 0 {
		return sum, Permanentf("sweep: %d cells failed permanently, first: %v", len(sum.Failures), sum.Failures[0])
	}
	return sum, nil
}

// staleAfter is the age past which a temporary file in the cells folder is
// the leftover of a killed writer: a live writer holds one for milliseconds.
const staleAfter = 10 * time.Minute

// removeStaleTemps deletes the temporary files of writers killed while
// writing (the results themselves are never affected).
func removeStaleTemps(dir string, age time.Duration) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") || !strings.Contains(e.Name(), ".tmp-") {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > age {
			os.Remove(dir + string(os.PathSeparator) + e.Name())
		}
	}
}

func (s *Sweep) cellsDir(root string) string {
	return s.Dir(root) + string(os.PathSeparator) + "cells"
}

// computeGroup runs every kind of the cells idx (one group of Groups) and
// returns their records, or per cell a transient error. A kind with a
// Group computes the cells still running together (alone when only one
// is left); the others compute each cell alone. A permanent failure is a
// record with status failed, and a failed cell runs no further kind.
func (s *Sweep) computeGroup(ctx context.Context, idx []int) ([]*Record, []error) {
	n := len(idx)
	recs, errs := make([]*Record, n), make([]error, n)
	cs := make([]Cell, n)
	starts := make([]time.Time, n)
	for j, i := range idx {
		cs[j], starts[j] = s.Cell(i), time.Now()
		recs[j] = s.startRecord(cs[j], starts[j])
		if n > 1 {
			recs[j].Group = n
		}
	}
	outer, _ := ctx.Value(progressKey{}).(func(float64))
	for ik, name := range s.Kinds {
		k, _ := LookupKind(name)
		ctx := ctx
		if outer != nil { // kind ik's fraction, as a fraction of all kinds
			ctx = withProgress(ctx, func(frac float64) { outer((float64(ik) + frac) / float64(len(s.Kinds))) })
		}
		var live []int
		for j, r := range recs {
			if errs[j] == nil && r.Status != StatusFailed {
				live = append(live, j)
			}
		}
		if len(live) == 0 {
			break
		}
		if k.Group != nil && len(live) > 1 {
			group := make([]Cell, len(live))
			for g, j := range live {
				group[g] = cs[j]
			}
			t0 := time.Now()
			res, rerr := runGroup(ctx, k, group)
			secs := time.Since(t0).Seconds() / float64(len(live))
			for g, j := range live {
				errs[j] = addKind(recs[j], name, res[g], rerr[g], secs)
			}
			continue
		}
		for _, j := range live {
			t0 := time.Now()
			res, err := runKind(ctx, k, cs[j])
			errs[j] = addKind(recs[j], name, res, err, time.Since(t0).Seconds())
		}
	}
	for j, r := range recs {
		if errs[j] != nil {
			recs[j] = nil
			continue
		}
		r.Seconds = time.Since(starts[j]).Seconds()
	}
	return recs, errs
}

// startRecord returns the record of cell c before any kind runs: failed
// already when its spec is invalid or a kind's memory estimate exceeds the
// limit (max_memory, else this machine's memory), so that it fails before
// it allocates anything instead of being killed.
func (s *Sweep) startRecord(c Cell, start time.Time) *Record {
	host, _ := os.Hostname()
	rec := &Record{
		Format:  CellFormat,
		Sweep:   s.hash,
		Index:   c.Index,
		Params:  c.ParamMap(),
		Spec:    c.Spec,
		Seed:    c.Seed,
		Status:  StatusOK,
		Results: map[string]KindRecord{},
		Started: start.UTC().Round(time.Millisecond),
		Host:    host,
	}
	fail := func(reason string) *Record {
		rec.Status = StatusFailed
		rec.Reason = reason
		return rec
	}
	if c.SpecErr != nil {
		return fail(fmt.Sprintf("spec: %v", c.SpecErr))
	}
	if err := c.Spec.Validate(); err != nil {
		return fail(err.Error())
	}
	limit, limitName := s.memoryLimit()
	if limit > 0 {
		for _, name := range s.Kinds {
			k, _ := LookupKind(name)
			if k.Cost == nil {
				continue
			}
			if cost, ok := k.Cost(c); ok && cost.MemoryBytes > limit {
				return fail(fmt.Sprintf("%s: memory estimate %s exceeds %s", name, FormatBytes(cost.MemoryBytes), limitName))
			}
		}
	}
	return rec
}

// memoryLimit returns the memory a cell may use: max_memory, else this
// machine's memory (0 when unknown), and how to name it in a reason.
func (s *Sweep) memoryLimit() (int64, string) {
	if s.maxMem > 0 {
		return s.maxMem, "max_memory " + s.MaxMemory
	}
	m := physicalMemory()
	return m, "this machine's memory of " + FormatBytes(m) + " (set max_memory to choose a limit)"
}

// addKind adds kind name's outcome (res, err) for one cell to its record
// and returns the error when it is transient (the cell then has no
// record). A permanent error fails the record.
func addKind(rec *Record, name string, res Result, err error, seconds float64) error {
	kr := KindRecord{Status: res.Status, Reason: res.Reason, Seconds: seconds}
	fail := func(reason string) error {
		rec.Status = StatusFailed
		rec.Reason = reason
		return nil
	}
	if err != nil {
		if !IsPermanent(err) {
			return fmt.Errorf("%s: %w", name, err)
		}
		kr.Status, kr.Reason = StatusFailed, err.Error()
		rec.Results[name] = kr
		return fail(fmt.Sprintf("%s: %v", name, err))
	}
	if kr.Status == "" {
		kr.Status = StatusOK
	}
	if kr.Status != StatusOK && kr.Status != StatusDiverged {
		return fail(fmt.Sprintf("%s: returned status %q (want ok or diverged)", name, kr.Status))
	}
	kr.Scalars, kr.Arrays = fileValues(res.Scalars, res.Arrays)
	rec.Results[name] = kr
	if kr.Status == StatusDiverged && rec.Status == StatusOK {
		rec.Status = StatusDiverged
		rec.Reason = name + ": " + kr.Reason
	}
	return nil
}

// runKind calls the kind, turning a panic into a permanent failure: the
// cell is deterministic, so it would panic again.
func runKind(ctx context.Context, k Kind, c Cell) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			if os.Getenv("NTKHARNESS_DEBUG") != "" {
				os.Stderr.Write(debug.Stack())
			}
			err = Permanentf("internal error: %v", p)
		}
	}()
	return k.Run(ctx, c)
}

// FormatBytes writes n bytes with a binary unit, e.g. "1.5 GiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// physicalMemory returns the machine's total memory in bytes (MemTotal of
// /proc/meminfo), or 0 where it cannot be read.
var physicalMemory = sync.OnceValue(func() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb); err == nil && kb > 0 {
				return kb << 10
			}
		}
	}
	return 0
})
