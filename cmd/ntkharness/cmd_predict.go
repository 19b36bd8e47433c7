package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/internal/atomicfile"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/theory"
)

func init() {
	register("predict", "mean predictions of gradient descent on MSE from NTK files (infinite width)", runPredict)
}

const predictDescription = `
Evaluates the mean outputs of an infinitely wide network trained by gradient
descent on the MSE loss (1/(2 N k)) sum (f - y)^2, from its per-logit NTK:
the train-train kernel Theta (N x N, --ntk-train) and, for test outputs, the
test-train kernel (M x N, --ntk-test-train). Theta is eigendecomposed once;

  f_train(t) = y + V g_t(lambda) V^T (f_train(0) - y)
  f_test(t)  = f_test(0) + Theta_td V [(1 - g_t(lambda))/lambda] V^T (y - f_train(0))

with g_t = exp(-eta lambda t/(N k)) (--flow, the default) or
(1 - eta lambda/(N k))^t (--steps: t whole steps of size eta). The learning
rate is --eta, or --lr-factor times eta_crit = 2 N k / lambda_max (default
0.5). A time "inf" gives the converged predictor Theta_td Theta^-1 y (through
a Cholesky factorization). f(0) = 0 (the mean over initializations) unless
--f0-train/--f0-test are given.

Inputs are .npy files: targets --y are N x k (one-hot or centred one-hot) or
a vector of N values (k = 1). For test accuracy and loss pass --y-test
(M x k, or a vector of M class indices). Accuracy is the fraction of rows
whose argmax is the target's class (reported for k > 1).

--variance adds the distribution over initializations of the trained
network's outputs (Gaussian, logits independent), from the NNGP kernel K of
the same recursion: --nngp-train K_DD (N x N), and for test points
--nngp-test-train K_TD (M x N) and --nngp-test K_TT (M x M, or a vector of
its M diagonal entries). Per logit, with A_t = I - g_t(Theta),

  Sigma_t(x,x') = K(x,x') + Theta_xD Theta^-1 A_t K_DD A_t Theta^-1 Theta_Dx'
                  - (Theta_xD Theta^-1 A_t K_Dx' + transpose),

so Sigma_t(D,D) = (I - A_t) K_DD (I - A_t). It reports the variances
Sigma_t(x,x), the expected accuracy of one trained network (the mean over
points of P(argmax of the Gaussian logits = label)), the expected loss
(loss of the mean plus the mean variance / 2) and, with the full M x M
--nngp-test, the spread of the test accuracy over initializations from
--draws joint draws (Cholesky of Sigma_t over the test points, jittered if
needed; seeded by --seed). --variance describes networks started at random,
so it excludes --f0-train and --f0-test.

Output: a table of loss and accuracy per time, or with --json one JSON object
  {"n":N,"m":M,"k":k,"dynamics":"flow|steps","eta":..,"eta_crit":..,
   "lambda_min":..,"lambda_max":..,
   "times":[{"t":1,"diverged":false,"train_loss":..,"train_acc":..,
             "test_loss":..,"test_acc":..},..]}
where t is a number or "inf" and absent metrics are null. With --variance
each time also has "train_var" (N numbers), "test_var" (M numbers),
"expected_train_acc", "expected_test_acc", "expected_test_acc_sd",
"expected_test_acc_band" ([5%, 95%] quantiles), "expected_train_loss" and
"expected_test_loss". --out DIR also writes DIR/train_t<T>.npy,
DIR/test_t<T>.npy, with --variance DIR/train_var_t<T>.npy and
DIR/test_var_t<T>.npy, and DIR/metrics.json (the JSON object).

Discrete steps with eta > eta_crit diverge: a time whose outputs are not
finite or whose training loss exceeds 1e6 times the loss at t = 0 is marked
"diverged": true with null metrics (the table says "diverged"); the exit
status stays 0.

Exit status: 2 for command-line mistakes (missing or conflicting flags, bad
times, a learning rate that is not finite), 1 for faults of the files (unreadable, wrong shapes, NaN, a kernel
that is not symmetric or, for "inf", not positive definite).`

