package cells

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/theory"
)

// "theory-gd": the train and test accuracy of one network of the cell's
// spec at infinite width after each of settings.times discrete GD steps:
// its expected accuracy over random initializations (expected_train_acc_t<T>,
// expected_test_acc_t<T>) and the accuracy of the mean predictor
// (train_acc_mean_predictor_t<T>, test_acc_mean_predictor_t<T>; also under
// the earlier names train_acc_t<T> and test_acc_t<T>).
func init() {
	sweep.RegisterKind("theory-gd", runTheoryGDCell, sweep.WithCost(costTheoryGD), sweep.WithSettings(theoryGDSettings{}))
}

// theoryGDSettings are the settings of a "theory-gd" cell.
type theoryGDSettings struct {
	DataSettings
	Times     []float64 `json:"times"`     // steps; default 1, 8, 64, 512, 4096
	Converged bool      `json:"converged"` // also the t = infinity predictor
	EtaFrac   float64   `json:"eta_frac"`  // eta / eta_crit; default 0.5
	// EachDepth also reports every depth 1..spec.depth from the same
	// kernel recursion, as arrays over depth.
	EachDepth bool `json:"each_depth"`
}

// theoryGDColumns are the result names of a "theory-gd" cell, each
// followed by the time suffix t<T> or inf, and the GDOutcome field each
// holds. train_acc_ and test_acc_ are the earlier names of the mean
// predictor's accuracies.
var theoryGDColumns = []struct {
	name string
	get  func(GDOutcome) []float64
}{
	{"expected_train_acc_", func(o GDOutcome) []float64 { return o.ExpTrain }},
	{"expected_test_acc_", func(o GDOutcome) []float64 { return o.ExpTest }},
	{"train_acc_mean_predictor_", func(o GDOutcome) []float64 { return o.MeanTrain }},
	{"test_acc_mean_predictor_", func(o GDOutcome) []float64 { return o.MeanTest }},
	{"train_acc_", func(o GDOutcome) []float64 { return o.MeanTrain }},
	{"test_acc_", func(o GDOutcome) []float64 { return o.MeanTest }},
}

// runTheoryGDCell computes the analytic NNGP kernel and NTK of the cell's
// spec (any architecture and activation) on its training and test points
// and, after each of times discrete steps at eta_frac * eta_crit, the
// expected accuracy of one infinitely wide network trained from a random
// initialization (f_0 ~ GP(0, K), theory.Distribution) and the accuracy of
// the mean predictor, as the scalars of theoryGDColumns with suffix t<T>
// (inf for the converged network when converged is set); with each_depth
// the same names are also arrays over depths 1..spec.depth (array depth).
// A kernel the predictor refuses (not positive definite in floating point)
// gives NaN.
func runTheoryGDCell(ctx context.Context, c sweep.Cell) (sweep.Result, error) {
	s, err := cellSpec(c, false)
	if err != nil {
		return sweep.Result{}, err
	}
	st := theoryGDSettings{DataSettings: DefaultDataSettings(), Times: []float64{1, 8, 64, 512, 4096}, EtaFrac: 0.5}
	if err := c.DecodeSettings(&st); err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	if !(st.EtaFrac > 0 && st.EtaFrac <= 1) {
		return sweep.Result{}, sweep.Permanentf("theory-gd: eta_frac %g: want 0 < eta_frac <= 1", st.EtaFrac)
	}
	d, err := st.Load(s.Arch, uint64(c.Seed))
	if err != nil {
		return sweep.Result{}, err
	}
	times := st.Times
	if st.Converged {
		times = append(append([]float64(nil), times...), math.Inf(1))
	}
	n := d.XTrain.Shape[0]
	// out[l-1] is the outcome of depth l.
	out := make([]GDOutcome, s.Depth)
	var predErr error
	opt := theory.Options{EachDepth: func(l int, k theory.Kernels) {
		if (st.EachDepth || l == s.Depth) && predErr == nil {
			out[l-1], predErr = GDExpected(k, n, d.Y, d.LTrain, d.LTest, st.EtaFrac, times, 0, nil)
		}
	}}
	if _, err := theory.Compute(s, theory.StackTrainTest(d.XTrain, d.XTest), npy.Array{}, opt); err != nil {
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
		for _, col := range theoryGDColumns {
			r.Scalars[col.name+suffix] = col.get(out[s.Depth-1])[it]
			if st.EachDepth {
				a := npy.Array{Shape: []int{s.Depth}, Data: make([]float64, s.Depth)}
				for l := range a.Data {
					a.Data[l] = col.get(out[l])[it]
				}
				r.Arrays[col.name+suffix] = a
			}
		}
	}
	return r, nil
}

