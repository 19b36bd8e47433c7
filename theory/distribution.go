package theory

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/linalg"
)

// DistributionKernels are the per-logit kernels of one recursion that a
// Distribution needs: the NTK Theta and the NNGP kernel K on the training
// points D (N of them) and the test points T (M of them).
type DistributionKernels struct {
	// NTKTrain is Theta_DD (N x N). Required.
	NTKTrain mat.Symmetric
	// NNGPTrain is K_DD (N x N). Required.
	NNGPTrain mat.Symmetric
	// NTKTestTrain is Theta_TD (M x N); nil when there are no test points.
	NTKTestTrain *mat.Dense
	// NNGPTestTrain is K_TD (M x N). Without it the test means are still
	// available but not the test variances.
	NNGPTestTrain *mat.Dense
	// NNGPTest is the full K_TT (M x M), needed for the joint covariance
	// of the test points (TestCovariance). Optional.
	NNGPTest mat.Symmetric
	// NNGPTestDiag holds K(x, x) of the M test points; it may be left nil
	// when NNGPTest is given. Without both, test variances are unavailable.
	NNGPTestDiag []float64
}

// Moments is the Gaussian distribution of the outputs at one time: the
// per-logit means and, per point, the variance Sigma(x, x) that every
// logit shares (the k logits are independent).
type Moments struct {
	TrainMean *mat.Dense // N x k
	TrainVar  []float64  // N
	TestMean  *mat.Dense // M x k; nil without a test-train NTK
	TestVar   []float64  // M; nil without the test NNGP kernels
}

// Distribution is the distribution over random initializations of the
// outputs of an infinitely wide network trained by gradient descent on the
// MSE loss (1/(2 N k)) sum (f - y)^2 (Lee et al. 2019, "Wide neural networks
// of any depth evolve as linear models under gradient descent"). At
// initialization the outputs are a centred Gaussian process with the NNGP
// kernel K, independent across the k logits; the linearized dynamics are
// linear in f_0, so at every time t the outputs stay Gaussian, independent
// across logits, with
//
//	mu_t(x)        = Theta_xD Theta^-1 A_t y
//	Sigma_t(x, x') = K(x, x') + Theta_xD Theta^-1 A_t K_DD A_t Theta^-1 Theta_Dx'
//	                 - (Theta_xD Theta^-1 A_t K_Dx' + Theta_x'D Theta^-1 A_t K_Dx)
//
// where Theta = Theta_DD = V diag(lambda) V^T and A_t = I - e^{-eta Theta t/(N k)}
// (gradient flow) or I - (I - eta Theta/(N k))^t (t discrete steps of size
// eta). Theta^-1 A_t = V diag((1 - g_t(lambda))/lambda) V^T, with
// g_t(lambda) the decay of one mode, needs no inverse at finite t (the
// ratio tends to eta t/(N k) at lambda = 0). For x in D, Theta_xD Theta^-1
// is the identity, so mu_t(D) = A_t y and Sigma_t(D, D) = (I - A_t) K_DD (I - A_t).
// At t = +Inf, A_t = I (and for Steps 0 < eta < eta_crit): mu = Theta_TD
// Theta^-1 y, the training variance vanishes, and Theta must be
// non-singular.
//
// The same kernels give the NNGP posterior (Bayesian inference with the
// NNGP prior and no observation noise, equivalently training only the
// readout layer to convergence): mean K_TD K_DD^-1 y and covariance
// K_TT - K_TD K_DD^-1 K_DT (Posterior).
//
// Theta is eigendecomposed once (by the Predictor of the means, see
// Predictor); with Kv = V^T K_DD V and Kt = K_TD V computed once, the
// variances of M test points at one time cost O(M N^2) and never form an
// M x M matrix. Variances are clamped below at zero: a negative value is
// the round-off of a vanishing variance. A Distribution keeps references to
// the kernels it was given and is not safe for concurrent use.
type Distribution struct {
	p         *Predictor
	kern      DistributionKernels
	kv        *mat.Dense // V^T K_DD V, N x N
	kt        *mat.Dense // K_TD V, M x N; nil without K_TD
	testDiag  []float64  // K(x, x) on T; nil when unknown
	postSolve *mat.Dense // K_DD^-1 K_DT, N x M, computed on demand
}