// predictTime is one row of the report. Metrics are null when absent or
// when the time diverged.
type predictTime struct {
	T         any      `json:"t"` // float64, or "inf"
	Diverged  bool     `json:"diverged"`
	TrainLoss *float64 `json:"train_loss"`
	TrainAcc  *float64 `json:"train_acc"`
	TestLoss  *float64 `json:"test_loss"`
	TestAcc   *float64 `json:"test_acc"`
}

// predictVarTime is a row with the --variance metrics.
type predictVarTime struct {
	predictTime
	TrainVar            []float64  `json:"train_var"`
	TestVar             []float64  `json:"test_var"`
	ExpTrainAcc         *float64   `json:"expected_train_acc"`
	ExpTestAcc          *float64   `json:"expected_test_acc"`
	ExpTestAccSD        *float64   `json:"expected_test_acc_sd"`
	ExpTestAccBand      *[]float64 `json:"expected_test_acc_band"`
	ExpTrainLoss        *float64   `json:"expected_train_loss"`
	ExpTestLoss         *float64   `json:"expected_test_loss"`
	trainVarS, testVarS string     // table summaries
}

type predictReport struct {
	N         int     `json:"n"`
	M         int     `json:"m"`
	K         int     `json:"k"`
	Dynamics  string  `json:"dynamics"`
	Eta       float64 `json:"eta"`
	EtaCrit   float64 `json:"eta_crit"`
	LambdaMin float64 `json:"lambda_min"`
	LambdaMax float64 `json:"lambda_max"`
	Times     []any   `json:"times"` // predictTime or predictVarTime
}

// predictDivergence is the factor over the loss at t = 0 beyond which a
// time counts as diverged (the train command's rule).
const predictDivergence = 1e6

