package theory

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/linalg"
	"github.com/ntkharness/ntkharness/npy"
)

// Dynamics selects the gradient-descent dynamics of a Predictor.
type Dynamics int

const (
	// Flow is continuous-time gradient flow: after time t (in units of
	// steps of size eta) each eigenmode of the train-train NTK with
	// eigenvalue lambda has decayed by exp(-eta lambda t / (N k)).
	Flow Dynamics = iota
	// Steps is t discrete gradient-descent steps of size eta: each mode
	// decays by (1 - eta lambda / (N k))^t. t must be a whole number.
	Steps
)

// String returns "flow" or "steps".
func (d Dynamics) String() string {
	switch d {
	case Flow:
		return "flow"
	case Steps:
		return "steps"
	}
	return fmt.Sprintf("Dynamics(%d)", int(d))
}

// PredictorOptions are the optional inputs of NewPredictor.
type PredictorOptions struct {
	// FTrain0 (N x k) and FTest0 (M x k) are the network outputs at
	// initialization. nil means zero, the mean over initializations.
	FTrain0, FTest0 *mat.Dense
}

// Predictor evaluates the mean predictions of an infinitely wide network
// trained by gradient descent on the MSE loss (1/(2 N k)) sum (f - y)^2 in
// the linearized (NTK) regime of Lee et al. (2019). With the per-logit train-train
// NTK Theta = V diag(lambda) V^T (N x N), the test-train NTK Theta_td
// (M x N), targets y (N x k) and a decay factor g_t(lambda) per eigenmode,
//
//	f_train(t) = y + V diag(g_t(lambda)) V^T (f_train(0) - y)
//	f_test(t)  = f_test(0) + Theta_td V diag((1 - g_t(lambda)) / lambda) V^T (y - f_train(0))
//
// where g_t(lambda) = exp(-eta lambda t/(N k)) for gradient flow and
// (1 - eta lambda/(N k))^t for t discrete steps of size eta. At t = +Inf
// (and 0 < eta < eta_crit for steps) f_train = y and
// f_test = f_test(0) + Theta_td Theta^-1 (y - f_train(0)), computed through a
// Cholesky factorization of Theta.
//
// Theta is eigendecomposed once, in NewPredictor; each evaluation then costs
// O((N + M) N k). A Predictor keeps references to the matrices it was given
// (do not modify them while using it) and is not safe for concurrent use.
type Predictor struct {
	n, m, k int
	theta   mat.Symmetric
	td      *mat.Dense // Theta_td, M x N (nil when M = 0)
	y       *mat.Dense
	fTrain0 *mat.Dense // nil: zero
	fTest0  *mat.Dense // nil: zero
	lambda  []float64  // ascending
	v       *mat.Dense // eigenvectors, N x N
	tdV     *mat.Dense // Theta_td V, M x N
	r       *mat.Dense // V^T (y - f_train(0)), N x k
	atInf   *mat.Dense // cached f_test(+Inf)
}

