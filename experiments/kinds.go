package experiments

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

// The sweep cell kinds of the harness. Each reads its data from the cell's
// settings (dataSettings) and its network from the cell's spec, so a user's
// own sweep file can run them on any architecture the spec describes.
func init() {
	// "theory-gd": the train and test accuracy of the infinite-width NTK
	// predictor of the cell's spec after each of settings.times discrete
	// GD steps, as train_acc_t<T> and test_acc_t<T>.
	sweep.RegisterKind("theory-gd", runTheoryGDCell, sweep.WithCost(costTheoryGD))
	// "train": a finite network of the cell's spec (any architecture)
	// trained by full-batch gradient descent at eta_frac * eta_crit; the
	// train and test loss and accuracy at each of settings.times, and the
	// whole log-spaced history as arrays.
	sweep.RegisterKind("train", runTrainCell, sweep.WithCost(costTrain))
	// "ntk": the empirical NTK of the cell's network (or the mean over
	// settings.samples networks) on its training inputs: its NTKStats and
	// its relative distance to the analytic NTK.
	sweep.RegisterKind("ntk", runNTKCell, sweep.WithCost(costNTK))
}

// Normalizations of a cell's data (dataSettings.Normalize).
const (
	NormalizeGlobal = "global" // standardize by the training subset's global mean and std
	NormalizeNorm   = "norm"   // scale each image to norm sqrt(dimension)
)

// dataSettings select and preprocess the data of a cell: class-balanced
// subsets drawn with the cell's seed, optionally in grayscale and
// block-averaged, then normalized (see prepareSets). Fully connected
// networks see the images flattened.
type dataSettings struct {
	Dataset    string `json:"dataset"`    // cifar10 (default) or mnist
	CIFAR10    string `json:"cifar10"`    // CIFAR-10 location; empty means $CIFAR10_DIR
	NTrain     int    `json:"n_train"`    // default 256
	NTest      int    `json:"n_test"`     // default 256
	Grayscale  bool   `json:"grayscale"`  // average the colour channels
	Downsample int    `json:"downsample"` // block-average factor; default 1
	Normalize  string `json:"normalize"`  // global (default) or norm
}

func defaultDataSettings() dataSettings { return dataSettings{NTrain: 256, NTest: 256, Downsample: 1} }

// cellData is the prepared data of a cell.
type cellData struct {
	xTrain, xTest npy.Array  // [N, d] for fcn, else [N, H, W, C]
	y, yTest      *mat.Dense // one-hot targets
	lTrain, lTest []int
}

// sets returns the prepared training and test sets of d. Bad settings are
// permanent errors; a data set that cannot be read (CIFAR-10 included: a
// cell does not fall back to MNIST) is not.
func (d dataSettings) sets(seed uint64) (tr, te *datasets.Set, err error) {
	if d.NTrain < 1 || d.NTest < 1 || d.Downsample < 1 {
		return nil, nil, sweep.Permanentf("n_train %d, n_test %d, downsample %d: want all >= 1", d.NTrain, d.NTest, d.Downsample)
	}
	cfg, err := Config{Dataset: d.Dataset, CIFAR10: d.CIFAR10}.validate()
	if err != nil {
		return nil, nil, sweep.Permanent(err)
	}
	train, test, _, why, err := loadData(cfg)
	if err != nil {
		return nil, nil, err
	}
	if why != "" {
		// A cell never falls back to another data set: its result would
		// carry the wrong name. Missing data on a node may be a mount
		// problem, so the error is transient.
		return nil, nil, fmt.Errorf("dataset %s is not available here: %s", cfg.Dataset, why)
	}
	if tr, te, err = prepareSets(train, test, seed, d); err != nil {
		return nil, nil, sweep.Permanent(err)
	}
	return tr, te, nil
}