func runPredict(args []string) error {
	fs := newFlags("predict", "--ntk-train K.npy --y Y.npy [--ntk-test-train KT.npy --y-test YT.npy] [--times 1,8,64,inf] [--eta E | --lr-factor F] [--flow | --steps] [--variance --nngp-train N.npy [--nngp-test-train NT.npy --nngp-test NTT.npy]] [--json] [--out DIR]", predictDescription)
	ntkTrain := fs.String("ntk-train", "", "train-train NTK, N x N .npy (required)")
	ntkTest := fs.String("ntk-test-train", "", "test-train NTK, M x N .npy")
	yPath := fs.String("y", "", "training targets, N x k .npy (required)")
	yTestPath := fs.String("y-test", "", "test targets for test loss and accuracy: M x k, or M class indices, .npy")
	f0Train := fs.String("f0-train", "", "initial training outputs, N x k .npy (default zero)")
	f0Test := fs.String("f0-test", "", "initial test outputs, M x k .npy (default zero)")
	timesFlag := fs.String("times", "1,8,64,512,4096", "comma-separated times (steps of size eta); \"inf\" for the converged predictor")
	eta := fs.Float64("eta", 0, "learning rate (exclusive with --lr-factor)")
	lrFactor := fs.Float64("lr-factor", 0, "learning rate as a fraction of eta_crit = 2 N k / lambda_max (default 0.5)")
	flow := fs.Bool("flow", false, "gradient flow, exp(-eta lambda t/(N k)) (the default)")
	steps := fs.Bool("steps", false, "t discrete gradient-descent steps, (1 - eta lambda/(N k))^t")
	variance := fs.Bool("variance", false, "also the output distribution over initializations: variances, expected accuracy and loss (needs --nngp-train)")
	nngpTrain := fs.String("nngp-train", "", "train-train NNGP kernel K_DD, N x N .npy (with --variance)")
	nngpTestTrain := fs.String("nngp-test-train", "", "test-train NNGP kernel K_TD, M x N .npy (with --variance: test variances)")
	nngpTest := fs.String("nngp-test", "", "test-test NNGP kernel K_TT, M x M .npy, or its M diagonal entries (with --variance; the full matrix gives the test accuracy's spread)")
	draws := fs.Int("draws", 1000, "joint draws of the test outputs for the spread of the test accuracy (with --variance and a full --nngp-test)")
	seed := fs.Uint64("seed", 1, "seed of the joint draws")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	outDir := fs.String("out", "", "also write the outputs (.npy) and metrics.json into this directory")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if *ntkTrain == "" || *yPath == "" {
		return usagef("predict: --ntk-train and --y are required (see ntkharness predict --help)")
	}
	if *flow && *steps {
		return usagef("predict: --flow and --steps exclude each other")
	}
	dyn := theory.Flow
	if *steps {
		dyn = theory.Steps
	}
	// A value given as 0 is an error, not the default.
	given := fs.given()
	if given["eta"] && given["lr-factor"] {
		return usagef("predict: --eta and --lr-factor exclude each other")
	}
	if given["eta"] && (!(*eta > 0) || math.IsInf(*eta, 0)) {
		return usagef("predict: --eta %v: must be finite and positive", *eta)
	}
	if !given["eta"] && !given["lr-factor"] {
		*lrFactor = 0.5
	}
	if !given["eta"] && (!(*lrFactor > 0) || math.IsInf(*lrFactor, 0)) {
		return usagef("predict: --lr-factor %v: must be finite and positive", *lrFactor)
	}
	if *ntkTest == "" && (*yTestPath != "" || *f0Test != "") {
		return usagef("predict: --y-test and --f0-test need --ntk-test-train")
	}
	if *variance {
		switch {
		case *nngpTrain == "":
			return usagef("predict: --variance needs --nngp-train")
		case *f0Train != "" || *f0Test != "":
			return usagef("predict: --variance describes networks started at random; it excludes --f0-train and --f0-test")
		case *nngpTestTrain != "" && *ntkTest == "":
			return usagef("predict: --nngp-test-train needs --ntk-test-train")
		case *nngpTest != "" && *nngpTestTrain == "":
			return usagef("predict: --nngp-test needs --nngp-test-train")
		case *draws < 2:
			return usagef("predict: --draws %d: want at least 2", *draws)
		}
	} else if *nngpTrain != "" || *nngpTestTrain != "" || *nngpTest != "" {
		return usagef("predict: --nngp-train, --nngp-test-train and --nngp-test need --variance")
	}
	times, err := predictParseTimes(*timesFlag, dyn)
	if err != nil {
		return err
	}

	thetaArr, err := predictLoadMatrix(*ntkTrain, "--ntk-train")
	if err != nil {
		return err
	}
	theta, err := predictSymmetric(thetaArr, *ntkTrain, "--ntk-train")
	if err != nil {
		return err
	}
	y, err := predictLoadMatrix(*yPath, "--y")
	if err != nil {
		return err
	}
	var td *mat.Dense
	if *ntkTest != "" {
		if td, err = predictLoadMatrix(*ntkTest, "--ntk-test-train"); err != nil {
			return err
		}
	}
	opts := &theory.PredictorOptions{}
	if *f0Train != "" {
		if opts.FTrain0, err = predictLoadMatrix(*f0Train, "--f0-train"); err != nil {
			return err
		}
	}
	if *f0Test != "" {
		if opts.FTest0, err = predictLoadMatrix(*f0Test, "--f0-test"); err != nil {
			return err
		}
	}
	var p *theory.Predictor
	var dist *theory.Distribution
	if *variance {
		kern, err := predictNNGP(theta, td, *nngpTrain, *nngpTestTrain, *nngpTest)
		if err != nil {
			return err
		}
		if dist, err = theory.NewDistribution(kern, y); err != nil {
			return err
		}
		p = dist.Predictor()
	} else if p, err = theory.NewPredictor(theta, td, y, opts); err != nil {
		return err
	}
	n, m, k := p.Dims()
	var yTest *mat.Dense
	var testLabels []int
	if *yTestPath != "" {
		if yTest, testLabels, err = predictLoadTestTargets(*yTestPath, m, k); err != nil {
			return err
		}
	}
	lr := *eta
	if lr == 0 {
		if math.IsInf(p.EtaCrit(), 0) {
			return fmt.Errorf("%s: the train-train NTK has no positive eigenvalue, so eta_crit is infinite; pass --eta", *ntkTrain)
		}
		lr = *lrFactor * p.EtaCrit()
		if !(lr > 0) || math.IsInf(lr, 0) {
			return usagef("predict: --lr-factor %v x eta_crit %.6g = %v: the learning rate is not finite and positive; pass a smaller --lr-factor or --eta", *lrFactor, p.EtaCrit(), lr)
		}
	}
	lambda := p.Eigenvalues()
	rep := predictReport{N: n, M: m, K: k, Dynamics: dyn.String(), Eta: lr, EtaCrit: p.EtaCrit(),
		LambdaMin: lambda[0], LambdaMax: lambda[len(lambda)-1]}
	if math.IsInf(rep.EtaCrit, 0) {
		rep.EtaCrit = 0
	}
	trainLabels := theory.Labels(y)
	if *outDir != "" {
		if err := atomicfile.CheckDir(*outDir); err != nil {
			return fmt.Errorf("--out: %v", err)
		}
	}
	// The loss at t = 0 sets the divergence threshold.
	tr0, _, err := p.At(dyn, lr, 0)
	if err != nil {
		return err
	}
	loss0, err := theory.MSELoss(tr0, y)
	if err != nil {
		return err
	}
	var vrows []*predictVarTime
	for _, t := range times {
		var tr, te *mat.Dense
		var mo *theory.Moments
		if dist != nil {
			if mo, err = dist.At(dyn, lr, t); err != nil {
				return err
			}
			tr, te = mo.TrainMean, mo.TestMean
		} else if tr, te, err = p.At(dyn, lr, t); err != nil {
			return err
		}
		row := predictTime{T: t}
		if math.IsInf(t, 1) {
			row.T = "inf"
		}
		trainLoss, err := theory.MSELoss(tr, y)
		if err != nil {
			return err
		}
		row.Diverged = !predictFinite(tr) || (te != nil && !predictFinite(te)) || !(trainLoss <= predictDivergence*loss0 || loss0 == 0) ||
			math.IsNaN(trainLoss) || math.IsInf(trainLoss, 0) || (mo != nil && !predictFiniteVar(mo))
		if !row.Diverged {
			if err := predictMeanMetrics(&row, trainLoss, tr, te, trainLabels, yTest, testLabels); err != nil {
				return err
			}
		}
		if dist == nil {
			rep.Times = append(rep.Times, row)
		} else {
			vr := &predictVarTime{predictTime: row}
			if !row.Diverged {
				rng := rand.New(rand.NewPCG(*seed, math.Float64bits(t)))
				if err := predictVarMetrics(vr, dist, mo, dyn, lr, t, y, trainLabels, yTest, testLabels, *draws, rng); err != nil {
					return err
				}
			}
			rep.Times = append(rep.Times, vr)
			vrows = append(vrows, vr)
		}
		if *outDir != "" {
			name := predictTimeName(t)
			if err := npy.Save(filepath.Join(*outDir, "train_t"+name+".npy"), predictArray(tr)); err != nil {
				return err
			}
			if te != nil {
				if err := npy.Save(filepath.Join(*outDir, "test_t"+name+".npy"), predictArray(te)); err != nil {
					return err
				}
			}
			if mo != nil {
				if err := npy.Save(filepath.Join(*outDir, "train_var_t"+name+".npy"), predictVector(mo.TrainVar)); err != nil {
					return err
				}
				if mo.TestVar != nil {
					if err := npy.Save(filepath.Join(*outDir, "test_var_t"+name+".npy"), predictVector(mo.TestVar)); err != nil {
						return err
					}
				}
			}
		}
	}
	if *outDir != "" {
		if err := atomicfile.WriteJSON(filepath.Join(*outDir, "metrics.json"), rep); err != nil {
			return err
		}
	}
	if *asJSON {
		return mfPrintJSON(rep)
	}
	return predictTable(rep, vrows, p)
}