// NewPredictor checks the inputs and eigendecomposes the train-train NTK
// theta (N x N, per logit). testTrain (M x N) may be nil when only training
// outputs are wanted; y is N x k. It returns an error naming the input at
// fault for mismatched shapes, NaN or Inf entries, or an empty training set.
func NewPredictor(theta mat.Symmetric, testTrain, y *mat.Dense, opts *PredictorOptions) (*Predictor, error) {
	if theta == nil || y == nil {
		return nil, errors.New("theory: predictor needs a train-train NTK and targets")
	}
	n := theta.SymmetricDim()
	if n == 0 {
		return nil, errors.New("theory: train-train NTK is empty")
	}
	if err := finiteSym("train-train NTK", theta); err != nil {
		return nil, err
	}
	yr, k := y.Dims()
	if yr != n || k == 0 {
		return nil, fmt.Errorf("theory: targets are %dx%d, want %d rows (one per training point) and at least one column", yr, k, n)
	}
	if err := finiteDense("targets", y); err != nil {
		return nil, err
	}
	p := &Predictor{n: n, k: k, theta: theta, y: y}
	if testTrain != nil {
		m, c := testTrain.Dims()
		if c != n {
			return nil, fmt.Errorf("theory: test-train NTK is %dx%d, want %d columns (one per training point)", m, c, n)
		}
		if err := finiteDense("test-train NTK", testTrain); err != nil {
			return nil, err
		}
		p.m, p.td = m, testTrain
	}
	if opts != nil {
		if opts.FTrain0 != nil {
			if r, c := opts.FTrain0.Dims(); r != n || c != k {
				return nil, fmt.Errorf("theory: initial train outputs are %dx%d, want %dx%d", r, c, n, k)
			}
			if err := finiteDense("initial train outputs", opts.FTrain0); err != nil {
				return nil, err
			}
			p.fTrain0 = opts.FTrain0
		}
		if opts.FTest0 != nil {
			if r, c := opts.FTest0.Dims(); r != p.m || c != k {
				return nil, fmt.Errorf("theory: initial test outputs are %dx%d, want %dx%d", r, c, p.m, k)
			}
			if err := finiteDense("initial test outputs", opts.FTest0); err != nil {
				return nil, err
			}
			p.fTest0 = opts.FTest0
		}
	}
	vals, vecs, err := linalg.EigenSym(theta, true)
	if err != nil {
		return nil, fmt.Errorf("theory: eigendecomposition of the train-train NTK: %w", err)
	}
	p.lambda, p.v = vals, vecs
	resid := p.residual()
	p.r = mat.NewDense(n, k, nil)
	linalg.Gemm(true, false, 1, vecs, resid, 0, p.r)
	if p.m > 0 {
		p.tdV = mat.NewDense(p.m, n, nil)
		linalg.Gemm(false, false, 1, p.td, vecs, 0, p.tdV)
	}
	return p, nil
}

// StackTrainTest returns the N training inputs followed by the M test
// inputs, [N + M, ...]: the inputs of one kernel computation whose joint
// NTK NewTrainTestPredictor splits. The data are copied. xTest must have
// the example shape of xTrain (it panics otherwise).
func StackTrainTest(xTrain, xTest npy.Array) npy.Array {
	if len(xTest.Shape) != len(xTrain.Shape) || len(xTest.Data)*xTrain.Shape[0] != len(xTrain.Data)*xTest.Shape[0] {
		panic(fmt.Sprintf("theory: test inputs %v and training inputs %v differ in example shape", xTest.Shape, xTrain.Shape))
	}
	n, m := xTrain.Shape[0], xTest.Shape[0]
	return npy.Array{Shape: append([]int{n + m}, xTrain.Shape[1:]...), Data: append(append([]float64(nil), xTrain.Data...), xTest.Data...)}
}

// NewTrainTestPredictor returns the Predictor of the joint per-logit NTK
// of n training points followed by M test points,
//
//	ntk = [[Theta, .], [Theta_td, .]]   ((n + M) x (n + M)),
//
// as NewPredictor(Theta, Theta_td, y, opts). Theta is the symmetric part
// (K + K^T)/2 of the leading n x n block K (an exactly symmetric block,
// such as an analytic kernel, is taken as it is) and Theta_td the M x n
// block below it, copied. Without test points (n + M = n) Theta_td is nil.
func NewTrainTestPredictor(ntk *mat.Dense, n int, y *mat.Dense, opts *PredictorOptions) (*Predictor, error) {
	r, c := ntk.Dims()
	if r != c || n < 1 || n > r {
		return nil, fmt.Errorf("theory: joint NTK is %dx%d, want a square matrix with at least %d (training) rows", r, c, max(n, 1))
	}
	theta := mat.NewSymDense(n, nil)
	for a := 0; a < n; a++ {
		for b := a; b < n; b++ {
			v, w := ntk.At(a, b), ntk.At(b, a)
			if v != w {
				v = 0.5 * (v + w)
			}
			theta.SetSym(a, b, v)
		}
	}
	var td *mat.Dense
	if r > n {
		td = mat.DenseCopyOf(ntk.Slice(n, r, 0, n))
	}
	return NewPredictor(theta, td, y, opts)
}

