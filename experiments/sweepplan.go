package experiments

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/internal/atomicfile"
)

// SweepPlan is how a figure computes its paper scale: independent cells
// grouped in sweeps (package sweep), and a function that draws the figure
// from their gathered tables. The cells run locally, resumably, or on a
// cluster from the sweep files Make writes beside the figure.
type SweepPlan struct {
	Files []sweep.File
	// Draw makes the figure from one table per file, in order. Failed
	// cells must show as gaps (column returns NaN for them); diverged cells
	// keep the values recorded before the divergence.
	Draw func(tables []sweep.Table) (Result, error)
}

// sweepFile is where Make writes the k-th sweep file of figure name.
func sweepFile(dir, name string, k int) string {
	return filepath.Join(dir, fmt.Sprintf("%s.sweep%d.json", name, k+1))
}

// resultsRoot is the sweep results root of a run: cfg.Results, or
// dir/sweeps.
func resultsRoot(dir string, cfg Config) string {
	if cfg.Results != "" {
		return cfg.Results
	}
	return filepath.Join(dir, "sweeps")
}

// runPlan writes the plan's sweep files into dir, computes the cells that
// have no result under the results root (unless cfg.NoRun), gathers the
// tables and draws the figure. Finished cells are never recomputed, so an
// interrupted run loses at most the cells in flight. Missing cells are an
// error naming them, unless cfg.Partial: then they are gaps.
func runPlan(name, dir string, cfg Config, plan SweepPlan) (Result, error) {
	root := resultsRoot(dir, cfg)
	sweeps := make([]*sweep.Sweep, len(plan.Files))
	total := 0
	for k, f := range plan.Files {
		s, err := sweep.New(f)
		if err == nil {
			err = s.CheckKinds()
		}
		if err != nil {
			return Result{}, fmt.Errorf("sweep %d: %w", k+1, err)
		}
		path := sweepFile(dir, name, k)
		if err := atomicfile.Write(path, func(w io.Writer) error {
			_, err := w.Write(append(s.Canonical(), '\n'))
			return err
		}); err != nil {
			return Result{}, fmt.Errorf("sweep file: %w", err)
		}
		sweeps[k] = s
		total += s.Len()
	}
	tables := make([]sweep.Table, len(sweeps))
	var missing []string
	before := 0
	for k, s := range sweeps {
		if !cfg.NoRun {
			_, err := s.Run(context.Background(), sweep.RunOptions{Results: root, Workers: cfg.Workers, RetryFailed: cfg.RetryFailed, Log: cfg.Log,
				Progress: func(done float64, todo int) {
					if cfg.Progress != nil {
						// Cells done before this run count as finished work.
						cfg.Progress(before+s.Len()-todo+int(done), total)
					}
				}})
			if err != nil && !sweep.IsPermanent(err) {
				return Result{}, fmt.Errorf("sweep %s: %w (rerun to continue; finished cells are kept)", sweepFile(dir, name, k), err)
			}
		}
		before += s.Len()
		t, err := sweep.Gather(s, root)
		switch {
		case err != nil && !cfg.NoRun:
			return Result{}, err
		case err != nil: // no results folder yet: every cell is missing
			missing = append(missing, fmt.Sprintf("all %d cells of %s", s.Len(), sweepFile(dir, name, k)))
			t.Rows = make([]sweep.Row, s.Len())
			for i := range t.Rows {
				t.Rows[i] = sweep.Row{Index: i, Params: s.Cell(i).ParamMap(), Status: sweep.StatusMissing, Reason: "no results folder"}
			}
		case t.Counts()[sweep.StatusMissing] > 0:
			missing = append(missing, fmt.Sprintf("%d of %d cells of %s", t.Counts()[sweep.StatusMissing], s.Len(), sweepFile(dir, name, k)))
		}
		tables[k] = t
	}
	if len(missing) > 0 && !cfg.Partial {
		return Result{}, fmt.Errorf("no results under %s for %s; compute them with `ntkharness sweep run FILE --results %s` (or on a cluster: `ntkharness sweep emit k8s|slurm FILE`), then draw again",
			root, strings.Join(missing, ", "), root)
	}
	res, err := plan.Draw(tables)
	if err != nil {
		return Result{}, err
	}
	failed, absent, cells := 0, 0, 0
	for _, t := range tables {
		failed += t.Counts()[sweep.StatusFailed]
		absent += t.Counts()[sweep.StatusMissing]
		cells += len(t.Rows)
	}
	if failed > 0 {
		res.Caption.Observed += fmt.Sprintf(" %d of the %d sweep cells failed and are gaps in the figure (`ntkharness sweep gather` lists their reasons).", failed, cells)
	}
	if absent > 0 {
		res.Incomplete = true
		res.Caption.Observed = fmt.Sprintf("PARTIAL: %d of the %d sweep cells are not computed yet and are gaps. ", absent, cells) + res.Caption.Observed
		res.Figure.Title = fmt.Sprintf("PARTIAL (%d of %d cells missing): %s", absent, cells, res.Figure.Title)
	}
	return res, nil
}

// column returns the scalar col ("kind.name") of row r, NaN when the cell
// failed, is missing or lacks it.
func column(r sweep.Row, col string) float64 {
	if r.Status != sweep.StatusOK && r.Status != sweep.StatusDiverged {
		return math.NaN()
	}
	if v, ok := r.Value(col); ok {
		return v
	}
	return math.NaN()
}

// sweepData resolves cfg's data set for the settings of a sweep: the
// dataset (and CIFAR-10 location, when given) so that every cell reads the
// same data, and the note for captions. Without CIFAR-10 the sweep says
// mnist explicitly rather than relying on each cell's fallback.
func sweepData(cfg Config) (settings map[string]any, note string, err error) {
	cfg, err = cfg.validate()
	if err != nil {
		return nil, "", err
	}
	_, _, note, why, err := loadData(cfg)
	if err != nil {
		return nil, "", err
	}
	settings = map[string]any{"dataset": cfg.Dataset}
	switch {
	case why != "":
		settings["dataset"] = datasets.MNIST
	case cfg.CIFAR10 != "" && cfg.Dataset == datasets.CIFAR10:
		settings["cifar10"] = cfg.CIFAR10
	}
	return settings, note, nil
}

// floatAxis and intAxis make sweep axes of numbers.
func floatAxis(v []float64) sweep.Axis {
	a := sweep.Axis{Values: make([]any, len(v))}
	for i, x := range v {
		a.Values[i] = x
	}
	return a
}

func intAxis(v []int) sweep.Axis { return floatAxis(intsToFloats(v)) }

func intsToFloats(v []int) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// nearest returns the index of the grid value equal (to 1e-9 relative) to
// the axis value v, or -1.
func nearest(grid []float64, v any) int {
	x, ok := v.(float64)
	if !ok {
		return -1
	}
	for i, g := range grid {
		if math.Abs(g-x) <= 1e-9*math.Max(1, math.Abs(g)) {
			return i
		}
	}
	return -1
}

// tableCurve returns the rows' axis values and scalar col, in row order,
// skipping rows without a finite value of col.
func tableCurve(t sweep.Table, axis, col string) (xs, ys []float64) {
	for _, r := range t.Rows {
		x, ok := r.Params[axis].(float64)
		y := column(r, col)
		if ok && !math.IsNaN(y) && !math.IsInf(y, 0) {
			xs, ys = append(xs, x), append(ys, y)
		}
	}
	return xs, ys
}
