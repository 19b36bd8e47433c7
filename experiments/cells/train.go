package cells

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/ntkempirical"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/train"
)

// "train": a finite network of the cell's spec (any architecture) trained
// by full-batch gradient descent at eta_frac * eta_crit; the train and test
// loss and accuracy at each of settings.times, and the whole log-spaced
// history as arrays. Cells that differ only in sw2, sb2, eta_frac and init
// are trained together as one ensemble (nets.Ensemble, train.RunEnsemble),
// each member following its network's trajectory alone.
func init() {
	sweep.RegisterKind("train", runTrainCell, sweep.WithCost(costTrain), sweep.WithSettings(trainSettings{}),
		sweep.WithGroup(sweep.Group{Key: trainGroupKey, Run: runTrainGroup, Cost: costTrainGroup, Max: 64}))
}

// trainSettings are the settings of a "train" cell.
type trainSettings struct {
	DataSettings
	Steps   int       `json:"steps"`    // gradient steps; default 4096
	Times   []float64 `json:"times"`    // steps reported as scalars (powers of two or steps); default 1, 8, 64, ... up to steps
	EtaFrac float64   `json:"eta_frac"` // eta / eta_crit, with eta_crit from the analytic NTK; default 0.5
	// Init is the index j of the network's initialization,
	// nets.InitSource(seed, j): cells of one seed (one data
	// subset) and different inits are different networks on the same data.
	Init int `json:"init"`
	// StopRelChange > 0 stops training at the first step whose loss
	// changed by at most this fraction of the previous one (see
	// train.Options.StopRelChange); later times repeat that step's values
	// and the scalar stopped_at gives the step (NaN: ran to the end).
	StopRelChange float64 `json:"stop_rel_change"`
	// KernelChange also reports ntk_change, the relative Frobenius change
	// ||Theta_T - Theta_0|| / ||Theta_0|| of the empirical NTK on the
	// training inputs over the run.
	KernelChange bool `json:"kernel_change"`
}

// trainSetup returns the checked spec and settings of a "train" cell.
func trainSetup(c sweep.Cell) (spec.Spec, trainSettings, error) {
	st := trainSettings{DataSettings: DefaultDataSettings(), Steps: 4096, EtaFrac: 0.5}
	s, err := cellSpec(c, true)
	if err != nil {
		return s, st, err
	}
	if err := c.DecodeSettings(&st); err != nil {
		return s, st, sweep.Permanent(err)
	}
	if st.Times == nil {
		for t := 1; t <= st.Steps; t *= 8 {
			st.Times = append(st.Times, float64(t))
		}
	}
	if st.Steps < 1 || !(st.EtaFrac > 0) || st.Init < 0 || !(st.StopRelChange >= 0) {
		return s, st, sweep.Permanentf("train: steps %d, eta_frac %g, init %d, stop_rel_change %g: want steps >= 1, eta_frac > 0, init >= 0 and stop_rel_change >= 0", st.Steps, st.EtaFrac, st.Init, st.StopRelChange)
	}
	for _, t := range st.Times {
		if t != math.Trunc(t) || t < 0 || t > float64(st.Steps) || !train.IsLogStep(int(t), st.Steps) {
			return s, st, sweep.Permanentf("train: time %g: want 0, a power of two up to steps (%d), or steps itself (the steps a history records)", t, st.Steps)
		}
	}
	return s, st, nil
}

// loadTrainData loads the data of a "train" cell for a network of spec s.
func loadTrainData(s spec.Spec, st trainSettings, seed int64) (CellData, error) {
	d, err := st.Load(s.Arch, uint64(seed))
	if err != nil {
		return d, err
	}
	if s.Outputs != d.Y.RawMatrix().Cols {
		return d, sweep.Permanentf("train: the spec has %d outputs but the data set has %d classes", s.Outputs, d.Y.RawMatrix().Cols)
	}
	return d, nil
}

// runTrainCell trains the cell's network, initialized from
// nets.InitSource(seed, init). Scalars: eta_crit, and
// {train,test}_{loss,acc}_t<T> at each of times (the loss is
// (1/(2 N k)) sum (f - y)^2), and ntk_change with kernel_change. Arrays:
// the history's step, train_loss, test_loss, train_acc and test_acc. A
// run whose loss blows up is a diverged result with the values reached
// before.
//
// The network trains as an ensemble of one (runTrainGroup): the
// hand-written passes hold no graph and allocate nothing per step, so the
// cell holds little more than its data, and float32 specs train too.
func runTrainCell(ctx context.Context, c sweep.Cell) (sweep.Result, error) {
	res, errs := runTrainGroup(ctx, []sweep.Cell{c})
	return res[0], errs[0]
}