// residual returns y - f_train(0).
func (p *Predictor) residual() *mat.Dense {
	d := mat.DenseCopyOf(p.y)
	if p.fTrain0 != nil {
		d.Sub(d, p.fTrain0)
	}
	return d
}

// Eigenvalues returns the eigenvalues of the train-train NTK, ascending.
// The slice is shared; do not modify it.
func (p *Predictor) Eigenvalues() []float64 { return p.lambda }

// Dims returns the number of training points N, test points M and outputs k.
func (p *Predictor) Dims() (n, m, k int) { return p.n, p.m, p.k }

// EtaCrit returns the largest stable learning rate of discrete gradient
// descent, eta_crit = 2 N k / lambda_max. It is +Inf when lambda_max <= 0.
func (p *Predictor) EtaCrit() float64 {
	lmax := p.lambda[len(p.lambda)-1]
	if lmax <= 0 {
		return math.Inf(1)
	}
	return 2 * float64(p.n*p.k) / lmax
}

// decay returns g_t(lambda) and (1 - g_t(lambda))/lambda for one mode,
// computed without cancellation: 1 - exp(-x) = -expm1(-x), and
// 1 - (1-u)^t = -expm1(t log1p(-u)) for u < 1. At lambda = 0 the second is
// its limit eta t/(N k). Slightly negative eigenvalues (round-off in a
// positive semi-definite kernel) go through the same formulas.
func decay(dyn Dynamics, lambda, eta, t, nk float64) (g, h float64) {
	u := eta * lambda / nk
	var oneMinusG float64
	switch dyn {
	case Flow:
		g = math.Exp(-u * t)
		oneMinusG = -math.Expm1(-u * t)
	case Steps:
		if u < 1 {
			l := t * math.Log1p(-u)
			g = math.Exp(l)
			oneMinusG = -math.Expm1(l)
		} else {
			g = math.Pow(1-u, t)
			oneMinusG = 1 - g
		}
	default:
		panic("theory: unknown dynamics")
	}
	if lambda == 0 {
		return g, eta * t / nk
	}
	return g, oneMinusG / lambda
}

// checkTime validates eta and t for the dynamics.
func checkTime(dyn Dynamics, eta, t float64) error {
	if dyn != Flow && dyn != Steps {
		return fmt.Errorf("theory: unknown dynamics %d", int(dyn))
	}
	if !(eta > 0) || math.IsInf(eta, 0) {
		return fmt.Errorf("theory: learning rate %v: must be finite and positive", eta)
	}
	if math.IsNaN(t) || t < 0 {
		return fmt.Errorf("theory: time %v: must be non-negative", t)
	}
	if dyn == Steps && !math.IsInf(t, 1) && t != math.Trunc(t) {
		return fmt.Errorf("theory: time %v: discrete gradient descent needs a whole number of steps", t)
	}
	return nil
}

