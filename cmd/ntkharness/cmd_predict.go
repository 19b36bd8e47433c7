package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"gonum.org/v1/gonum/mat"

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

Output: a table of loss and accuracy per time, or with --json one JSON object
  {"n":N,"m":M,"k":k,"dynamics":"flow|steps","eta":..,"eta_crit":..,
   "lambda_min":..,"lambda_max":..,
   "times":[{"t":1,"train_loss":..,"train_acc":..,"test_loss":..,"test_acc":..},..]}
where t is a number or "inf" and absent metrics are null. --out DIR also
writes DIR/train_t<T>.npy, DIR/test_t<T>.npy and DIR/metrics.json.

Exit status: 2 for command-line mistakes (missing or conflicting flags, bad
times), 1 for faults of the files (unreadable, wrong shapes, NaN, a kernel
that is not symmetric or, for "inf", not positive definite).`

// predictTime is one row of the report.
type predictTime struct {
	T         any      `json:"t"` // float64, or "inf"
	TrainLoss float64  `json:"train_loss"`
	TrainAcc  *float64 `json:"train_acc"`
	TestLoss  *float64 `json:"test_loss"`
	TestAcc   *float64 `json:"test_acc"`
}

type predictReport struct {
	N         int           `json:"n"`
	M         int           `json:"m"`
	K         int           `json:"k"`
	Dynamics  string        `json:"dynamics"`
	Eta       float64       `json:"eta"`
	EtaCrit   float64       `json:"eta_crit"`
	LambdaMin float64       `json:"lambda_min"`
	LambdaMax float64       `json:"lambda_max"`
	Times     []predictTime `json:"times"`
}

func runPredict(args []string) error {
	fs := newFlags("predict", "--ntk-train K.npy --y Y.npy [--ntk-test-train KT.npy --y-test YT.npy] [--times 1,8,64,inf] [--eta E | --lr-factor F] [--flow | --steps] [--json] [--out DIR]", predictDescription)
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
	if *eta != 0 && *lrFactor != 0 {
		return usagef("predict: --eta and --lr-factor exclude each other")
	}
	if *eta != 0 && (!(*eta > 0) || math.IsInf(*eta, 0)) {
		return usagef("predict: --eta %v: must be finite and positive", *eta)
	}
	if *lrFactor == 0 && *eta == 0 {
		*lrFactor = 0.5
	}
	if *eta == 0 && (!(*lrFactor > 0) || math.IsInf(*lrFactor, 0)) {
		return usagef("predict: --lr-factor %v: must be finite and positive", *lrFactor)
	}
	if *ntkTest == "" && (*yTestPath != "" || *f0Test != "") {
		return usagef("predict: --y-test and --f0-test need --ntk-test-train")
	}
	times, err := predictParseTimes(*timesFlag, dyn)
	if err != nil {
		return err
	}

	thetaArr, err := predictLoadMatrix(*ntkTrain, "--ntk-train")
	if err != nil {
		return err
	}
	theta, err := predictSymmetric(thetaArr, *ntkTrain)
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
	p, err := theory.NewPredictor(theta, td, y, opts)
	if err != nil {
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
		lr = *lrFactor * p.EtaCrit()
		if math.IsInf(lr, 0) {
			return fmt.Errorf("%s: the train-train NTK has no positive eigenvalue, so eta_crit is infinite; pass --eta", *ntkTrain)
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
		if err := os.MkdirAll(*outDir, 0o755); err != nil {
			return err
		}
	}
	for _, t := range times {
		tr, te, err := p.At(dyn, lr, t)
		if err != nil {
			return err
		}
		row := predictTime{T: t}
		if math.IsInf(t, 1) {
			row.T = "inf"
		}
		if row.TrainLoss, err = theory.MSELoss(tr, y); err != nil {
			return err
		}
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
		rep.Times = append(rep.Times, row)
		if *outDir != "" {
			if err := npy.Save(filepath.Join(*outDir, "train_t"+predictTimeName(t)+".npy"), predictArray(tr)); err != nil {
				return err
			}
			if te != nil {
				if err := npy.Save(filepath.Join(*outDir, "test_t"+predictTimeName(t)+".npy"), predictArray(te)); err != nil {
					return err
				}
			}
		}
	}
	if *outDir != "" {
		if err := atomicfile.Write(filepath.Join(*outDir, "metrics.json"), func(w io.Writer) error {
			return predictWriteJSON(w, rep)
		}); err != nil {
			return err
		}
	}
	if *asJSON {
		return mfPrintJSON(rep)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Printf("N=%d M=%d k=%d %s eta=%.6g (eta_crit=%.6g) lambda in [%.4g, %.4g]\n", n, m, k, dyn, lr, p.EtaCrit(), rep.LambdaMin, rep.LambdaMax)
	fmt.Fprintln(tw, "t\ttrain loss\ttrain acc\ttest loss\ttest acc\t")
	opt := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("%.6g", *v)
	}
	for _, r := range rep.Times {
		fmt.Fprintf(tw, "%v\t%.6g\t%s\t%s\t%s\t\n", r.T, r.TrainLoss, opt(r.TrainAcc), opt(r.TestLoss), opt(r.TestAcc))
	}
	return tw.Flush()
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
func predictSymmetric(a *mat.Dense, path string) (*mat.SymDense, error) {
	r, c := a.Dims()
	if r != c {
		return nil, fmt.Errorf("--ntk-train %s: shape %dx%d, want a square matrix", path, r, c)
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
				return nil, fmt.Errorf("--ntk-train %s: not symmetric: entries (%d, %d) and (%d, %d) differ by %.3g", path, i, j, j, i, d)
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
		oneHot := mat.NewDense(r, k, nil)
		for i := range labels {
			v := y.At(i, 0)
			if v != math.Trunc(v) || v < 0 || v >= float64(k) {
				return nil, nil, fmt.Errorf("--y-test %s: entry %d is %v, want a class index in [0, %d)", path, i, v, k)
			}
			labels[i] = int(v)
			oneHot.Set(i, labels[i], 1)
		}
		return oneHot, labels, nil
	}
	if c == k {
		return y, nil, nil
	}
	return nil, nil, fmt.Errorf("--y-test %s: %d columns, want %d (like --y) or 1 (class indices)", path, c, k)
}

func predictArray(d *mat.Dense) npy.Array {
	r, c := d.Dims()
	a := npy.New(r, c)
	for i := 0; i < r; i++ {
		copy(a.Data[i*c:(i+1)*c], d.RawRowView(i))
	}
	return a
}

// predictWriteJSON writes v as indented JSON to w.
func predictWriteJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