// predictMeanMetrics fills the loss and accuracy of the mean outputs.
func predictMeanMetrics(row *predictTime, trainLoss float64, tr, te *mat.Dense, trainLabels []int, yTest *mat.Dense, testLabels []int) error {
	row.TrainLoss = &trainLoss
	_, k := tr.Dims()
	if k > 1 {
		a, err := theory.Accuracy(tr, trainLabels)
		if err != nil {
			return err
		}
		row.TrainAcc = &a
	}
	if yTest != nil {
		l, err := theory.MSELoss(te, yTest)
		if err != nil {
			return err
		}
		row.TestLoss = &l
	}
	if testLabels != nil {
		a, err := theory.Accuracy(te, testLabels)
		if err != nil {
			return err
		}
		row.TestAcc = &a
	}
	return nil
}

// predictVarMetrics fills the --variance metrics of one time.
func predictVarMetrics(vr *predictVarTime, dist *theory.Distribution, mo *theory.Moments, dyn theory.Dynamics, lr, t float64,
	y *mat.Dense, trainLabels []int, yTest *mat.Dense, testLabels []int, draws int, rng *rand.Rand) error {
	vr.TrainVar, vr.TestVar = mo.TrainVar, mo.TestVar
	vr.trainVarS, vr.testVarS = predictVarSummary(mo.TrainVar), predictVarSummary(mo.TestVar)
	_, k := y.Dims()
	l, err := theory.ExpectedMSELoss(mo.TrainMean, mo.TrainVar, y)
	if err != nil {
		return err
	}
	vr.ExpTrainLoss = &l
	if k > 1 {
		a, err := theory.ExpectedAccuracy(mo.TrainMean, mo.TrainVar, trainLabels)
		if err != nil {
			return err
		}
		vr.ExpTrainAcc = &a
	}
	if mo.TestVar == nil {
		return nil
	}
	if yTest != nil {
		l, err := theory.ExpectedMSELoss(mo.TestMean, mo.TestVar, yTest)
		if err != nil {
			return err
		}
		vr.ExpTestLoss = &l
	}
	if testLabels == nil {
		return nil
	}
	a, err := theory.ExpectedAccuracy(mo.TestMean, mo.TestVar, testLabels)
	if err != nil {
		return err
	}
	vr.ExpTestAcc = &a
	cov, err := dist.TestCovariance(dyn, lr, t, nil)
	if err != nil {
		return nil // no full test-test NNGP kernel: no spread
	}
	sp, err := theory.SampleAccuracy(mo.TestMean, cov, testLabels, draws, rng)
	if err != nil {
		return fmt.Errorf("--nngp-test: test accuracy spread at t=%v: %w", t, err)
	}
	vr.ExpTestAccSD = &sp.SD
	vr.ExpTestAccBand = &[]float64{sp.P5, sp.P95}
	return nil
}