// At returns the mean train outputs (N x k) and test outputs (M x k; nil
// without a test-train NTK) after time t of the given dynamics with learning
// rate eta. t = +Inf gives the converged predictor; for Steps it requires
// eta < eta_crit (otherwise the iteration diverges and At returns an error).
// At finite t, Steps with eta > eta_crit returns the diverging iterates
// themselves, whose top mode grows like |1 - eta lambda_max/(N k)|^t (and
// may overflow to infinities): that divergence is the result.
func (p *Predictor) At(dyn Dynamics, eta, t float64) (train, test *mat.Dense, err error) {
	if err := checkTime(dyn, eta, t); err != nil {
		return nil, nil, err
	}
	if math.IsInf(t, 1) {
		return p.atInfinity(dyn, eta)
	}
	nk := float64(p.n * p.k)
	gs := make([]float64, p.n)
	hs := make([]float64, p.n)
	for i, l := range p.lambda {
		gs[i], hs[i] = decay(dyn, l, eta, t, nk)
	}
	// f_train = y - V diag(g) r, with r = V^T (y - f_train(0)).
	scaled := mat.NewDense(p.n, p.k, nil)
	for i := 0; i < p.n; i++ {
		row := scaled.RawRowView(i)
		copy(row, p.r.RawRowView(i))
		for j := range row {
			row[j] *= gs[i]
		}
	}
	train = mat.DenseCopyOf(p.y)
	linalg.Gemm(false, false, -1, p.v, scaled, 1, train)
	if p.m > 0 {
		for i := 0; i < p.n; i++ {
			row := scaled.RawRowView(i)
			copy(row, p.r.RawRowView(i))
			for j := range row {
				row[j] *= hs[i]
			}
		}
		test = mat.NewDense(p.m, p.k, nil)
		if p.fTest0 != nil {
			test.Copy(p.fTest0)
		}
		linalg.Gemm(false, false, 1, p.tdV, scaled, 1, test)
	}
	return train, test, nil
}

// atInfinity returns the converged outputs: y on the training set and
// f_test(0) + Theta_td Theta^-1 (y - f_train(0)) on the test set.
func (p *Predictor) atInfinity(dyn Dynamics, eta float64) (train, test *mat.Dense, err error) {
	if dyn == Steps && eta >= p.EtaCrit() {
		return nil, nil, fmt.Errorf("theory: learning rate %v >= eta_crit %v: discrete gradient descent does not converge", eta, p.EtaCrit())
	}
	train = mat.DenseCopyOf(p.y)
	if p.m == 0 {
		return train, nil, nil
	}
	if p.atInf == nil {
		sol, err := linalg.SolveSPD(p.theta, p.residual())
		if err != nil {
			return nil, nil, fmt.Errorf("theory: converged predictor needs Theta^-1: train-train NTK (eigenvalues %.3g to %.3g): %w", p.lambda[0], p.lambda[len(p.lambda)-1], err)
		}
		out := mat.NewDense(p.m, p.k, nil)
		if p.fTest0 != nil {
			out.Copy(p.fTest0)
		}
		linalg.Gemm(false, false, 1, p.td, sol, 1, out)
		p.atInf = out
	}
	return train, mat.DenseCopyOf(p.atInf), nil
}

// Prediction is the mean output at one time.
type Prediction struct {
	T     float64
	Train *mat.Dense // N x k
	Test  *mat.Dense // M x k, nil without a test-train NTK
}

// Trajectory evaluates At at each of times (non-negative; +Inf allowed).
func (p *Predictor) Trajectory(dyn Dynamics, eta float64, times []float64) ([]Prediction, error) {
	out := make([]Prediction, 0, len(times))
	for _, t := range times {
		tr, te, err := p.At(dyn, eta, t)
		if err != nil {
			return nil, err
		}
		out = append(out, Prediction{T: t, Train: tr, Test: te})
	}
	return out, nil
}

