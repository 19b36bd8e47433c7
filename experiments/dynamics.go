package experiments

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"

	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/ntkempirical"
	"github.com/ntkharness/ntkharness/plots"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
	"github.com/ntkharness/ntkharness/train"
)

func init() {
	register(Spec{Name: "dynamics", Title: "Training dynamics against the linearized predictions",
		Summary: "train and test loss vs step of trained FCNs of several widths, with the linearizations by their own empirical NTK and by the analytic NTK",
		Run:     runDynamics, Paper: paperDynamics})
	// "dynamics": a network of the cell's spec trained by full-batch
	// gradient descent at eta_frac * eta_crit (analytic), and its two
	// linearizations (empirical NTK at initialization, analytic NTK) at
	// the same steps; see runDynamicsCell.
	sweep.RegisterKind("dynamics", runDynamicsCell, sweep.WithCost(dynamicsCost))
}

// DynamicsRun is one trained network with its two linearizations: the
// losses of gradient descent f <- f - (eta/(N k)) Theta (f - y) started from
// the network's own initial outputs, with Theta its empirical NTK at
// initialization (Emp) or the analytic NTK (Ana), at the logged steps
// (powers of two and the last; step 0 is left out).
type DynamicsRun struct {
	Width             int
	Steps             []float64
	Train, Test       []float64 // the trained network
	EmpTrain, EmpTest []float64
	AnaTrain, AnaTest []float64
	EtaCrit, LR       float64 // eta_crit of the analytic NTK and the step size used
	Status            string  // of the training run: train.Done or train.Diverged
}

// Dynamics trains a network of spec s (initialization seed) on the data
// for steps steps at eta = 0.5 eta_crit of the analytic NTK and evaluates
// both linearizations at the same eta.
func Dynamics(s spec.Spec, xTr, xTe npy.Array, y, yTe *mat.Dense, steps int, seed uint64) (DynamicsRun, error) {
	return dynamics(context.Background(), s, xTr, xTe, y, yTe, steps, 0.5, seed)
}