// predictTable prints the report as a table.
func predictTable(rep predictReport, vrows []*predictVarTime, p *theory.Predictor) error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Printf("N=%d M=%d k=%d %s eta=%.6g (eta_crit=%.6g) lambda in [%.4g, %.4g]\n", rep.N, rep.M, rep.K, rep.Dynamics, rep.Eta, p.EtaCrit(), rep.LambdaMin, rep.LambdaMax)
	head := "t\ttrain loss\ttrain acc\ttest loss\ttest acc\t"
	if vrows != nil {
		head += "train var mean/max\tE train acc\ttest var mean/max\tE test acc\t5-95% band\t"
	}
	fmt.Fprintln(tw, head)
	opt := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("%.6g", *v)
	}
	for i, x := range rep.Times {
		var r predictTime
		switch v := x.(type) {
		case predictTime:
			r = v
		case *predictVarTime:
			r = v.predictTime
		}
		if r.Diverged {
			fmt.Fprintf(tw, "%v\tdiverged\tdiverged\tdiverged\tdiverged\t", r.T)
			if vrows != nil {
				fmt.Fprint(tw, "diverged\tdiverged\tdiverged\tdiverged\t-\t")
			}
			fmt.Fprintln(tw)
			continue
		}
		fmt.Fprintf(tw, "%v\t%s\t%s\t%s\t%s\t", r.T, opt(r.TrainLoss), opt(r.TrainAcc), opt(r.TestLoss), opt(r.TestAcc))
		if vrows != nil {
			v := vrows[i]
			band := "-"
			if v.ExpTestAccBand != nil {
				band = fmt.Sprintf("[%.4g, %.4g] (SD %.3g)", (*v.ExpTestAccBand)[0], (*v.ExpTestAccBand)[1], *v.ExpTestAccSD)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t", v.trainVarS, opt(v.ExpTrainAcc), v.testVarS, opt(v.ExpTestAcc), band)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// predictVarSummary returns "mean/max" of variances, or "-".
func predictVarSummary(v []float64) string {
	if v == nil {
		return "-"
	}
	s, mx := 0.0, 0.0
	for _, x := range v {
		s += x
		mx = math.Max(mx, x)
	}
	return fmt.Sprintf("%.4g/%.4g", s/float64(len(v)), mx)
}

// predictFinite reports whether every entry of a is finite.
func predictFinite(a *mat.Dense) bool {
	r, _ := a.Dims()
	for i := 0; i < r; i++ {
		for _, v := range a.RawRowView(i) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return false
			}
		}
	}
	return true
}

func predictFiniteVar(mo *theory.Moments) bool {
	for _, v := range append(append([]float64(nil), mo.TrainVar...), mo.TestVar...) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// predictNNGP loads the NNGP kernels of --variance.
func predictNNGP(theta *mat.SymDense, td *mat.Dense, trainPath, testTrainPath, testPath string) (theory.DistributionKernels, error) {
	kern := theory.DistributionKernels{NTKTrain: theta, NTKTestTrain: td}
	a, err := predictLoadMatrix(trainPath, "--nngp-train")
	if err != nil {
		return kern, err
	}
	n := theta.SymmetricDim()
	if r, c := a.Dims(); r != n || c != n {
		return kern, fmt.Errorf("--nngp-train %s: shape %dx%d, want %dx%d like --ntk-train", trainPath, r, c, n, n)
	}
	if kern.NNGPTrain, err = predictSymmetric(a, trainPath, "--nngp-train"); err != nil {
		return kern, err
	}
	if testTrainPath == "" {
		return kern, nil
	}
	m, _ := td.Dims()
	if kern.NNGPTestTrain, err = predictLoadMatrix(testTrainPath, "--nngp-test-train"); err != nil {
		return kern, err
	}
	if r, c := kern.NNGPTestTrain.Dims(); r != m || c != n {
		return kern, fmt.Errorf("--nngp-test-train %s: shape %dx%d, want %dx%d like --ntk-test-train", testTrainPath, r, c, m, n)
	}
	if testPath == "" {
		return kern, nil
	}
	b, err := predictLoadMatrix(testPath, "--nngp-test")
	if err != nil {
		return kern, err
	}
	switch r, c := b.Dims(); {
	case r == m && c == m:
		if kern.NNGPTest, err = predictSymmetric(b, testPath, "--nngp-test"); err != nil {
			return kern, err
		}
	case r == m && c == 1:
		kern.NNGPTestDiag = mat.Col(nil, 0, b)
	default:
		return kern, fmt.Errorf("--nngp-test %s: shape %dx%d, want %dx%d or a vector of %d diagonal entries", testPath, r, c, m, m, m)
	}
	return kern, nil
}

// predictParseTimes parses a comma-separated list of non-negative times; "inf"
// means the converged predictor. Discrete steps need whole numbers.
func predictParseTimes(s string, dyn theory.Dynamics) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		var t float64
		if strings.EqualFold(f, "inf") {
			t = math.Inf(1)
		} else {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil || math.IsNaN(v) || v < 0 || math.IsInf(v, 0) {
				return nil, usagef("predict: --times: %q is not a non-negative number or inf", f)
			}
			if dyn == theory.Steps && v != math.Trunc(v) {
				return nil, usagef("predict: --times: %q is not a whole number of steps (--steps)", f)
			}
			t = v
		}
		out = append(out, t)
	}
	return out, nil
}