// NewDistribution checks the kernels and targets y (N x k) and
// eigendecomposes the train-train NTK. It returns an error naming the input
// at fault for missing or mismatched kernels and NaN or infinite entries.
func NewDistribution(kern DistributionKernels, y *mat.Dense) (*Distribution, error) {
	if kern.NTKTrain == nil || kern.NNGPTrain == nil {
		return nil, errors.New("theory: output distribution needs the train-train NTK and NNGP kernels")
	}
	n := kern.NTKTrain.SymmetricDim()
	if d := kern.NNGPTrain.SymmetricDim(); d != n {
		return nil, fmt.Errorf("theory: train-train NNGP kernel is %dx%d, want %dx%d like the train-train NTK", d, d, n, n)
	}
	if err := finiteSym("train-train NNGP kernel", kern.NNGPTrain); err != nil {
		return nil, err
	}
	if kern.NTKTestTrain == nil && (kern.NNGPTestTrain != nil || kern.NNGPTest != nil || kern.NNGPTestDiag != nil) {
		return nil, errors.New("theory: test NNGP kernels given without a test-train NTK")
	}
	p, err := NewPredictor(kern.NTKTrain, kern.NTKTestTrain, y, nil)
	if err != nil {
		return nil, err
	}
	_, m, _ := p.Dims()
	d := &Distribution{p: p, kern: kern}
	if kern.NNGPTestTrain != nil {
		if r, c := kern.NNGPTestTrain.Dims(); r != m || c != n {
			return nil, fmt.Errorf("theory: test-train NNGP kernel is %dx%d, want %dx%d like the test-train NTK", r, c, m, n)
		}
		if err := finiteDense("test-train NNGP kernel", kern.NNGPTestTrain); err != nil {
			return nil, err
		}
	}
	if kern.NNGPTest != nil {
		if s := kern.NNGPTest.SymmetricDim(); s != m {
			return nil, fmt.Errorf("theory: test-test NNGP kernel is %dx%d, want %dx%d (one row per test point)", s, s, m, m)
		}
		if err := finiteSym("test-test NNGP kernel", kern.NNGPTest); err != nil {
			return nil, err
		}
		d.testDiag = make([]float64, m)
		for i := range d.testDiag {
			d.testDiag[i] = kern.NNGPTest.At(i, i)
		}
	}
	if kern.NNGPTestDiag != nil {
		if len(kern.NNGPTestDiag) != m {
			return nil, fmt.Errorf("theory: test NNGP variances: %d values, want %d (one per test point)", len(kern.NNGPTestDiag), m)
		}
		for i, v := range kern.NNGPTestDiag {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("theory: test NNGP variances: entry %d is %v", i, v)
			}
			if d.testDiag != nil && v != d.testDiag[i] {
				return nil, fmt.Errorf("theory: test NNGP variances: entry %d is %v but the test-test kernel's diagonal has %v", i, v, d.testDiag[i])
			}
		}
		d.testDiag = kern.NNGPTestDiag
	}
	// Kv = V^T K_DD V.
	kdd := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			kdd.Set(i, j, kern.NNGPTrain.At(i, j))
		}
	}
	tmp := mat.NewDense(n, n, nil)
	linalg.Gemm(false, false, 1, kdd, p.v, 0, tmp)
	d.kv = mat.NewDense(n, n, nil)
	linalg.Gemm(true, false, 1, p.v, tmp, 0, d.kv)
	if kern.NNGPTestTrain != nil && m > 0 {
		d.kt = mat.NewDense(m, n, nil)
		linalg.Gemm(false, false, 1, kern.NNGPTestTrain, p.v, 0, d.kt)
	}
	return d, nil
}