func costTheoryGD(c sweep.Cell) (sweep.Cost, bool) {
	st := theoryGDSettings{DataSettings: DefaultDataSettings()}
	if c.SpecErr != nil || c.DecodeSettings(&st) != nil {
		return sweep.Cost{}, false
	}
	sec, mem := kernelCost(c.Spec, st.InputShape(c.Spec.Arch), st.NTrain+st.NTest)
	return sweep.Cost{Seconds: sec, MemoryBytes: mem + st.memory()}, true
}

// GDAccuracies returns the train and test accuracies of the infinite-width
// NTK predictor of the joint NTK ntk of n training points followed by the
// test points (theory.NewTrainTestPredictor, zero initial outputs) after
// each of times discrete gradient-descent steps of size
// eta = etaFrac * eta_crit. A kernel the predictor refuses (for example not
// positive definite in floating point), a step size that is not finite and
// positive, or a time the predictor cannot evaluate gives NaN; only a
// failure to score the outputs is an error.
func GDAccuracies(ntk *mat.Dense, n int, y *mat.Dense, lTrain, lTest []int, etaFrac float64, times []float64) (train, test []float64, err error) {
	train, test = make([]float64, len(times)), make([]float64, len(times))
	for i := range times {
		train[i], test[i] = math.NaN(), math.NaN()
	}
	p, err := theory.NewTrainTestPredictor(ntk, n, y, nil)
	if err != nil {
		return train, test, nil
	}
	eta := etaFrac * p.EtaCrit()
	if math.IsInf(eta, 0) || !(eta > 0) {
		return train, test, nil
	}
	for it, t := range times {
		ftr, fte, err := p.At(theory.Steps, eta, t)
		if err != nil {
			continue
		}
		a, err := theory.Accuracy(ftr, lTrain)
		if err != nil {
			return train, test, err
		}
		b, err := theory.Accuracy(fte, lTest)
		if err != nil {
			return train, test, err
		}
		train[it], test[it] = a, b
	}
	return train, test, nil
}

// GDOutcome is, at each of a list of times, the accuracy on the training
// and test points of the mean predictor (MeanTrain, MeanTest: the outputs
// averaged over initializations, what GDAccuracies returns), and the
// expected accuracy of one network trained from a random initialization
// (ExpTrain, ExpTest: theory.ExpectedAccuracy of the output distribution,
// whose initial outputs are the NNGP's f_0 ~ GP(0, K)). SDTrain and SDTest
// are the standard deviations of one network's accuracy, sampled from the
// joint output distribution (theory.SampleAccuracy); NaN unless asked for.
// Every entry is NaN where the kernel or time is refused.
type GDOutcome struct {
	MeanTrain, MeanTest []float64
	ExpTrain, ExpTest   []float64
	SDTrain, SDTest     []float64
	// EtaCrit is 2 N k / lambda_max of the training NTK (NaN if refused).
	EtaCrit float64
}

func nanSlice(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.NaN()
	}
	return v
}

// SplitKernels returns the DistributionKernels of joint per-logit kernels
// of n training points followed by the test points (k.NNGP and k.NTK,
// (n + M) x (n + M)); the leading blocks are symmetrized as in
// theory.NewTrainTestPredictor. The full test-test NNGP is included.
func SplitKernels(k theory.Kernels, n int) theory.DistributionKernels {
	r, _ := k.NTK.Dims()
	sym := func(a *mat.Dense, lo, hi int) *mat.SymDense {
		s := mat.NewSymDense(hi-lo, nil)
		for i := lo; i < hi; i++ {
			for j := i; j < hi; j++ {
				s.SetSym(i-lo, j-lo, 0.5*(a.At(i, j)+a.At(j, i)))
			}
		}
		return s
	}
	dk := theory.DistributionKernels{NTKTrain: sym(k.NTK, 0, n), NNGPTrain: sym(k.NNGP, 0, n)}
	if r > n {
		dk.NTKTestTrain = mat.DenseCopyOf(k.NTK.Slice(n, r, 0, n))
		dk.NNGPTestTrain = mat.DenseCopyOf(k.NNGP.Slice(n, r, 0, n))
		dk.NNGPTest = sym(k.NNGP, n, r)
	}
	return dk
}