// load prepares the data of d for a network of architecture arch.
func (d dataSettings) load(arch string, seed uint64) (cellData, error) {
	tr, te, err := d.sets(seed)
	if err != nil {
		return cellData{}, err
	}
	c := cellData{xTrain: tr.Array(), xTest: te.Array(), lTrain: tr.Labels, lTest: te.Labels}
	if arch == spec.FCN {
		c.xTrain, c.xTest = tr.Flat(), te.Flat()
	}
	c.y, c.yTest = oneHot(tr.Labels, tr.Classes), oneHot(te.Labels, te.Classes)
	return c, nil
}

// theoryGDSettings are the settings of a "theory-gd" cell.
type theoryGDSettings struct {
	dataSettings
	Times     []float64 `json:"times"`     // steps; default 1, 8, 64, 512, 4096
	Converged bool      `json:"converged"` // also the t = infinity predictor
	EtaFrac   float64   `json:"eta_frac"`  // eta / eta_crit; default 0.5
	// EachDepth also reports every depth 1..spec.depth from the same
	// kernel recursion, as arrays over depth.
	EachDepth bool `json:"each_depth"`
}

// cellSpec returns the cell's spec after checking it, as a permanent error.
func cellSpec(c sweep.Cell, finite bool) (spec.Spec, error) {
	if c.SpecErr != nil {
		return spec.Spec{}, sweep.Permanent(c.SpecErr)
	}
	check := c.Spec.Validate
	if finite {
		check = c.Spec.ValidateFinite
	}
	if err := check(); err != nil {
		return spec.Spec{}, sweep.Permanent(err)
	}
	return c.Spec, nil
}

// runTheoryGDCell computes the analytic NTK of the cell's spec (any
// architecture and activation) on its training and test points and the
// accuracies of the infinite-width predictor after each of times discrete
// steps at eta_frac * eta_crit: scalars train_acc_t<T> and test_acc_t<T>,
// and train_acc_inf, test_acc_inf when converged is set; with each_depth
// the same names are also arrays over depths 1..spec.depth (array depth).
// A kernel the predictor refuses (not positive definite in floating point)
// gives NaN.
func runTheoryGDCell(ctx context.Context, c sweep.Cell) (sweep.Result, error) {
	s, err := cellSpec(c, false)
	if err != nil {
		return sweep.Result{}, err
	}
	st := theoryGDSettings{dataSettings: defaultDataSettings(), Times: []float64{1, 8, 64, 512, 4096}, EtaFrac: 0.5}
	if err := c.DecodeSettings(&st); err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	if !(st.EtaFrac > 0 && st.EtaFrac <= 1) {
		return sweep.Result{}, sweep.Permanentf("theory-gd: eta_frac %g: want 0 < eta_frac <= 1", st.EtaFrac)
	}
	d, err := st.load(s.Arch, uint64(c.Seed))
	if err != nil {
		return sweep.Result{}, err
	}
	times := st.Times
	if st.Converged {
		times = append(append([]float64(nil), times...), math.Inf(1))
	}
	n := d.xTrain.Shape[0]
	all := npy.Array{Shape: append([]int{n + d.xTest.Shape[0]}, d.xTrain.Shape[1:]...), Data: append(append([]float64(nil), d.xTrain.Data...), d.xTest.Data...)}
	maps := TrainabilityMaps{Grid: TrainabilityGrid{Times: times, EtaFrac: st.EtaFrac}}
	maps.Train, maps.Test = nanCube(len(times), s.Depth, 1), nanCube(len(times), s.Depth, 1)
	var predErr error
	opt := theory.Options{EachDepth: func(l int, k theory.Kernels) {
		if (st.EachDepth || l == s.Depth) && predErr == nil {
			predErr = predictCell(&maps, l-1, 0, k.NTK, n, d.y, d.lTrain, d.lTest)
		}
	}}
	if _, err := theory.Compute(s, all, npy.Array{}, opt); err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	if predErr != nil {
		return sweep.Result{}, sweep.Permanent(predErr)
	}
	r := sweep.Result{Status: sweep.StatusOK, Scalars: map[string]float64{}, Arrays: map[string]npy.Array{}}
	if st.EachDepth {
		depth := make([]float64, s.Depth)
		for i := range depth {
			depth[i] = float64(i + 1)
		}
		r.Arrays["depth"] = npy.Array{Shape: []int{s.Depth}, Data: depth}
	}
	for it, t := range times {
		suffix := fmt.Sprintf("t%g", t)
		if math.IsInf(t, 1) {
			suffix = "inf"
		}
		r.Scalars["train_acc_"+suffix] = maps.Train[it][s.Depth-1][0]
		r.Scalars["test_acc_"+suffix] = maps.Test[it][s.Depth-1][0]
		if st.EachDepth {
			for name, cube := range map[string][][][]float64{"train_acc_": maps.Train, "test_acc_": maps.Test} {
				a := npy.Array{Shape: []int{s.Depth}, Data: make([]float64, s.Depth)}
				for l := range a.Data {
					a.Data[l] = cube[it][l][0]
				}
				r.Arrays[name+suffix] = a
			}
		}
	}
	return r, nil
}

