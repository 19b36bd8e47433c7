package experiments

import (
	"context"
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/datasets/npyarray"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/nets/spec"
	"github.com/ntkharness/ntkharness/ntkempirical"
	"github.com/ntkharness/ntkharness/plots"
	"github.com/ntkharness/ntkharness/theory"
	"github.com/ntkharness/ntkharness/train"
)

func init() {
	register(Spec{Name: "dynamics", Title: "Training dynamics against the linearized predictions",
		Summary: "train and test loss vs step of trained FCNs of several widths, with the linearizations by their own empirical NTK and by the analytic NTK",
		Run:     runDynamics})
}

// DynamicsRun is one trained network with its two linearizations: the
// losses of gradient descent f <- f - (eta/(N k)) Theta (f - y) started from
// the network's own initial outputs, with Theta its empirical NTK at
// initialization (Emp) or the analytic NTK (Ana), at the logged steps.
type DynamicsRun struct {
	Width             int
	Steps             []float64
	Train, Test       []float64 // the trained network
	EmpTrain, EmpTest []float64
	AnaTrain, AnaTest []float64
}

// Dynamics trains an erf FCN of width w (initialization seed) on the data
// for steps steps at eta = 0.5 eta_crit of the analytic NTK and evaluates
// both linearizations at the same eta.
func Dynamics(s spec.Spec, xTr, xTe npyarray.Array, y, yTe *mat.Dense, steps int, seed uint64) (DynamicsRun, error) {
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
	d := xTr.Shape[1]
	all := npyarray.Array{Shape: []int{n + m, d}, Data: append(append([]float64(nil), xTr.Data...), xTe.Data...)}
	emp, err := ntkempirical.Compute(net, all, npyarray.Array{}, ntkempirical.Options{})
	if err != nil {
		return DynamicsRun{}, fmt.Errorf("empirical NTK: %w", err)
	}
	ana, err := theory.Compute(s, all, npyarray.Array{}, theory.Options{})
	if err != nil {
		return DynamicsRun{}, fmt.Errorf("analytic NTK: %w", err)
	}
	h, err := train.Run(context.Background(), net, train.Data{XTrain: xTr, YTrain: y, XTest: xTe, YTest: yTe},
		train.Options{Steps: steps, LRFactor: 0.5, LambdaMax: analyticLambdaMax, Seed: seed}, nil)
	if err != nil {
		return DynamicsRun{}, err
	}
	r := DynamicsRun{Width: s.Width}
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

func runDynamics(cfg Config) (Result, error) {
	const n, m, steps = 32, 32, 256
	widths := []int{64, 256, 1024}
	train, test, note, why, err := loadData(cfg)
	if err != nil {
		return Result{}, err
	}
	xTr, xTe, y, _, lTe, err := prepareData(train, test, n, m, cfg.Seed)
	if err != nil {
		return Result{}, err
	}
	_, k := y.Dims()
	yTe := oneHot(lTe, k)
	fig := plots.Figure{Title: fmt.Sprintf("erf FCN depth 3, sw2 = 1.5, sb2 = 0.05, %d %s training points, eta = 0.5 eta_crit", n, note), Rows: 2, Cols: len(widths)}
	var trainRow, testRow []plots.Panel
	obs := ""
	for iw, w := range widths {
		s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 3, Width: w, SW2: 1.5, SB2: 0.05, Outputs: k}
		r, err := Dynamics(s, xTr, xTe, y, yTe, steps, cfg.Seed)
		if err != nil {
			return Result{}, fmt.Errorf("width %d: %w", w, err)
		}
		if cfg.Progress != nil {
			cfg.Progress(iw+1, len(widths))
		}
		mk := func(kind string, net, emp, ana []float64) plots.Panel {
			return plots.Panel{Title: fmt.Sprintf("width %d: %s loss", w, kind), XLabel: "step", YLabel: kind + " loss", LogX: true, LogY: true, Series: []plots.Series{
				{Label: "trained network", X: r.Steps, Y: net, Style: plots.Line, Color: 1},
				{Label: "linearized, empirical NTK", X: r.Steps, Y: emp, Style: plots.Line, Dashed: true, Color: 2},
				{Label: "linearized, analytic NTK", X: r.Steps, Y: ana, Style: plots.Line, Dashed: true, Color: 3},
			}}
		}
		trainRow = append(trainRow, mk("train", r.Train, r.EmpTrain, r.AnaTrain))
		testRow = append(testRow, mk("test", r.Test, r.EmpTest, r.AnaTest))
		last := len(r.Steps) - 1
		obs += fmt.Sprintf("Width %d at step %g: test loss %.4g (network), %.4g (empirical NTK), %.4g (analytic NTK). ", w, r.Steps[last], r.Test[last], r.EmpTest[last], r.AnaTest[last])
	}
	fig.Panels = append(trainRow, testRow...)
	var nums []plots.KeyNumber
	if why != "" {
		nums = append(nums, plots.KeyNumber{Name: "CIFAR-10", Value: "not used", Note: why})
	}
	return Result{Figure: fig, Caption: plots.ReportFigure{
		Theory:   "As the width grows, gradient descent follows the linearized dynamics driven by the network's own empirical NTK, and that kernel approaches the analytic one, so all three curves merge.",
		Observed: obs,
		Numbers:  nums,
	}}, nil
}
