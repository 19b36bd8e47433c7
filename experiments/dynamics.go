package experiments

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat"

	"github.com/ntkharness/ntkharness/experiments/cells"
	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/plots"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/train"
)

func init() {
	register(Figure{Name: "dynamics", Title: "Training dynamics against the linearized predictions",
		Summary: "train and test loss vs step of trained FCNs of several widths, with the linearizations by their own empirical NTK and by the analytic NTK",
		Run:     runDynamics, Paper: paperDynamics})
}

// DynamicsGrid is the setting of the dynamics figure: erf FCNs of depth
// Depth at (SW2, SB2) and each of Widths, one data subset and
// initialization per seed of Seeds, trained on NTrain points (tested on
// NTest) for Steps steps at EtaFrac * eta_crit.
type DynamicsGrid struct {
	Widths               []int
	Seeds                []uint64
	Depth                int
	SW2, SB2             float64
	NTrain, NTest, Steps int
	EtaFrac              float64
}

// dynamicsGrid returns the grid of a scale, with seeds from seed on. The
// paper grid: widths 128 to 4096, 4 seeds, 256 training points, 4096 steps.
func dynamicsGrid(scale string, seed uint64) DynamicsGrid {
	g := DynamicsGrid{Widths: []int{64, 256, 1024}, Seeds: []uint64{seed}, Depth: 3, SW2: 1.5, SB2: 0.05, NTrain: 32, NTest: 32, Steps: 256, EtaFrac: 0.5}
	if scale == Paper {
		g.Widths = []int{128, 256, 512, 1024, 2048, 4096}
		g.Seeds = []uint64{seed, seed + 1, seed + 2, seed + 3}
		g.NTrain, g.NTest, g.Steps = 256, 256, 4096
	}
	return g
}

// spec is the network of g at width w with k outputs.
func (g DynamicsGrid) spec(w, k int) spec.Spec {
	return spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: g.Depth, Width: w, SW2: g.SW2, SB2: g.SB2, Outputs: k}
}

// data is the data selection of g's cells for the data set of cfg.
func (g DynamicsGrid) data(cfg Config) cells.DataSettings {
	d := cells.DefaultDataSettings()
	d.Dataset, d.CIFAR10, d.NTrain, d.NTest = cfg.Dataset, cfg.CIFAR10, g.NTrain, g.NTest
	return d
}

// runDynamics computes the grid of cfg's scale in this process (the quick
// scale; the paper scale runs as paperDynamics' sweep).
func runDynamics(cfg Config) (Result, error) {
	return dynamicsDirect(cfg, dynamicsGrid(cfg.Scale, cfg.Seed))
}

// dynamicsDirect computes grid g in this process, one network after the
// other, each on the data its sweep cell would draw.
func dynamicsDirect(cfg Config, g DynamicsGrid) (Result, error) {
	_, _, note, why, err := loadData(cfg)
	if err != nil {
		return Result{}, err
	}
	runs := make([][]cells.DynamicsRun, len(g.Widths))
	done, total := 0, len(g.Widths)*len(g.Seeds)
	for iw, w := range g.Widths {
		for _, seed := range g.Seeds {
			d, err := g.data(cfg).Load(spec.FCN, seed)
			if err != nil {
				return Result{}, err
			}
			r, err := cells.RunDynamics(context.Background(), g.spec(w, d.Y.RawMatrix().Cols), d.XTrain, d.XTest, d.Y, d.YTest, g.Steps, g.EtaFrac, seed)
			if err != nil {
				return Result{}, fmt.Errorf("width %d seed %d: %w", w, seed, err)
			}
			runs[iw] = append(runs[iw], r)
			done++
			if cfg.Progress != nil {
				cfg.Progress(done, total)
			}
		}
	}
	return dynamicsResult(g, runs, note, why), nil
}

// paperDynamics is the paper scale of the dynamics figure: one "dynamics"
// sweep over width x seed, drawn by the same code as the quick scale.
func paperDynamics(cfg Config) (SweepPlan, error) {
	return dynamicsPlan(cfg, dynamicsGrid(Paper, cfg.Seed))
}