// dynamics is Dynamics at eta = etaFrac * eta_crit. A cancelled ctx stops
// the training and returns ctx's error.
func dynamics(ctx context.Context, s spec.Spec, xTr, xTe npy.Array, y, yTe *mat.Dense, steps int, etaFrac float64, seed uint64) (DynamicsRun, error) {
	net, err := nets.New(s, xTr.Shape[1:], ntkempirical.SeedSource(seed, 0))
	if err != nil {
		return DynamicsRun{}, err
	}
	defer net.Close()
	f0tr, err := net.Forward(xTr)
	if err != nil {
		return DynamicsRun{}, err
	}
	f0te, err := net.Forward(xTe)
	if err != nil {
		return DynamicsRun{}, err
	}
	n, m := xTr.Shape[0], xTe.Shape[0]
	all := npy.Array{Shape: append([]int{n + m}, xTr.Shape[1:]...), Data: append(append([]float64(nil), xTr.Data...), xTe.Data...)}
	emp, err := ntkempirical.Compute(net, all, npy.Array{}, ntkempirical.Options{})
	if err != nil {
		return DynamicsRun{}, fmt.Errorf("empirical NTK: %w", err)
	}
	ana, err := theory.Compute(s, all, npy.Array{}, theory.Options{})
	if err != nil {
		return DynamicsRun{}, fmt.Errorf("analytic NTK: %w", err)
	}
	h, err := train.Run(ctx, net, train.Data{XTrain: xTr, YTrain: y, XTest: xTe, YTest: yTe},
		train.Options{Steps: steps, LRFactor: etaFrac, LambdaMax: analyticLambdaMax, Seed: seed}, nil)
	if err != nil {
		return DynamicsRun{}, err
	}
	if h.Status == train.Interrupted {
		return DynamicsRun{}, fmt.Errorf("training interrupted at step %d: %w", h.Step, context.Cause(ctx))
	}
	r := DynamicsRun{Width: s.Width, EtaCrit: h.EtaCrit, LR: h.LR, Status: h.Status}
	preds := make([]*theory.Predictor, 2)
	for i, k := range []*mat.Dense{emp.NTK, ana.NTK} {
		theta := mat.NewSymDense(n, nil)
		for a := 0; a < n; a++ {
			for b := a; b < n; b++ {
				theta.SetSym(a, b, 0.5*(k.At(a, b)+k.At(b, a)))
			}
		}
		td := mat.DenseCopyOf(k.Slice(n, n+m, 0, n))
		if preds[i], err = theory.NewPredictor(theta, td, y, &theory.PredictorOptions{FTrain0: f0tr, FTest0: f0te}); err != nil {
			return r, err
		}
	}
	for _, p := range h.Points {
		if p.Step == 0 {
			continue
		}
		t := float64(p.Step)
		r.Steps = append(r.Steps, t)
		r.Train = append(r.Train, float64(p.TrainLoss))
		r.Test = append(r.Test, float64(p.TestLoss))
		for i, pr := range preds {
			ftr, fte, err := pr.At(theory.Steps, h.LR, t)
			if err != nil {
				return r, err
			}
			a, err := theory.MSELoss(ftr, y)
			if err != nil {
				return r, err
			}
			b, err := theory.MSELoss(fte, yTe)
			if err != nil {
				return r, err
			}
			if i == 0 {
				r.EmpTrain, r.EmpTest = append(r.EmpTrain, a), append(r.EmpTest, b)
			} else {
				r.AnaTrain, r.AnaTest = append(r.AnaTrain, a), append(r.AnaTest, b)
			}
		}
	}
	return r, nil
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
func (g DynamicsGrid) data(cfg Config) dataSettings {
	d := defaultDataSettings()
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
	runs := make([][]DynamicsRun, len(g.Widths))
	done, total := 0, len(g.Widths)*len(g.Seeds)
	for iw, w := range g.Widths {
		for _, seed := range g.Seeds {
			d, err := g.data(cfg).load(spec.FCN, seed)
			if err != nil {
				return Result{}, err
			}
			r, err := dynamics(context.Background(), g.spec(w, d.y.RawMatrix().Cols), d.xTrain, d.xTest, d.y, d.yTest, g.Steps, g.EtaFrac, seed)
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

// dynamicsArrays are the names of a "dynamics" cell's arrays, in the order
// of the DynamicsRun fields they hold.
var dynamicsArrays = []string{"step", "train_loss", "test_loss", "emp_train_loss", "emp_test_loss", "ana_train_loss", "ana_test_loss"}

// curves returns the fields of r named by dynamicsArrays.
func (r *DynamicsRun) curves() []*[]float64 {
	return []*[]float64{&r.Steps, &r.Train, &r.Test, &r.EmpTrain, &r.EmpTest, &r.AnaTrain, &r.AnaTest}
}

// runsFromTable returns the runs of the table's cells by width and seed of
// g; a cell without results (failed, missing) is a run with no steps.
func runsFromTable(g DynamicsGrid, t sweep.Table) [][]DynamicsRun {
	runs := make([][]DynamicsRun, len(g.Widths))
	seeds := make([]float64, len(g.Seeds))
	for i, s := range g.Seeds {
		seeds[i] = float64(s)
	}
	for iw, w := range g.Widths {
		runs[iw] = make([]DynamicsRun, len(g.Seeds))
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
		for i, c := range r.curves() {
			*c = row.Arrays["dynamics."+dynamicsArrays[i]].Data
		}
	}
	return runs
}

// dynamicsSettings are the settings of a "dynamics" cell.
type dynamicsSettings struct {
	dataSettings
	Steps   int     `json:"steps"`    // gradient steps; default 4096
	EtaFrac float64 `json:"eta_frac"` // eta / eta_crit, with eta_crit from the analytic NTK; default 0.5
}

// decode reads the settings of cell c with their defaults and checks them.
func (st *dynamicsSettings) decode(c sweep.Cell) error {
	*st = dynamicsSettings{dataSettings: defaultDataSettings(), Steps: 4096, EtaFrac: 0.5}
	if err := c.DecodeSettings(st); err != nil {
		return sweep.Permanent(err)
	}
	if st.Steps < 1 || !(st.EtaFrac > 0) || math.IsInf(st.EtaFrac, 0) {
		return sweep.Permanentf("dynamics: steps %d, eta_frac %g: want steps >= 1 and a finite eta_frac > 0", st.Steps, st.EtaFrac)
	}
	return nil
}

// runDynamicsCell trains the cell's network on its data (cell seed for the
// data subsets and the initialization) as Dynamics does. Arrays: step and
// the network's train_loss and test_loss with the linearized
// emp_{train,test}_loss and ana_{train,test}_loss at those steps (the loss
// is (1/(2 N k)) sum (f - y)^2). Scalars: eta_crit, lr, and the same seven
// at the last step as <name>_last. A network whose loss blows up is a
// diverged result with the steps reached.
func runDynamicsCell(ctx context.Context, c sweep.Cell) (sweep.Result, error) {
	s, err := cellSpec(c, true)
	if err != nil {
		return sweep.Result{}, err
	}
	var st dynamicsSettings
	if err := st.decode(c); err != nil {
		return sweep.Result{}, err
	}
	d, err := st.load(s.Arch, uint64(c.Seed))
	if err != nil {
		return sweep.Result{}, err
	}
	if k := d.y.RawMatrix().Cols; s.Outputs != k {
		return sweep.Result{}, sweep.Permanentf("dynamics: the spec has %d outputs but the data set has %d classes", s.Outputs, k)
	}
	r, err := dynamics(ctx, s, d.xTrain, d.xTest, d.y, d.yTest, st.Steps, st.EtaFrac, uint64(c.Seed))
	if err != nil {
		if ctx.Err() != nil {
			return sweep.Result{}, err
		}
		return sweep.Result{}, sweep.Permanent(err)
	}
	res := sweep.Result{Status: sweep.StatusOK, Scalars: map[string]float64{"eta_crit": r.EtaCrit, "lr": r.LR}, Arrays: map[string]npy.Array{}}
	if r.Status == train.Diverged {
		res.Status, res.Reason = sweep.StatusDiverged, "the training loss blew up"
	}
	for i, c := range r.curves() {
		v := *c
		res.Arrays[dynamicsArrays[i]] = npy.Array{Shape: []int{len(v)}, Data: v}
		last := math.NaN()
		if len(v) > 0 {
			last = v[len(v)-1]
		}
		res.Scalars[dynamicsArrays[i]+"_last"] = finiteOrNaN(last)
	}
	return res, nil
}

// dynamicsCost is the cost of the training run (costTrain: gradient
// descent and the analytic NTK for eta_crit) plus that of the empirical and
// analytic NTKs on the N + M training and test points (costNTK).
func dynamicsCost(c sweep.Cell) (sweep.Cost, bool) {
	var st dynamicsSettings
	if st.decode(c) != nil {
		return sweep.Cost{}, false
	}
	tr, ok := costTrain(c)
	if !ok {
		return sweep.Cost{}, false
	}
	kc := c
	kc.Settings = map[string]any{}
	for k, v := range c.Settings {
		kc.Settings[k] = v
	}
	kc.Settings["n_train"] = st.NTrain + st.NTest
	k, ok := costNTK(kc)
	if !ok {
		return sweep.Cost{}, false
	}
	return sweep.Cost{Seconds: tr.Seconds + k.Seconds, MemoryBytes: tr.MemoryBytes + k.MemoryBytes}, true
}

// dynamicsResult draws, per width, the train (row 1) and test (row 2)
// losses of the trained networks (mean and standard deviation over seeds)
// and of their two linearizations (mean over seeds), and states in the
// caption the largest relative gap between the network and its empirical
// linearization per width.
func dynamicsResult(g DynamicsGrid, runs [][]DynamicsRun, note, why string) Result {
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
	DynamicsRun
	TrainSD, TestSD []float64
}

func meanDynamics(runs []DynamicsRun) dynamicsMean {
	var m dynamicsMean
	for _, r := range runs {
		if len(r.Steps) > len(m.Steps) {
			m.Steps = r.Steps
		}
	}
	mc := m.curves()
	sds := map[int]*[]float64{1: &m.TrainSD, 2: &m.TestSD} // the network's losses
	for i := 1; i < len(mc); i++ {
		sd := sds[i]
		for j, t := range m.Steps {
			var v []float64
			for _, r := range runs {
				rc := r.curves()
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