// Predictor returns the predictor of the means (initial outputs zero),
// which shares the eigendecomposition of the train-train NTK.
func (d *Distribution) Predictor() *Predictor { return d.p }

// hasTestVar reports whether test variances can be computed.
func (d *Distribution) hasTestVar() bool { return d.kt != nil && d.testDiag != nil }

// modes returns, per eigenmode of Theta, g_t(lambda) and
// (1 - g_t(lambda))/lambda, the eigenvalues of I - A_t and Theta^-1 A_t.
// At t = +Inf they are 0 and 1/lambda, which needs a non-singular Theta.
func (d *Distribution) modes(dyn Dynamics, eta, t float64) (g, h []float64, err error) {
	if err := checkTime(dyn, eta, t); err != nil {
		return nil, nil, err
	}
	p := d.p
	g, h = make([]float64, p.n), make([]float64, p.n)
	if math.IsInf(t, 1) {
		if dyn == Steps && eta >= p.EtaCrit() {
			return nil, nil, fmt.Errorf("theory: learning rate %v >= eta_crit %v: discrete gradient descent does not converge", eta, p.EtaCrit())
		}
		lmin, lmax := p.lambda[0], p.lambda[p.n-1]
		// The numerical-rank tolerance n eps lambda_max: eigensolvers
		// return a zero eigenvalue as a few eps lambda_max of either sign.
		if !(lmin > float64(p.n)*0x1p-52*lmax) {
			return nil, nil, fmt.Errorf("theory: covariance at t = Inf needs Theta^-1: train-train NTK is singular to working precision (eigenvalues %.3g to %.3g)", lmin, lmax)
		}
		for i, l := range p.lambda {
			h[i] = 1 / l
		}
		return g, h, nil
	}
	nk := float64(p.n * p.k)
	for i, l := range p.lambda {
		g[i], h[i] = decay(dyn, l, eta, t, nk)
	}
	return g, h, nil
}

// At returns the means and variances of the train and test outputs after
// time t of the given dynamics with learning rate eta (t = +Inf: the
// converged network). TestVar is nil without the test NNGP kernels. For
// Steps with eta > eta_crit and finite t the moments are those of the
// diverging iterates (they may overflow to infinities).
func (d *Distribution) At(dyn Dynamics, eta, t float64) (*Moments, error) {
	g, h, err := d.modes(dyn, eta, t)
	if err != nil {
		return nil, err
	}
	tr, te, err := d.p.At(dyn, eta, t)
	if err != nil {
		return nil, err
	}
	mo := &Moments{TrainMean: tr, TestMean: te, TrainVar: d.trainVar(g)}
	if d.hasTestVar() {
		mo.TestVar = d.testVar(h, nil)
	}
	return mo, nil
}

// trainVar returns the diagonal of V diag(g) Kv diag(g) V^T.
func (d *Distribution) trainVar(g []float64) []float64 {
	n := d.p.n
	w := scaleCols(d.p.v, g)
	b := mat.NewDense(n, n, nil)
	linalg.Gemm(false, false, 1, w, d.kv, 0, b)
	out := make([]float64, n)
	for i := range out {
		out[i] = clampVar(dot(b.RawRowView(i), w.RawRowView(i)))
	}
	return out
}

// testVar returns Sigma_t(x, x) for the test points idx (nil: all):
// K_xx + q_x^T Kv q_x - 2 q_x . Kt_x with q_x = diag(h) V^T Theta_Dx.
func (d *Distribution) testVar(h []float64, idx []int) []float64 {
	q, kt := d.testFactors(h, idx)
	r, n := q.Dims()
	c := mat.NewDense(r, n, nil)
	linalg.Gemm(false, false, 1, q, d.kv, 0, c)
	out := make([]float64, r)
	for i := range out {
		qi := q.RawRowView(i)
		out[i] = clampVar(d.testDiag[pick(idx, i)] + dot(c.RawRowView(i), qi) - 2*dot(qi, kt.RawRowView(i)))
	}
	return out
}