// dynamicsPlan is the sweep plan of the dynamics figure on grid g.
func dynamicsPlan(cfg Config, g DynamicsGrid) (SweepPlan, error) {
	data, note, err := sweepData(cfg)
	if err != nil {
		return SweepPlan{}, err
	}
	st := map[string]any{"n_train": g.NTrain, "n_test": g.NTest, "steps": g.Steps, "eta_frac": g.EtaFrac}
	for k, v := range data {
		st[k] = v
	}
	seeds := make([]float64, len(g.Seeds))
	for i, s := range g.Seeds {
		seeds[i] = float64(s)
	}
	f := sweep.File{
		Name:     "dynamics",
		Spec:     g.spec(1, spec.DefaultOutputs),
		Grid:     map[string]sweep.Axis{"width": intAxis(g.Widths), sweep.SeedAxis: floatAxis(seeds)},
		Order:    []string{"width", sweep.SeedAxis},
		Kinds:    []string{"dynamics"},
		Settings: st,
	}
	return SweepPlan{Files: []sweep.File{f}, Draw: func(tables []sweep.Table) (Result, error) {
		return dynamicsResult(g, runsFromTable(g, tables[0]), note, ""), nil
	}}, nil
}

// runsFromTable returns the runs of the table's cells by width and seed of
// g; a cell without results (failed, missing) is a run with no steps.
func runsFromTable(g DynamicsGrid, t sweep.Table) [][]cells.DynamicsRun {
	runs := make([][]cells.DynamicsRun, len(g.Widths))
	seeds := make([]float64, len(g.Seeds))
	for i, s := range g.Seeds {
		seeds[i] = float64(s)
	}
	for iw, w := range g.Widths {
		runs[iw] = make([]cells.DynamicsRun, len(g.Seeds))
		for is := range runs[iw] {
			runs[iw][is].Width = w
		}
	}
	for _, row := range t.Rows {
		iw, is := nearest(intsToFloats(g.Widths), row.Params["width"]), nearest(seeds, row.Params[sweep.SeedAxis])
		if iw < 0 || is < 0 || (row.Status != sweep.StatusOK && row.Status != sweep.StatusDiverged) {
			continue
		}
		r := &runs[iw][is]
		r.EtaCrit, r.LR = column(row, "dynamics.eta_crit"), column(row, "dynamics.lr")
		r.Status = train.Done
		if row.Status == sweep.StatusDiverged {
			r.Status = train.Diverged
		}
		for i, c := range r.Curves() {
			*c = row.Arrays["dynamics."+cells.DynamicsArrays[i]].Data
		}
	}
	return runs
}