// trainSettings are the settings of a "train" cell.
type trainSettings struct {
	dataSettings
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
	st := trainSettings{dataSettings: defaultDataSettings(), Steps: 4096, EtaFrac: 0.5}
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
	d, err := st.load(s.Arch, uint64(c.Seed))
	if err != nil {
		return sweep.Result{}, err
	}
	if s.Outputs != d.y.RawMatrix().Cols {
		return sweep.Result{}, sweep.Permanentf("train: the spec has %d outputs but the data set has %d classes", s.Outputs, d.y.RawMatrix().Cols)
	}
	newNet := func() (*nets.Net, error) {
		return nets.New(s, d.xTrain.Shape[1:], ntkempirical.SeedSource(uint64(c.Seed), 0))
	}
	net, err := newNet()
	if err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	defer net.Close()
	h, err := train.Run(ctx, net, train.Data{XTrain: d.xTrain, YTrain: d.y, XTest: d.xTest, YTest: d.yTest},
		train.Options{Steps: st.Steps, LRFactor: st.EtaFrac, LambdaMax: analyticLambdaMax, Seed: uint64(c.Seed)}, nil)
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
		ch, err := ntkempirical.KernelChange(initial, net, d.xTrain, npy.Array{}, ntkempirical.Options{})
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
			r.Scalars[fmt.Sprintf("%s_t%g", name, t)] = finiteOrNaN(x)
		}
	}
	return r, nil
}

// ntkSettings are the settings of an "ntk" cell.
type ntkSettings struct {
	dataSettings
	Samples int  `json:"samples"` // networks averaged; default 1
	Theory  bool `json:"theory"`  // compare with the analytic NTK; default true
	// PerNetwork reports the mean and SD over the networks of each one's
	// own statistics (<stat> and <stat>_sd) instead of the statistics of
	// the mean kernel; rel_err stays that of the mean kernel.
	PerNetwork bool `json:"per_network"`
	// MaxMemoryGiB bounds the arrays the empirical NTK holds at once; the
	// default 16 fits a width-1024, depth-128 fcn on 64 inputs.
	MaxMemoryGiB float64 `json:"max_memory_gib"`
}