// testFactors returns Q = Theta_SD V diag(h) and Kt_S = K_SD V for the test
// points S = idx (nil: all).
func (d *Distribution) testFactors(h []float64, idx []int) (q, kt *mat.Dense) {
	if idx == nil {
		return scaleCols(d.p.tdV, h), d.kt
	}
	n := d.p.n
	q = mat.NewDense(len(idx), n, nil)
	kt = mat.NewDense(len(idx), n, nil)
	for i, j := range idx {
		copy(q.RawRowView(i), d.p.tdV.RawRowView(j))
		copy(kt.RawRowView(i), d.kt.RawRowView(j))
	}
	return scaleCols(q, h), kt
}

// TrainCovariance returns the N x N covariance Sigma_t(D, D) =
// (I - A_t) K_DD (I - A_t) of the training outputs (per logit).
func (d *Distribution) TrainCovariance(dyn Dynamics, eta, t float64) (*mat.SymDense, error) {
	g, _, err := d.modes(dyn, eta, t)
	if err != nil {
		return nil, err
	}
	n := d.p.n
	w := scaleCols(d.p.v, g)
	b := mat.NewDense(n, n, nil)
	linalg.Gemm(false, false, 1, w, d.kv, 0, b)
	c := mat.NewDense(n, n, nil)
	linalg.Gemm(false, true, 1, b, w, 0, c)
	return symmetrize(c), nil
}

// TestCovariance returns the joint covariance Sigma_t(S, S) (per logit) of
// the test points S = idx (indices into the test set; nil: all M). It needs
// the test-train NNGP kernel and the full test-test NNGP kernel.
func (d *Distribution) TestCovariance(dyn Dynamics, eta, t float64, idx []int) (*mat.SymDense, error) {
	kss, err := d.testKernel(idx)
	if err != nil {
		return nil, err
	}
	_, h, err := d.modes(dyn, eta, t)
	if err != nil {
		return nil, err
	}
	q, kt := d.testFactors(h, idx)
	r, n := q.Dims()
	c := mat.NewDense(r, n, nil)
	linalg.Gemm(false, false, 1, q, d.kv, 0, c)
	// Sigma = K_SS + C Q^T - Q Kt^T - Kt Q^T.
	s := mat.NewDense(r, r, nil)
	linalg.Gemm(false, true, 1, c, q, 0, s)
	linalg.Gemm(false, true, -1, q, kt, 1, s)
	linalg.Gemm(false, true, -1, kt, q, 1, s)
	s.Add(s, kss)
	return symmetrize(s), nil
}

// testKernel returns K_SS as a dense matrix, or an error naming the
// missing kernels.
func (d *Distribution) testKernel(idx []int) (*mat.Dense, error) {
	if d.kt == nil || d.kern.NNGPTest == nil {
		return nil, errors.New("theory: the joint test covariance needs the test-train and the full test-test NNGP kernels")
	}
	m := d.p.m
	if idx == nil {
		idx = make([]int, m)
		for i := range idx {
			idx[i] = i
		}
	}
	for _, j := range idx {
		if j < 0 || j >= m {
			panic(fmt.Sprintf("theory: test point %d out of range [0, %d)", j, m))
		}
	}
	kss := mat.NewDense(len(idx), len(idx), nil)
	for a, i := range idx {
		for b, j := range idx {
			kss.Set(a, b, d.kern.NNGPTest.At(i, j))
		}
	}
	return kss, nil
}