// NNGPMean returns the posterior mean of Gaussian-process regression with
// the NNGP kernel, K_td (K + reg I)^-1 y, for the train-train kernel k
// (N x N), the test-train kernel kTestTrain (M x N) and targets y (N x k).
// reg >= 0 is a diagonal regularizer (the observation-noise variance). It
// returns an error for mismatched shapes, non-finite entries, a negative
// regularizer, or a K + reg I that is not positive definite.
func NNGPMean(k mat.Symmetric, kTestTrain, y *mat.Dense, reg float64) (*mat.Dense, error) {
	if k == nil || kTestTrain == nil || y == nil {
		return nil, errors.New("theory: NNGP mean needs train-train and test-train kernels and targets")
	}
	n := k.SymmetricDim()
	if err := finiteSym("train-train NNGP kernel", k); err != nil {
		return nil, err
	}
	m, c := kTestTrain.Dims()
	if c != n {
		return nil, fmt.Errorf("theory: test-train NNGP kernel is %dx%d, want %d columns", m, c, n)
	}
	if err := finiteDense("test-train NNGP kernel", kTestTrain); err != nil {
		return nil, err
	}
	if r, _ := y.Dims(); r != n {
		return nil, fmt.Errorf("theory: targets have %d rows, want %d (one per training point)", r, n)
	}
	if err := finiteDense("targets", y); err != nil {
		return nil, err
	}
	if math.IsNaN(reg) || math.IsInf(reg, 0) || reg < 0 {
		return nil, fmt.Errorf("theory: regularizer %v: must be finite and non-negative", reg)
	}
	a := mat.NewSymDense(n, nil)
	a.CopySym(k)
	for i := 0; i < n; i++ {
		a.SetSym(i, i, a.At(i, i)+reg)
	}
	sol, err := linalg.SolveSPD(a, y)
	if err != nil {
		return nil, fmt.Errorf("theory: NNGP posterior mean (regularizer %v): %w", reg, err)
	}
	_, kk := y.Dims()
	out := mat.NewDense(m, kk, nil)
	linalg.Gemm(false, false, 1, kTestTrain, sol, 0, out)
	return out, nil
}

// Accuracy returns the fraction of rows of f whose largest entry (argmax,
// first on ties) is at the column labels[i]. It returns an error when the
// lengths differ, f is empty, or a label is out of range.
func Accuracy(f *mat.Dense, labels []int) (float64, error) {
	r, c := f.Dims()
	if r != len(labels) {
		return 0, fmt.Errorf("theory: %d outputs but %d labels", r, len(labels))
	}
	if r == 0 {
		return 0, errors.New("theory: accuracy of an empty set")
	}
	hits := 0
	for i, l := range labels {
		if l < 0 || l >= c {
			return 0, fmt.Errorf("theory: label %d of point %d out of range [0, %d)", l, i, c)
		}
		if argmax(f.RawRowView(i)) == l {
			hits++
		}
	}
	return float64(hits) / float64(r), nil
}

// Labels returns the argmax (first on ties) of each row of y, the class of
// one-hot (or centred one-hot) targets.
func Labels(y *mat.Dense) []int {
	r, _ := y.Dims()
	out := make([]int, r)
	for i := range out {
		out[i] = argmax(y.RawRowView(i))
	}
	return out
}

func argmax(row []float64) int {
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	return best
}

// MSELoss returns (1/(2 N k)) sum_ij (f_ij - y_ij)^2 for N x k outputs f and
// targets y. It returns an error when the shapes differ or are empty.
func MSELoss(f, y *mat.Dense) (float64, error) {
	r, c := f.Dims()
	yr, yc := y.Dims()
	if r != yr || c != yc {
		return 0, fmt.Errorf("theory: outputs are %dx%d but targets %dx%d", r, c, yr, yc)
	}
	if r == 0 || c == 0 {
		return 0, errors.New("theory: loss of an empty set")
	}
	s := 0.0
	for i := 0; i < r; i++ {
		fr, yrow := f.RawRowView(i), y.RawRowView(i)
		for j := range fr {
			d := fr[j] - yrow[j]
			s += d * d
		}
	}
	return s / (2 * float64(r*c)), nil
}

func finiteDense(name string, a *mat.Dense) error {
	r, _ := a.Dims()
	for i := 0; i < r; i++ {
		for j, v := range a.RawRowView(i) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("theory: %s: entry (%d, %d) is %v", name, i, j, v)
			}
		}
	}
	return nil
}

func finiteSym(name string, a mat.Symmetric) error {
	n := a.SymmetricDim()
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			if v := a.At(i, j); math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("theory: %s: entry (%d, %d) is %v", name, i, j, v)
			}
		}
	}
	return nil
}