// runNTKCell computes the mean empirical NTK K of samples networks of the
// cell's spec, network m drawn from ntkempirical.SeedSource(seed, m), on
// the cell's n_train training inputs. Scalars: diag, off, lambda_max,
// lambda_min and kappa of K (NTKStats) or, with per_network, their means
// and SDs over the networks, and with theory also rel_err =
// ||K - Theta||_F / ||Theta||_F against the analytic NTK Theta and Theta's
// own theory_lambda_max, theory_lambda_min and theory_kappa.
func runNTKCell(ctx context.Context, c sweep.Cell) (sweep.Result, error) {
	s, err := cellSpec(c, true)
	if err != nil {
		return sweep.Result{}, err
	}
	st := ntkSettings{dataSettings: defaultDataSettings(), Samples: 1, Theory: true, MaxMemoryGiB: 16}
	if err := c.DecodeSettings(&st); err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	if st.Samples < 1 || !(st.MaxMemoryGiB > 0) {
		return sweep.Result{}, sweep.Permanentf("ntk: samples %d, max_memory_gib %g: want samples >= 1 and a positive memory", st.Samples, st.MaxMemoryGiB)
	}
	opt := ntkempirical.Options{MaxMemory: int64(st.MaxMemoryGiB * (1 << 30))}
	d, err := st.load(s.Arch, uint64(c.Seed))
	if err != nil {
		return sweep.Result{}, err
	}
	var k ntkempirical.Kernel
	if !st.PerNetwork || st.Theory {
		k, err = ntkempirical.Mean(s, d.xTrain.Shape[1:], d.xTrain, npy.Array{}, uint64(c.Seed), st.Samples, opt)
		if err != nil {
			return sweep.Result{}, sweep.Permanent(err)
		}
	}
	r := sweep.Result{Status: sweep.StatusOK, Scalars: map[string]float64{}}
	if st.PerNetwork {
		per := make([]NTKStats, st.Samples)
		for m := range per {
			if per[m], err = finiteNTKStats(s, d.xTrain, ntkempirical.SeedSource(uint64(c.Seed), m), opt); err != nil {
				return sweep.Result{}, sweep.Permanent(err)
			}
		}
		mean, sd := meanSD(per)
		putStats(r.Scalars, "", "", mean)
		putStats(r.Scalars, "", "_sd", sd)
	} else if err := addStats(r.Scalars, "", k.NTK); err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	if st.Theory {
		th, err := theory.Compute(s, d.xTrain, npy.Array{}, theory.Options{})
		if err != nil {
			return sweep.Result{}, sweep.Permanent(err)
		}
		if r.Scalars["rel_err"], err = ntkempirical.RelativeFrobenius(k.NTK, th.NTK); err != nil {
			return sweep.Result{}, sweep.Permanent(err)
		}
		if err := addStats(r.Scalars, "theory_", th.NTK); err != nil {
			return sweep.Result{}, sweep.Permanent(err)
		}
	}
	return r, nil
}

// addStats stores the NTKStats of kernel k into m under prefix.
func addStats(m map[string]float64, prefix string, k mat.Matrix) error {
	sym, err := ntkempirical.Symmetric(k, 1e-10)
	if err != nil {
		return err
	}
	st, err := NTKStatsOf(sym)
	if err != nil {
		return err
	}
	putStats(m, prefix, "", st)
	return nil
}

// putStats stores st into m as prefix<stat>suffix.
func putStats(m map[string]float64, prefix, suffix string, st NTKStats) {
	m[prefix+"diag"+suffix], m[prefix+"off"+suffix] = st.Diag, st.Off
	m[prefix+"lambda_max"+suffix], m[prefix+"lambda_min"+suffix], m[prefix+"kappa"+suffix] = st.LMax, st.LMin, st.Kappa
}

// Rates of the cost models on one core, measured with each backend: a
// training step's FLOPs (a width-512 fcn on 256 MNIST points ran 4096
// steps in 98 CPU-seconds with OpenBLAS, 27 GFLOP/s), the analytic
// kernel's entry-layer updates (fcn; a conv layer costs f^2 per pixel
// pair it tracks), and eigendecompositions and solves.
const (
	costKernelRate   = 8e7     // entry-layer updates per second
	costBytesPerWord = 8       // float64
	costProcess      = 1 << 26 // the process itself (64 MiB)
)

var costTrainFLOPs, costLinalgFLOPs = 4e9, 3e9 // pure Go

func init() {
	if linalg.Backend() == "openblas" {
		costTrainFLOPs, costLinalgFLOPs = 25e9, 25e9
	}
}