// Posterior returns the NNGP posterior: on the training points the targets
// y with zero variance, on the test points the mean K_TD K_DD^-1 y and the
// variances K(x, x) - K_xD K_DD^-1 K_Dx (nil without the test NNGP
// kernels). It returns an error when K_DD is not positive definite to
// working precision.
func (d *Distribution) Posterior() (*Moments, error) {
	if d.kern.NNGPTestTrain == nil && d.p.m > 0 {
		return nil, errors.New("theory: the NNGP posterior at test points needs the test-train NNGP kernel")
	}
	mo := &Moments{TrainMean: mat.DenseCopyOf(d.p.y), TrainVar: make([]float64, d.p.n)}
	if d.p.m == 0 {
		return mo, nil
	}
	s, err := d.posteriorSolve()
	if err != nil {
		return nil, err
	}
	// mean = K_TD K^-1 y = (K^-1 K_DT)^T y.
	mo.TestMean = mat.NewDense(d.p.m, d.p.k, nil)
	linalg.Gemm(true, false, 1, s, d.p.y, 0, mo.TestMean)
	if d.testDiag != nil {
		mo.TestVar = make([]float64, d.p.m)
		for i := range mo.TestVar {
			v := d.testDiag[i]
			for j := 0; j < d.p.n; j++ {
				v -= d.kern.NNGPTestTrain.At(i, j) * s.At(j, i)
			}
			mo.TestVar[i] = clampVar(v)
		}
	}
	return mo, nil
}

// PosteriorCovariance returns the NNGP posterior covariance
// K_SS - K_SD K_DD^-1 K_DS of the test points S = idx (nil: all M).
func (d *Distribution) PosteriorCovariance(idx []int) (*mat.SymDense, error) {
	kss, err := d.testKernel(idx)
	if err != nil {
		return nil, err
	}
	s, err := d.posteriorSolve()
	if err != nil {
		return nil, err
	}
	if idx == nil {
		idx = make([]int, d.p.m)
		for i := range idx {
			idx[i] = i
		}
	}
	n := d.p.n
	ksd := mat.NewDense(len(idx), n, nil)
	ss := mat.NewDense(n, len(idx), nil)
	for a, i := range idx {
		copy(ksd.RawRowView(a), d.kern.NNGPTestTrain.RawRowView(i))
		for j := 0; j < n; j++ {
			ss.Set(j, a, s.At(j, i))
		}
	}
	linalg.Gemm(false, false, -1, ksd, ss, 1, kss)
	return symmetrize(kss), nil
}

// posteriorSolve returns (and caches) K_DD^-1 K_DT.
func (d *Distribution) posteriorSolve() (*mat.Dense, error) {
	if d.postSolve != nil {
		return d.postSolve, nil
	}
	rhs := mat.DenseCopyOf(d.kern.NNGPTestTrain.T())
	s, err := linalg.SolveSPD(d.kern.NNGPTrain, rhs)
	if err != nil {
		return nil, fmt.Errorf("theory: NNGP posterior needs K_DD^-1: train-train NNGP kernel: %w", err)
	}
	d.postSolve = s
	return s, nil
}

// scaleCols returns a copy of a with column j multiplied by s[j].
func scaleCols(a *mat.Dense, s []float64) *mat.Dense {
	r, _ := a.Dims()
	out := mat.DenseCopyOf(a)
	for i := 0; i < r; i++ {
		row := out.RawRowView(i)
		for j := range row {
			row[j] *= s[j]
		}
	}
	return out
}

// symmetrize returns (a + a^T)/2.
func symmetrize(a *mat.Dense) *mat.SymDense {
	n, _ := a.Dims()
	s := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			s.SetSym(i, j, 0.5*(a.At(i, j)+a.At(j, i)))
		}
	}
	return s
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

// clampVar returns v, or 0 for a negative v (round-off of a vanishing
// variance). NaN and infinities pass through.
func clampVar(v float64) float64 {
	if v < 0 && !math.IsInf(v, -1) {
		return 0
	}
	return v
}

func pick(idx []int, i int) int {
	if idx == nil {
		return i
	}
	return idx[i]
}
