package cells

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/linalg"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/ntkempirical"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
	"github.com/ntkharness/ntkharness/train"
)

// "train": a finite network of the cell's spec (any architecture) trained
// by full-batch gradient descent at eta_frac * eta_crit; the train and test
// loss and accuracy at each of settings.times, and the whole log-spaced
// history as arrays.
func init() {
	sweep.RegisterKind("train", runTrainCell, sweep.WithCost(costTrain), sweep.WithSettings(trainSettings{}))
}

// trainSettings are the settings of a "train" cell.
type trainSettings struct {
	DataSettings
	Steps   int       `json:"steps"`    // gradient steps; default 4096
	Times   []float64 `json:"times"`    // steps reported as scalars (powers of two or steps); default 1, 8, 64, ... up to steps
	EtaFrac float64   `json:"eta_frac"` // eta / eta_crit, with eta_crit from the analytic NTK; default 0.5
	// KernelChange also reports ntk_change, the relative Frobenius change
	// ||Theta_T - Theta_0|| / ||Theta_0|| of the empirical NTK on the
	// training inputs over the run.
	KernelChange bool `json:"kernel_change"`
}

// runTrainCell trains the cell's network. Scalars: eta_crit, and
// {train,test}_{loss,acc}_t<T> at each of times (the loss is
// (1/(2 N k)) sum (f - y)^2). Arrays: the history's step, train_loss,
// test_loss, train_acc and test_acc. A run whose loss blows up is a
// diverged result with the values reached before.
func runTrainCell(ctx context.Context, c sweep.Cell) (sweep.Result, error) {
	s, err := cellSpec(c, true)
	if err != nil {
		return sweep.Result{}, err
	}
	st := trainSettings{DataSettings: DefaultDataSettings(), Steps: 4096, EtaFrac: 0.5}
	if err := c.DecodeSettings(&st); err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	if st.Times == nil {
		for t := 1; t <= st.Steps; t *= 8 {
			st.Times = append(st.Times, float64(t))
		}
	}
	if st.Steps < 1 || !(st.EtaFrac > 0) {
		return sweep.Result{}, sweep.Permanentf("train: steps %d, eta_frac %g: want steps >= 1 and eta_frac > 0", st.Steps, st.EtaFrac)
	}
	for _, t := range st.Times {
		if t != math.Trunc(t) || t < 0 || t > float64(st.Steps) || !train.IsLogStep(int(t), st.Steps) {
			return sweep.Result{}, sweep.Permanentf("train: time %g: want 0, a power of two up to steps (%d), or steps itself (the steps a history records)", t, st.Steps)
		}
	}
	d, err := st.Load(s.Arch, uint64(c.Seed))
	if err != nil {
		return sweep.Result{}, err
	}
	if s.Outputs != d.Y.RawMatrix().Cols {
		return sweep.Result{}, sweep.Permanentf("train: the spec has %d outputs but the data set has %d classes", s.Outputs, d.Y.RawMatrix().Cols)
	}
	newNet := func() (*nets.Net, error) {
		return nets.New(s, d.XTrain.Shape[1:], ntkempirical.SeedSource(uint64(c.Seed), 0))
	}
	net, err := newNet()
	if err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	defer net.Close()
	h, err := train.Run(ctx, net, train.Data{XTrain: d.XTrain, YTrain: d.Y, XTest: d.XTest, YTest: d.YTest},
		train.Options{Steps: st.Steps, LRFactor: st.EtaFrac, LambdaMax: AnalyticLambdaMax, Seed: uint64(c.Seed)}, nil)
	if err != nil {
		if ctx.Err() != nil {
			return sweep.Result{}, err
		}
		return sweep.Result{}, sweep.Permanent(err)
	}
	r := sweep.Result{Status: sweep.StatusOK, Scalars: map[string]float64{"eta_crit": h.EtaCrit}, Arrays: map[string]npy.Array{}}
	if h.Status == train.Interrupted {
		return sweep.Result{}, fmt.Errorf("train: interrupted at step %d (the cell is redone on the next run)", h.Step)
	}
	if h.Status == train.Diverged {
		r.Status, r.Reason = sweep.StatusDiverged, fmt.Sprintf("loss blew up at step %d", h.DivergedAt)
	}
	if st.KernelChange && h.Status == train.Done {
		initial, err := newNet()
		if err != nil {
			return sweep.Result{}, sweep.Permanent(err)
		}
		defer initial.Close()
		ch, err := ntkempirical.KernelChange(initial, net, d.XTrain, npy.Array{}, ntkempirical.Options{})
		if err != nil {
			return sweep.Result{}, sweep.Permanent(err)
		}
		r.Scalars["ntk_change"] = ch.Relative
	}
	cols := map[string][]float64{}
	for _, p := range h.Points {
		cols["step"] = append(cols["step"], float64(p.Step))
		cols["train_loss"] = append(cols["train_loss"], float64(p.TrainLoss))
		cols["test_loss"] = append(cols["test_loss"], float64(p.TestLoss))
		cols["train_acc"] = append(cols["train_acc"], float64(p.TrainAcc))
		cols["test_acc"] = append(cols["test_acc"], float64(p.TestAcc))
	}
	for name, v := range cols {
		r.Arrays[name] = npy.Array{Shape: []int{len(v)}, Data: v}
	}
	for _, t := range st.Times {
		v := map[string]float64{"train_loss": math.NaN(), "test_loss": math.NaN(), "train_acc": math.NaN(), "test_acc": math.NaN()}
		for _, p := range h.Points {
			if float64(p.Step) == t {
				v = map[string]float64{"train_loss": float64(p.TrainLoss), "test_loss": float64(p.TestLoss),
					"train_acc": float64(p.TrainAcc), "test_acc": float64(p.TestAcc)}
			}
		}
		for name, x := range v {
			r.Scalars[fmt.Sprintf("%s_t%g", name, t)] = FiniteOrNaN(x)
		}
	}
	return r, nil
}