// memory is the memory of d's whole data set decoded in float64 (both
// splits, kept for the life of the process) plus the process itself.
func (d dataSettings) memory() int64 {
	if d.Dataset == datasets.MNIST {
		return 70000*28*28*costBytesPerWord + costProcess
	}
	return 60000*32*32*3*costBytesPerWord + costProcess
}

// inputShape is the shape of one example of d for architecture arch,
// without loading the data (a fallback from CIFAR-10 to MNIST is not seen).
func (d dataSettings) inputShape(arch string) []int {
	h, c := 32, 3
	if d.Dataset == datasets.MNIST {
		h, c = 28, 1
	}
	if d.Grayscale {
		c = 1
	}
	h /= max(d.Downsample, 1)
	if arch == spec.FCN {
		return []int{h * h * c}
	}
	return []int{h, h, c}
}

// kernelCost is the time and memory of the analytic NTK of s on n inputs.
func kernelCost(s spec.Spec, inShape []int, n int) (seconds float64, bytes int64) {
	pairs := float64(n) * float64(n)
	per := 1.0
	if s.IsConv() {
		pix := float64(inShape[0] * inShape[1])
		f2 := float64(s.Filter * s.Filter)
		per = pix * f2
		if s.Arch == spec.CNNGAP {
			per = pix * pix * f2
		}
	}
	seconds = pairs*per*float64(s.Depth)/costKernelRate + 10*pairs*float64(n)/costLinalgFLOPs
	return seconds, int64(4 * pairs * costBytesPerWord)
}

func costTheoryGD(c sweep.Cell) (sweep.Cost, bool) {
	st := theoryGDSettings{dataSettings: defaultDataSettings()}
	if c.SpecErr != nil || c.DecodeSettings(&st) != nil {
		return sweep.Cost{}, false
	}
	sec, mem := kernelCost(c.Spec, st.inputShape(c.Spec.Arch), st.NTrain+st.NTest)
	return sweep.Cost{Seconds: sec, MemoryBytes: mem + st.memory()}, true
}

// cellNetCost decodes c's settings into st, whose embedded dataSettings d
// is, and returns the example shape, the forward FLOPs per example and the
// training memory (batches of at most 256) of c's network; ok is false when
// the cell cannot be costed.
func cellNetCost(c sweep.Cell, st any, d *dataSettings) (in []int, flops float64, mem int64, ok bool) {
	if c.SpecErr != nil || c.DecodeSettings(st) != nil {
		return nil, 0, 0, false
	}
	in = d.inputShape(c.Spec.Arch)
	flops, err := nets.ForwardFLOPs(c.Spec, in)
	if err != nil {
		return nil, 0, 0, false
	}
	mem, err = nets.MemoryEstimate(c.Spec, in, min(d.NTrain, 256))
	return in, flops, mem, err == nil
}

func costTrain(c sweep.Cell) (sweep.Cost, bool) {
	st := trainSettings{dataSettings: defaultDataSettings(), Steps: 4096}
	in, flops, mem, ok := cellNetCost(c, &st, &st.dataSettings)
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

// costNTK counts, per network, one forward and one backward pass per logit
// and example (the structured method) plus the n x n Gram products.
func costNTK(c sweep.Cell) (sweep.Cost, bool) {
	st := ntkSettings{dataSettings: defaultDataSettings(), Samples: 1, Theory: true}
	in, flops, mem, ok := cellNetCost(c, &st, &st.dataSettings)
	if !ok {
		return sweep.Cost{}, false
	}
	n := float64(st.NTrain)
	sec := float64(st.Samples) * float64(c.Spec.Outputs) * (3*flops*n + flops*n*n/float64(max(in[0], 1))) / costTrainFLOPs
	if st.Theory {
		ksec, _ := kernelCost(c.Spec, in, st.NTrain)
		sec += ksec
	}
	return sweep.Cost{Seconds: sec, MemoryBytes: 2*mem + st.memory()}, true
}