// trainResult is the result of a "train" cell whose run gave h.
func trainResult(h *train.History, st trainSettings) (sweep.Result, error) {
	r := sweep.Result{Status: sweep.StatusOK, Scalars: map[string]float64{"eta_crit": h.EtaCrit}, Arrays: map[string]npy.Array{}}
	if h.Status == train.Interrupted {
		return sweep.Result{}, fmt.Errorf("train: interrupted at step %d (the cell is redone on the next run)", h.Step)
	}
	if h.Status == train.Diverged {
		r.Status, r.Reason = sweep.StatusDiverged, fmt.Sprintf("loss blew up at step %d", h.DivergedAt)
	}
	if st.StopRelChange > 0 {
		r.Scalars["stopped_at"] = math.NaN()
		if h.StoppedAt > 0 {
			r.Scalars["stopped_at"] = float64(h.StoppedAt)
		}
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

// trainGroupKey is the group key of a "train" cell: its spec without sw2
// and sb2, its seed (which draws the data) and its settings without
// eta_frac and init. Cells that report the kernel change run alone (they
// need each network before and after training).
func trainGroupKey(c sweep.Cell) (string, bool) {
	s, st, err := trainSetup(c)
	if err != nil || st.KernelChange {
		return "", false
	}
	s.SW2, s.SB2 = 0, 0
	st.EtaFrac, st.Init = 0, 0
	b, err := json.Marshal(struct {
		Spec     spec.Spec
		Seed     int64
		Settings trainSettings
	}{s, c.Seed, st})
	return string(b), err == nil
}

// runTrainGroup trains the cells of one group (equal trainGroupKey) as one
// ensemble: member m is cell m's network, initialized as runTrainCell
// initializes it and stepping at eta_frac_m * 2 N k / lambda_max_m with
// lambda_max_m from the analytic NTK of its own spec, so each cell's result
// is the one runTrainCell gives (to rounding). A diverged member is frozen
// and reported diverged; the others go on.
func runTrainGroup(ctx context.Context, cs []sweep.Cell) ([]sweep.Result, []error) {
	res, errs := make([]sweep.Result, len(cs)), make([]error, len(cs))
	fail := func(err error) ([]sweep.Result, []error) {
		for j := range errs {
			if errs[j] == nil {
				errs[j] = err
			}
		}
		return res, errs
	}
	sts := make([]trainSettings, len(cs))
	specs := make([]spec.Spec, len(cs))
	for j, c := range cs {
		specs[j], sts[j], errs[j] = trainSetup(c)
	}
	var live []int
	for j := range cs {
		if errs[j] == nil {
			live = append(live, j)
		}
	}
	if len(live) == 0 {
		return res, errs
	}
	d, err := loadTrainData(specs[live[0]], sts[live[0]], cs[live[0]].Seed)
	if err != nil {
		return fail(err)
	}
	// Build the ensemble of the live cells; a cell whose kernel gives no
	// step size (singular, non-finite) fails alone and the others rebuild.
	var e *nets.Ensemble
	n, k := d.Y.Dims()
	var lr, lms []float64
	for {
		var ss []spec.Spec
		var rngs []*rand.Rand
		for _, j := range live {
			ss = append(ss, specs[j])
			rngs = append(rngs, nets.InitSource(uint64(cs[j].Seed), sts[j].Init))
		}
		if e, err = nets.NewEnsemble(ss, d.XTrain.Shape[1:], rngs); err != nil {
			return fail(sweep.Permanent(err))
		}
		lr, lms = make([]float64, len(live)), make([]float64, len(live))
		var ok []int
		for m, j := range live {
			lm, err := train.SpecLambdaMax(e.Spec(m), d.XTrain)
			if err == nil && (!(lm > 0) || math.IsInf(lm, 0)) {
				err = fmt.Errorf("lambda_max %v of the NTK is not positive and finite", lm)
			}
			if err != nil {
				errs[j] = sweep.Permanentf("train: lambda_max for the learning rate: %v", err)
				continue
			}
			lms[m], lr[m] = lm, sts[j].EtaFrac*(2*float64(n*k)/lm)
			ok = append(ok, j)
		}
		if len(ok) == len(live) {
			break
		}
		if live = ok; len(live) == 0 {
			return res, errs
		}
	}
	defer e.Close()
	// Cells that report the kernel change keep their network at
	// initialization (their key puts them in groups of one).
	initial := make([]*nets.Net, len(live))
	for m, j := range live {
		if sts[j].KernelChange {
			initial[m] = e.Member(m)
			defer initial[m].Close()
		}
	}
	st := sts[live[0]]
	hs, err := train.RunEnsemble(ctx, e, train.Data{XTrain: d.XTrain, YTrain: d.Y, XTest: d.XTest, YTest: d.YTest},
		train.EnsembleOptions{Steps: st.Steps, LR: lr, Seed: uint64(cs[live[0]].Seed), StopRelChange: st.StopRelChange,
			Progress: func(done, total int) { sweep.ReportProgress(ctx, done, total) }})
	if err != nil {
		if ctx.Err() != nil {
			return fail(err)
		}
		return fail(sweep.Permanent(err))
	}
	for m, j := range live {
		h := hs[m]
		h.LambdaMax, h.EtaCrit, h.LRFactor = lms[m], 2*float64(n*k)/lms[m], sts[j].EtaFrac
		res[j], errs[j] = trainResult(h, sts[j])
		if initial[m] != nil && errs[j] == nil && h.Status == train.Done {
			trained := e.Member(m)
			ch, err := ntkempirical.KernelChange(initial[m], trained, d.XTrain, npy.Array{}, ntkempirical.Options{})
			trained.Close()
			if err != nil {
				errs[j] = sweep.Permanentf("train: kernel change: %v", err)
				continue
			}
			res[j].Scalars["ntk_change"] = ch.Relative
		}
	}
	return res, errs
}

func costTrain(c sweep.Cell) (sweep.Cost, bool) {
	sec, mem, kmem, data, ok := trainCost(c, costTrainFLOPs)
	return sweep.Cost{Seconds: sec, MemoryBytes: mem + kmem + data}, ok
}

// costTrainGroup estimates the cells trained as one ensemble: every
// member's steps and its analytic kernel, and the memory of all members
// with one kernel and the data held at a time. Members run at the
// ensembles' measured rates, for small matrices below 256 units or
// channels and for large ones above.
func costTrainGroup(cs []sweep.Cell) (sweep.Cost, bool) {
	var c sweep.Cost
	var kmax, data int64
	for _, cell := range cs {
		rate := costWideEnsembleFLOPs
		if cell.Spec.Width < 256 {
			rate = costEnsembleFLOPs
		}
		sec, mem, kmem, d, ok := trainCost(cell, rate)
		if !ok {
			return sweep.Cost{}, false
		}
		c.Seconds += sec
		c.MemoryBytes += mem
		kmax, data = max(kmax, kmem), d
	}
	c.MemoryBytes += kmax + data
	return c, true
}

// trainCost is the time of a "train" cell whose float64 steps run at rate
// FLOP/s (float32 ones costFloat32Speedup times faster), with its analytic
// kernel, and the memory of its network, its kernel and its data.
func trainCost(c sweep.Cell, rate float64) (sec float64, mem, kmem, data int64, ok bool) {
	if c.Spec.DType == spec.Float32 {
		rate *= costFloat32Speedup
	}
	st := trainSettings{DataSettings: DefaultDataSettings(), Steps: 4096}
	in, flops, mem, ok := cellNetCost(c, &st, &st.DataSettings)
	if !ok {
		return 0, 0, 0, 0, false
	}
	step, err := nets.StepFLOPs(c.Spec, in)
	if err != nil {
		return 0, 0, 0, 0, false
	}
	ksec, kmem := kernelCost(c.Spec, in, st.NTrain)
	sec = step*float64(st.NTrain)*float64(st.Steps)/rate + ksec
	if st.KernelChange {
		sec += 2 * float64(c.Spec.Outputs) * 3 * flops * float64(st.NTrain) / rate
	}
	return sec, mem, kmem, st.memory(), true
}

// TrainedAccuracy trains the finite network s, initialized from
// nets.InitSource(opt.Seed, 0), on tr with the MSE loss
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
	net, err := nets.New(s, xTr.Shape[1:], nets.InitSource(opt.Seed, 0))
	if err != nil {
		return 0, 0, fmt.Errorf("%s depth %d: %w", s.Arch, s.Depth, err)
	}
	defer net.Close()
	if opt.LR == 0 && opt.LambdaMax == nil {
		opt.LambdaMax = train.AnalyticLambdaMax
	}
	h, err := train.Run(ctx, net, train.Data{XTrain: xTr, YTrain: datasets.OneHot(tr.Labels, tr.Classes, false), XTest: xTe, YTest: datasets.OneHot(te.Labels, te.Classes, false)}, opt, nil)
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