func predictTimeName(t float64) string {
	if math.IsInf(t, 1) {
		return "inf"
	}
	return strconv.FormatFloat(t, 'g', -1, 64)
}

// predictLoadMatrix reads a 2-D .npy file (a 1-D file is a column).
func predictLoadMatrix(path, flagName string) (*mat.Dense, error) {
	a, err := npy.Load(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	switch len(a.Shape) {
	case 1:
		if a.Shape[0] == 0 {
			return nil, fmt.Errorf("%s %s: empty array", flagName, path)
		}
		return mat.NewDense(a.Shape[0], 1, a.Data), nil
	case 2:
		if a.Shape[0] == 0 || a.Shape[1] == 0 {
			return nil, fmt.Errorf("%s %s: empty array of shape %v", flagName, path, a.Shape)
		}
		return mat.NewDense(a.Shape[0], a.Shape[1], a.Data), nil
	}
	return nil, fmt.Errorf("%s %s: shape %v, want a matrix", flagName, path, a.Shape)
}

// predictSymmetric checks that a is square and symmetric to a relative 1e-8 (an
// NTK assembled in float64 from blocks is symmetric to round-off) and
// returns it as a SymDense.
func predictSymmetric(a *mat.Dense, path, flagName string) (*mat.SymDense, error) {
	r, c := a.Dims()
	if r != c {
		return nil, fmt.Errorf("%s %s: shape %dx%d, want a square matrix", flagName, path, r, c)
	}
	scale := 0.0
	for i := 0; i < r; i++ {
		for _, v := range a.RawRowView(i) {
			scale = math.Max(scale, math.Abs(v))
		}
	}
	for i := 0; i < r; i++ {
		for j := i + 1; j < r; j++ {
			if d := math.Abs(a.At(i, j) - a.At(j, i)); d > 1e-8*scale || math.IsNaN(d) {
				return nil, fmt.Errorf("%s %s: not symmetric: entries (%d, %d) and (%d, %d) differ by %.3g", flagName, path, i, j, j, i, d)
			}
		}
	}
	s := mat.NewSymDense(r, nil)
	for i := 0; i < r; i++ {
		for j := i; j < r; j++ {
			s.SetSym(i, j, a.At(i, j))
		}
	}
	return s, nil
}

// predictLoadTestTargets reads M x k test targets, or M class indices (then the
// loss is computed against one-hot targets).
func predictLoadTestTargets(path string, m, k int) (*mat.Dense, []int, error) {
	y, err := predictLoadMatrix(path, "--y-test")
	if err != nil {
		return nil, nil, err
	}
	r, c := y.Dims()
	if r != m {
		return nil, nil, fmt.Errorf("--y-test %s: %d rows, want %d (one per test point)", path, r, m)
	}
	if c == k && k > 1 {
		return y, theory.Labels(y), nil
	}
	if c == 1 && k > 1 {
		labels := make([]int, r)
		for i := range labels {
			v := y.At(i, 0)
			if v != math.Trunc(v) || v < 0 || v >= float64(k) {
				return nil, nil, fmt.Errorf("--y-test %s: entry %d is %v, want a class index in [0, %d)", path, i, v, k)
			}
			labels[i] = int(v)
		}
		return datasets.OneHot(labels, k, false), labels, nil
	}
	if c == k {
		return y, nil, nil
	}
	return nil, nil, fmt.Errorf("--y-test %s: %d columns, want %d (like --y) or 1 (class indices)", path, c, k)
}

func predictVector(v []float64) npy.Array {
	a := npy.New(len(v))
	copy(a.Data, v)
	return a
}

func predictArray(d *mat.Dense) npy.Array {
	r, c := d.Dims()
	a := npy.New(r, c)
	for i := 0; i < r; i++ {
		copy(a.Data[i*c:(i+1)*c], d.RawRowView(i))
	}
	return a
}