// dynamicsResult draws, per width, the train (row 1) and test (row 2)
// losses of the trained networks (mean and standard deviation over seeds)
// and of their two linearizations (mean over seeds), and states in the
// caption the largest relative gap between the network and its empirical
// linearization per width.
func dynamicsResult(g DynamicsGrid, runs [][]cells.DynamicsRun, note, why string) Result {
	fig := plots.Figure{Title: fmt.Sprintf("erf FCN depth %d, sw2 = %g, sb2 = %g, %d %s training points, eta = %g eta_crit, %d seed(s)",
		g.Depth, g.SW2, g.SB2, g.NTrain, note, g.EtaFrac, len(g.Seeds)), Rows: 2, Cols: len(g.Widths)}
	var trainRow, testRow []plots.Panel
	obs := ""
	var nums []plots.KeyNumber
	for iw, w := range g.Widths {
		m := meanDynamics(runs[iw])
		mk := func(kind string, net, sd, emp, ana []float64) plots.Panel {
			return plots.Panel{Title: fmt.Sprintf("width %d: %s loss", w, kind), XLabel: "step", YLabel: kind + " loss", LogX: true, LogY: true, Series: []plots.Series{
				{Label: "trained network", X: m.Steps, Y: net, YErr: sd, Style: plots.LineMarkers, Color: 1},
				{Label: "linearized, empirical NTK", X: m.Steps, Y: emp, Style: plots.Line, Dashed: true, Color: 2},
				{Label: "linearized, analytic NTK", X: m.Steps, Y: ana, Style: plots.Line, Dashed: true, Color: 3},
			}}
		}
		trainRow = append(trainRow, mk("train", m.Train, m.TrainSD, m.EmpTrain, m.AnaTrain))
		testRow = append(testRow, mk("test", m.Test, m.TestSD, m.EmpTest, m.AnaTest))
		if len(m.Steps) == 0 {
			obs += fmt.Sprintf("Width %d: no finished run. ", w)
			continue
		}
		last := len(m.Steps) - 1
		trGap, teGap := m.linearizationGaps()
		obs += fmt.Sprintf("Width %d at step %g: test loss %.4g (network), %.4g (empirical NTK), %.4g (analytic NTK). ", w, m.Steps[last], m.Test[last], m.EmpTest[last], m.AnaTest[last])
		nums = append(nums, plots.KeyNumber{Name: fmt.Sprintf("width %d: train loss, network vs empirical linearization", w), Value: fmt.Sprintf("%.3g", trGap),
			Note: fmt.Sprintf("largest difference over steps 1-%g, relative to the linearized loss at step 1", m.Steps[last])},
			plots.KeyNumber{Name: fmt.Sprintf("width %d: test loss, network vs empirical linearization", w), Value: fmt.Sprintf("%.3g", teGap),
				Note: fmt.Sprintf("relative difference at step %g", m.Steps[last])})
	}
	fig.Panels = append(trainRow, testRow...)
	if why != "" {
		nums = append(nums, plots.KeyNumber{Name: "CIFAR-10", Value: "not used", Note: why})
	}
	return Result{Figure: fig, Caption: plots.ReportFigure{
		Theory:   "As the width grows, gradient descent follows the linearized dynamics driven by the network's own empirical NTK, and that kernel approaches the analytic one, so all three curves merge.",
		Observed: obs,
		Numbers:  nums,
	}}
}

// dynamicsMean is the mean over seeds of the runs of one width at the
// steps of the longest run, with the standard deviation of the network's
// losses (NaN from one run); each mean is over the runs that reached the
// step with a finite value.
type dynamicsMean struct {
	cells.DynamicsRun
	TrainSD, TestSD []float64
}

func meanDynamics(runs []cells.DynamicsRun) dynamicsMean {
	var m dynamicsMean
	for _, r := range runs {
		if len(r.Steps) > len(m.Steps) {
			m.Steps = r.Steps
		}
	}
	mc := m.Curves()
	sds := map[int]*[]float64{1: &m.TrainSD, 2: &m.TestSD} // the network's losses
	for i := 1; i < len(mc); i++ {
		sd := sds[i]
		for j, t := range m.Steps {
			var v []float64
			for _, r := range runs {
				rc := r.Curves()
				if j < len(r.Steps) && r.Steps[j] == t && !math.IsNaN((*rc[i])[j]) && !math.IsInf((*rc[i])[j], 0) {
					v = append(v, (*rc[i])[j])
				}
			}
			mean, s := math.NaN(), math.NaN()
			if len(v) > 0 {
				mean, s = stat.MeanStdDev(v, nil) // s is NaN for one value
			}
			*mc[i] = append(*mc[i], mean)
			if sd != nil {
				*sd = append(*sd, s)
			}
		}
	}
	return m
}

// linearizationGaps measures how far the mean network of m is from its
// empirical linearization: the largest |L_net - L_emp| of the train loss
// over the steps relative to L_emp at the first step, and |L_net - L_emp| /
// L_emp of the test loss at the last step. Steps with a non-finite loss are
// skipped; NaN without steps.
func (m dynamicsMean) linearizationGaps() (train, test float64) {
	train, test = math.NaN(), math.NaN()
	if len(m.Steps) == 0 {
		return train, test
	}
	for i := range m.Steps {
		if d := math.Abs(m.Train[i]-m.EmpTrain[i]) / m.EmpTrain[0]; !math.IsNaN(d) && !math.IsInf(d, 0) && !(d <= train) {
			train = d
		}
	}
	last := len(m.Steps) - 1
	return train, math.Abs(m.Test[last]-m.EmpTest[last]) / m.EmpTest[last]
}
