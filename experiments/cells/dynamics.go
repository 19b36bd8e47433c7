package cells

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/ntkempirical"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
	"github.com/ntkharness/ntkharness/train"
)

func init() {
	// "dynamics": a network of the cell's spec trained by full-batch
	// gradient descent at eta_frac * eta_crit (analytic), and its two
	// linearizations (empirical NTK at initialization, analytic NTK) at
	// the same steps; see runDynamicsCell.
	sweep.RegisterKind("dynamics", runDynamicsCell, sweep.WithCost(dynamicsCost), sweep.WithSettings(dynamicsSettings{}))
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
	return RunDynamics(context.Background(), s, xTr, xTe, y, yTe, steps, 0.5, seed)
}

// RunDynamics is Dynamics at eta = etaFrac * eta_crit. A cancelled ctx stops
// the training and returns ctx's error.
//
// The network trains as an ensemble of one (train.RunEnsemble: no graph,
// nothing allocated per step); its initial outputs and empirical NTK come
// from the same initialization as a Net.
func RunDynamics(ctx context.Context, s spec.Spec, xTr, xTe npy.Array, y, yTe *mat.Dense, steps int, etaFrac float64, seed uint64) (DynamicsRun, error) {
	e, err := nets.NewEnsemble([]spec.Spec{s}, xTr.Shape[1:], []*rand.Rand{nets.InitSource(seed, 0)})
	if err != nil {
		return DynamicsRun{}, err
	}
	defer e.Close()
	net := e.Member(0)
	defer net.Close()
	f0tr, err := net.Forward(xTr)
	if err != nil {
		return DynamicsRun{}, err
	}
	f0te, err := net.Forward(xTe)
	if err != nil {
		return DynamicsRun{}, err
	}
	n := xTr.Shape[0]
	all := theory.StackTrainTest(xTr, xTe)
	emp, err := ntkempirical.Compute(net, all, npy.Array{}, ntkempirical.Options{})
	if err != nil {
		return DynamicsRun{}, fmt.Errorf("empirical NTK: %w", err)
	}
	ana, err := theory.Compute(s, all, npy.Array{}, theory.Options{})
	if err != nil {
		return DynamicsRun{}, fmt.Errorf("analytic NTK: %w", err)
	}
	lm, err := train.SpecLambdaMax(s, xTr)
	if err == nil && (!(lm > 0) || math.IsInf(lm, 0)) {
		err = fmt.Errorf("lambda_max %v of the NTK is not positive and finite", lm)
	}
	if err != nil {
		return DynamicsRun{}, fmt.Errorf("learning rate: %w", err)
	}
	_, k := y.Dims()
	etaCrit := 2 * float64(n*k) / lm
	hs, err := train.RunEnsemble(ctx, e, train.Data{XTrain: xTr, YTrain: y, XTest: xTe, YTest: yTe},
		train.EnsembleOptions{Steps: steps, LR: []float64{etaFrac * etaCrit}, Seed: seed})
	if err != nil {
		return DynamicsRun{}, err
	}
	h := hs[0]
	h.LambdaMax, h.EtaCrit, h.LRFactor = lm, etaCrit, etaFrac
	if h.Status == train.Interrupted {
		return DynamicsRun{}, fmt.Errorf("training interrupted at step %d: %w", h.Step, context.Cause(ctx))
	}
	r := DynamicsRun{Width: s.Width, EtaCrit: h.EtaCrit, LR: h.LR, Status: h.Status}
	preds := make([]*theory.Predictor, 2)
	for i, k := range []*mat.Dense{emp.NTK, ana.NTK} {
		if preds[i], err = theory.NewTrainTestPredictor(k, n, y, &theory.PredictorOptions{FTrain0: f0tr, FTest0: f0te}); err != nil {
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

// DynamicsArrays are the names of a "dynamics" cell's arrays, in the order
// of the DynamicsRun fields they hold.
var DynamicsArrays = []string{"step", "train_loss", "test_loss", "emp_train_loss", "emp_test_loss", "ana_train_loss", "ana_test_loss"}

// curves returns the fields of r named by DynamicsArrays.
func (r *DynamicsRun) Curves() []*[]float64 {
	return []*[]float64{&r.Steps, &r.Train, &r.Test, &r.EmpTrain, &r.EmpTest, &r.AnaTrain, &r.AnaTest}
}

// dynamicsSettings are the settings of a "dynamics" cell.
type dynamicsSettings struct {
	DataSettings
	Steps   int     `json:"steps"`    // gradient steps; default 4096
	EtaFrac float64 `json:"eta_frac"` // eta / eta_crit, with eta_crit from the analytic NTK; default 0.5
}

// decode reads the settings of cell c with their defaults and checks them.
func (st *dynamicsSettings) decode(c sweep.Cell) error {
	*st = dynamicsSettings{DataSettings: DefaultDataSettings(), Steps: 4096, EtaFrac: 0.5}
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
	d, err := st.Load(s.Arch, uint64(c.Seed))
	if err != nil {
		return sweep.Result{}, err
	}
	if k := d.Y.RawMatrix().Cols; s.Outputs != k {
		return sweep.Result{}, sweep.Permanentf("dynamics: the spec has %d outputs but the data set has %d classes", s.Outputs, k)
	}
	r, err := RunDynamics(ctx, s, d.XTrain, d.XTest, d.Y, d.YTest, st.Steps, st.EtaFrac, uint64(c.Seed))
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
	for i, c := range r.Curves() {
		v := *c
		res.Arrays[DynamicsArrays[i]] = npy.Array{Shape: []int{len(v)}, Data: v}
		last := math.NaN()
		if len(v) > 0 {
			last = v[len(v)-1]
		}
		res.Scalars[DynamicsArrays[i]+"_last"] = FiniteOrNaN(last)
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