func costTrain(c sweep.Cell) (sweep.Cost, bool) {
	st := trainSettings{DataSettings: DefaultDataSettings(), Steps: 4096}
	in, flops, mem, ok := cellNetCost(c, &st, &st.DataSettings)
	if !ok {
		return sweep.Cost{}, false
	}
	ksec, kmem := kernelCost(c.Spec, in, st.NTrain)
	sec := 3*flops*float64(st.NTrain)*float64(st.Steps)/costTrainFLOPs + ksec
	if st.KernelChange {
		sec += 2 * float64(c.Spec.Outputs) * 3 * flops * float64(st.NTrain) / costTrainFLOPs
	}
	return sweep.Cost{Seconds: sec, MemoryBytes: mem + kmem + st.memory()}, true
}

// AnalyticLambdaMax is the largest eigenvalue of the analytic per-logit
// NTK of the network's spec on x.
func AnalyticLambdaMax(net *nets.Net, x npy.Array) (float64, error) {
	k, err := theory.Compute(net.Spec(), x, npy.Array{}, theory.Options{})
	if err != nil {
		return 0, fmt.Errorf("analytic NTK: %w", err)
	}
	n, _ := k.NTK.Dims()
	vals, _, err := linalg.EigenSym(mat.NewSymDense(n, k.NTK.RawMatrix().Data), false)
	if err != nil {
		return 0, fmt.Errorf("analytic NTK: %w", err)
	}
	return vals[len(vals)-1], nil
}

// TrainedAccuracy trains the finite network s, initialized from
// ntkempirical.SeedSource(opt.Seed, 0), on tr with the MSE loss
// (1/(2 N k)) sum (f - y)^2 and one-hot targets, by train.Run with opt, and
// returns its train and test accuracy after the last step. Images are
// flattened for fcn. When opt.LR is 0 and opt.LambdaMax is nil, eta_crit
// = 2 N k / lambda_max comes from the analytic NTK. A run whose loss blows
// up returns NaN accuracies and no error.
func TrainedAccuracy(ctx context.Context, s spec.Spec, tr, te *datasets.Set, opt train.Options) (trainAcc, testAcc float64, err error) {
	if s.Outputs != 0 && s.Outputs != tr.Classes {
		return 0, 0, fmt.Errorf("%s: the spec has %d outputs but the data have %d classes", s.Arch, s.Outputs, tr.Classes)
	}
	if te.H != tr.H || te.W != tr.W || te.C != tr.C {
		return 0, 0, fmt.Errorf("%s: test images are %dx%dx%d, training images %dx%dx%d", s.Arch, te.H, te.W, te.C, tr.H, tr.W, tr.C)
	}
	s.Outputs = tr.Classes
	xTr, xTe := tr.Array(), te.Array()
	if !s.IsConv() {
		xTr, xTe = tr.Flat(), te.Flat()
	}
	net, err := nets.New(s, xTr.Shape[1:], ntkempirical.SeedSource(opt.Seed, 0))
	if err != nil {
		return 0, 0, fmt.Errorf("%s depth %d: %w", s.Arch, s.Depth, err)
	}
	defer net.Close()
	if opt.LR == 0 && opt.LambdaMax == nil {
		opt.LambdaMax = AnalyticLambdaMax
	}
	h, err := train.Run(ctx, net, train.Data{XTrain: xTr, YTrain: OneHot(tr.Labels, tr.Classes), XTest: xTe, YTest: OneHot(te.Labels, te.Classes)}, opt, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("training %s depth %d: %w", s.Arch, s.Depth, err)
	}
	if h.Status == train.Diverged {
		return math.NaN(), math.NaN(), nil
	}
	p := h.Last()
	return FiniteOrNaN(float64(p.TrainAcc)), FiniteOrNaN(float64(p.TestAcc)), nil
}

func FiniteOrNaN(v float64) float64 {
	if math.IsInf(v, 0) {
		return math.NaN()
	}
	return v
}