// GDExpected returns the GDOutcome of the joint kernels k of n training
// points followed by the test points, with one-hot targets y, after each of
// times discrete gradient-descent steps of size eta = etaFrac * eta_crit
// (t = +Inf: converged). With draws > 0 it also samples the spread of one
// network's accuracy with that many draws from rng. Only a failure to
// score the outputs is an error.
func GDExpected(k theory.Kernels, n int, y *mat.Dense, lTrain, lTest []int, etaFrac float64, times []float64, draws int, rng *rand.Rand) (GDOutcome, error) {
	nt := len(times)
	o := GDOutcome{MeanTrain: nanSlice(nt), MeanTest: nanSlice(nt), ExpTrain: nanSlice(nt), ExpTest: nanSlice(nt),
		SDTrain: nanSlice(nt), SDTest: nanSlice(nt), EtaCrit: math.NaN()}
	d, err := theory.NewDistribution(SplitKernels(k, n), y)
	if err != nil {
		return o, nil
	}
	o.EtaCrit = d.Predictor().EtaCrit()
	eta := etaFrac * o.EtaCrit
	if math.IsInf(eta, 0) || !(eta > 0) {
		return o, nil
	}
	for it, t := range times {
		mo, err := d.At(theory.Steps, eta, t)
		if err != nil || !finiteAll(mo.TrainMean.RawMatrix().Data) || !finiteAll(mo.TestMean.RawMatrix().Data) ||
			!finiteAll(mo.TrainVar) || !finiteAll(mo.TestVar) {
			continue
		}
		if o.MeanTrain[it], err = theory.Accuracy(mo.TrainMean, lTrain); err != nil {
			return o, err
		}
		if o.MeanTest[it], err = theory.Accuracy(mo.TestMean, lTest); err != nil {
			return o, err
		}
		if o.ExpTrain[it], err = theory.ExpectedAccuracy(mo.TrainMean, mo.TrainVar, lTrain); err != nil {
			return o, err
		}
		if o.ExpTest[it], err = theory.ExpectedAccuracy(mo.TestMean, mo.TestVar, lTest); err != nil {
			return o, err
		}
		if draws <= 0 {
			continue
		}
		if cov, err := d.TrainCovariance(theory.Steps, eta, t); err == nil {
			o.SDTrain[it] = sampledSD(mo.TrainMean, cov, lTrain, draws, rng)
		}
		if cov, err := d.TestCovariance(theory.Steps, eta, t, nil); err == nil {
			o.SDTest[it] = sampledSD(mo.TestMean, cov, lTest, draws, rng)
		}
	}
	return o, nil
}

func finiteAll(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// sampledSD returns the SD of the accuracy of networks drawn from the
// joint Gaussian outputs (theory.SampleAccuracy), NaN when sampling fails.
// A covariance whose mean variance is below 1e-30 of the squared mean
// outputs (and of 1) is taken as zero: the accuracy is then that of the
// means, SD 0. (Such a covariance, e.g. the training outputs long after
// they converged, can be as small as 1e-300: its draws move the outputs
// by less than 1e-15 of their size.)
func sampledSD(mean *mat.Dense, cov *mat.SymDense, labels []int, draws int, rng *rand.Rand) float64 {
	m := cov.SymmetricDim()
	tr := 0.0
	for i := 0; i < m; i++ {
		tr += cov.At(i, i)
	}
	scale := 1.0
	for _, v := range mean.RawMatrix().Data {
		scale = math.Max(scale, v*v)
	}
	if tr/float64(m) < 1e-30*scale {
		return 0
	}
	s, err := theory.SampleAccuracy(mean, cov, labels, draws, rng)
	if err != nil {
		return math.NaN()
	}
	return s.SD
}
