package theory

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// jointKernels returns an NNGP kernel K and an NTK Theta = K + G (G another
// Gram matrix, so Theta >= K as for a real recursion) on n training and m
// test points, both positive definite, as joint (n+m) x (n+m) matrices.
func jointKernels(rng *rand.Rand, n, m int) (k, theta *mat.SymDense) {
	gram := func(d int) *mat.SymDense {
		x := mat.NewDense(n+m, d, nil)
		for i := 0; i < n+m; i++ {
			for j := 0; j < d; j++ {
				x.Set(i, j, rng.NormFloat64())
			}
		}
		s := mat.NewSymDense(n+m, nil)
		s.SymOuterK(1/float64(d), x)
		return s
	}
	k = gram(3 * (n + m))
	theta = mat.NewSymDense(n+m, nil)
	theta.AddSym(k, gram(2*(n+m)))
	return k, theta
}

// splitKernels returns the DistributionKernels of joint kernels with the
// first n points for training.
func splitKernels(k, theta *mat.SymDense, n int) DistributionKernels {
	nm := k.SymmetricDim()
	sub := func(s *mat.SymDense, r0, r1, c0, c1 int) *mat.Dense {
		return mat.DenseCopyOf(mat.DenseCopyOf(s).Slice(r0, r1, c0, c1))
	}
	sym := func(s *mat.SymDense, a, b int) *mat.SymDense {
		return symmetrize(sub(s, a, b, a, b))
	}
	return DistributionKernels{
		NTKTrain: sym(theta, 0, n), NNGPTrain: sym(k, 0, n),
		NTKTestTrain: sub(theta, n, nm, 0, n), NNGPTestTrain: sub(k, n, nm, 0, n),
		NNGPTest: sym(k, n, nm),
	}
}

func randTargets(rng *rand.Rand, n, k int) *mat.Dense {
	y := mat.NewDense(n, k, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < k; j++ {
			y.Set(i, j, rng.NormFloat64())
		}
	}
	return y
}

// TestDistributionMonteCarlo checks the mean and covariance against an
// independent simulation: f_0 is drawn on the training and test points
// jointly from GP(0, K) (Cholesky of the joint K), then evolved by the
// function-space recursion
//
//	f_{t+1}(D) = f_t(D) - (eta/(N k)) Theta_DD (f_t(D) - y)
//	f_{t+1}(T) = f_t(T) - (eta/(N k)) Theta_TD (f_t(D) - y)
//
// sample by sample for discrete steps. For gradient flow the same
// recursion with steps eta/s (s = 2000 per unit time) is composed into one
// affine map f -> G f + c (applied to the basis vectors, then to the
// samples); its bias from the flow is O(u/s), u = eta lambda_max/(N k) <= 1,
// about 1e-4 of the outputs' scale, below the sampling error.
func TestDistributionMonteCarlo(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const n, m, k, draws = 6, 3, 2, 40000
	kj, thj := jointKernels(rng, n, m)
	y := randTargets(rng, n, k)
	d, err := NewDistribution(splitKernels(kj, thj, n), y)
	if err != nil {
		t.Fatal(err)
	}
	eta := 0.45 * d.Predictor().EtaCrit()
	var ch mat.Cholesky
	if !ch.Factorize(kj) {
		t.Fatal("joint NNGP kernel not positive definite")
	}
	var l mat.TriDense
	ch.LTo(&l)
	noise := mat.NewDense(n+m, draws*k, nil)
	for i := 0; i < n+m; i++ {
		for j := 0; j < draws*k; j++ {
			noise.Set(i, j, rng.NormFloat64())
		}
	}
	var f0 mat.Dense
	f0.Mul(&l, noise) // column j*k+c is logit c of draw j
	thetaAllD := mat.DenseCopyOf(mat.DenseCopyOf(thj).Slice(0, n+m, 0, n))
	a := eta / float64(n*k)
	// step applies one step of size a to the columns of f (logit c of
	// column j is j % k).
	step := func(f *mat.Dense, a float64) {
		_, cols := f.Dims()
		r := mat.NewDense(n, cols, nil)
		for i := 0; i < n; i++ {
			for j := 0; j < cols; j++ {
				r.Set(i, j, f.At(i, j)-y.At(i, j%k))
			}
		}
		var upd mat.Dense
		upd.Mul(thetaAllD, r)
		upd.Scale(a, &upd)
		f.Sub(f, &upd)
	}
	worst := 0.0 // largest |deviation| / SE over all checks
	z := func(dev, se float64) float64 {
		if se > 0 {
			worst = math.Max(worst, math.Abs(dev)/se)
		}
		return math.Abs(dev)
	}
	for _, tc := range []struct {
		dyn Dynamics
		t   float64
	}{{Steps, 0}, {Steps, 3}, {Steps, 25}, {Flow, 1}, {Flow, 8}} {
		f := mat.DenseCopyOf(&f0)
		if tc.dyn == Steps {
			for s := 0; s < int(tc.t); s++ {
				step(f, a)
			}
		} else {
			// Affine map of s*t fine steps: G from the identity with zero
			// targets' effect removed, c from the zero state.
			nsub := int(2000 * tc.t)
			basis := mat.NewDense(n+m, (n+m+1)*k, nil)
			for i := 0; i < n+m; i++ {
				for c := 0; c < k; c++ {
					basis.Set(i, i*k+c, 1)
				}
			}
			for s := 0; s < nsub; s++ {
				step(basis, a/2000)
			}
			// Last block of k columns started at zero: it is c (per logit).
			off := mat.DenseCopyOf(basis.Slice(0, n+m, (n+m)*k, (n+m+1)*k))
			g := mat.NewDense(n+m, n+m, nil)
			for i := 0; i < n+m; i++ {
				for j := 0; j < n+m; j++ {
					// G e_j + c, for logit 0: subtract c.
					g.Set(i, j, basis.At(i, j*k)-off.At(i, 0))
				}
			}
			f.Mul(g, &f0)
			for i := 0; i < n+m; i++ {
				for j := 0; j < draws*k; j++ {
					f.Set(i, j, f.At(i, j)+off.At(i, j%k))
				}
			}
		}
		mo, err := d.At(tc.dyn, eta, tc.t)
		if err != nil {
			t.Fatal(err)
		}
		trCov, err := d.TrainCovariance(tc.dyn, eta, tc.t)
		if err != nil {
			t.Fatal(err)
		}
		teCov, err := d.TestCovariance(tc.dyn, eta, tc.t, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantMean := func(i, c int) float64 {
			if i < n {
				return mo.TrainMean.At(i, c)
			}
			return mo.TestMean.At(i-n, c)
		}
		wantCov := func(i, j int) float64 {
			switch {
			case i < n && j < n:
				return trCov.At(i, j)
			case i >= n && j >= n:
				return teCov.At(i-n, j-n)
			}
			return math.NaN() // cross covariances are not part of the API
		}
		// Sample means per logit and the covariance pooled over logits.
		mean := mat.NewDense(n+m, k, nil)
		for i := 0; i < n+m; i++ {
			for j := 0; j < draws*k; j++ {
				mean.Set(i, j%k, mean.At(i, j%k)+f.At(i, j)/draws)
			}
		}
		cov := mat.NewDense(n+m, n+m, nil)
		for i := 0; i < n+m; i++ {
			for j := 0; j < n+m; j++ {
				s := 0.0
				for c := 0; c < draws*k; c++ {
					s += (f.At(i, c) - mean.At(i, c%k)) * (f.At(j, c) - mean.At(j, c%k))
				}
				cov.Set(i, j, s/float64(draws*k-k))
			}
		}
		// Tolerance 5 standard errors: SE(mean) = sqrt(Sigma_ii/draws),
		// SE(cov_ij) = sqrt((Sigma_ii Sigma_jj + Sigma_ij^2)/(draws k)).
		// The training variances vanish as t grows (modes decay), so a
		// 1e-12 floor covers exact zeros.
		for i := 0; i < n+m; i++ {
			si := cov.At(i, i)
			for c := 0; c < k; c++ {
				if se := math.Sqrt(si / draws); z(mean.At(i, c)-wantMean(i, c), se) > 5*se+1e-12 {
					t.Errorf("%s t=%v point %d logit %d: sample mean %.6g, mu_t %.6g (SE %.2g)", tc.dyn, tc.t, i, c, mean.At(i, c), wantMean(i, c), se)
				}
			}
			for j := 0; j < n+m; j++ {
				w := wantCov(i, j)
				if math.IsNaN(w) {
					continue
				}
				se := math.Sqrt((si*cov.At(j, j) + cov.At(i, j)*cov.At(i, j)) / (draws * k))
				if z(cov.At(i, j)-w, se) > 5*se+1e-12 {
					t.Errorf("%s t=%v (%d, %d): sample covariance %.6g, Sigma_t %.6g (SE %.2g)", tc.dyn, tc.t, i, j, cov.At(i, j), w, se)
				}
			}
		}
		// The diagonal variances equal the covariances' diagonals.
		for i := 0; i < n; i++ {
			if math.Abs(mo.TrainVar[i]-trCov.At(i, i)) > 1e-12 {
				t.Errorf("%s t=%v: TrainVar[%d] = %v, covariance diagonal %v", tc.dyn, tc.t, i, mo.TrainVar[i], trCov.At(i, i))
			}
		}
		for i := 0; i < m; i++ {
			if math.Abs(mo.TestVar[i]-teCov.At(i, i)) > 1e-12 {
				t.Errorf("%s t=%v: TestVar[%d] = %v, covariance diagonal %v", tc.dyn, tc.t, i, mo.TestVar[i], teCov.At(i, i))
			}
		}
	}
	t.Logf("largest deviation from the theory: %.2f standard errors", worst)
}

// TestDistributionClosedForm compares with the covariance formula evaluated
// by explicit matrix functions (gonum's Pade matrix exponential or matrix
// powers, and an explicit inverse):
//
//	B = Theta_TD Theta^-1 A_t,  Sigma_TT = K_TT + B K_DD B^T - B K_DT - K_TD B^T,
//	Sigma_DD = (I - A_t) K_DD (I - A_t).
func TestDistributionClosedForm(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	const n, m, k = 7, 4, 3
	kj, thj := jointKernels(rng, n, m)
	kern := splitKernels(kj, thj, n)
	y := randTargets(rng, n, k)
	d, err := NewDistribution(kern, y)
	if err != nil {
		t.Fatal(err)
	}
	eta := 0.7 * d.Predictor().EtaCrit()
	var thInv mat.Dense
	if err := thInv.Inverse(kern.NTKTrain); err != nil {
		t.Fatal(err)
	}
	kdd := mat.DenseCopyOf(kern.NNGPTrain)
	for _, tc := range []struct {
		dyn Dynamics
		t   float64
	}{{Flow, 0}, {Flow, 2.5}, {Flow, 40}, {Steps, 1}, {Steps, 17}, {Flow, math.Inf(1)}, {Steps, math.Inf(1)}} {
		var g mat.Dense // I - A_t
		switch {
		case math.IsInf(tc.t, 1):
			g.Scale(0, eye(n))
		case tc.dyn == Flow:
			var a mat.Dense
			a.Scale(-eta*tc.t/float64(n*k), kern.NTKTrain)
			g.Exp(&a)
		default:
			var a mat.Dense
			a.Scale(-eta/float64(n*k), kern.NTKTrain)
			a.Add(&a, eye(n))
			g.Pow(&a, int(tc.t))
		}
		var at, thA, b, tmp mat.Dense
		at.Sub(eye(n), &g)
		thA.Mul(&thInv, &at)
		b.Mul(kern.NTKTestTrain, &thA)
		var want mat.Dense
		tmp.Mul(&b, kdd)
		want.Mul(&tmp, b.T())
		want.Add(&want, kern.NNGPTest)
		var cross mat.Dense
		cross.Mul(&b, kern.NNGPTestTrain.T())
		want.Sub(&want, &cross)
		want.Sub(&want, cross.T())
		var wantTr, tmp2 mat.Dense
		tmp2.Mul(&g, kdd)
		wantTr.Mul(&tmp2, &g)
		var wantMean mat.Dense
		wantMean.Mul(&b, y)
		got, err := d.TestCovariance(tc.dyn, eta, tc.t, nil)
		if err != nil {
			t.Fatal(err)
		}
		gotTr, err := d.TrainCovariance(tc.dyn, eta, tc.t)
		if err != nil {
			t.Fatal(err)
		}
		mo, err := d.At(tc.dyn, eta, tc.t)
		if err != nil {
			t.Fatal(err)
		}
		// 1e-9: the explicit inverse and Pade route lose cond(Theta) ~ 1e2-1e3
		// of float64's digits.
		if !mat.EqualApprox(got, &want, 1e-9) || !mat.EqualApprox(gotTr, &wantTr, 1e-9) || !mat.EqualApprox(mo.TestMean, &wantMean, 1e-9) {
			t.Errorf("%s t=%v: test covariance\n%v\nwant\n%v\ntrain covariance\n%v\nwant\n%v", tc.dyn, tc.t, mat.Formatted(got), mat.Formatted(&want), mat.Formatted(gotTr), mat.Formatted(&wantTr))
		}
		// A subset of test points gives the sub-matrix.
		sub, err := d.TestCovariance(tc.dyn, eta, tc.t, []int{3, 1})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(sub.At(0, 0)-got.At(3, 3)) > 1e-12 || math.Abs(sub.At(0, 1)-got.At(3, 1)) > 1e-12 || math.Abs(sub.At(1, 1)-got.At(1, 1)) > 1e-12 {
			t.Errorf("%s t=%v: subset covariance %v, want rows 3 and 1 of %v", tc.dyn, tc.t, mat.Formatted(sub), mat.Formatted(got))
		}
	}
}

// TestDistributionTrainAsTest uses the training points as test points:
// Theta_xD Theta^-1 = I on D, so the test covariance must reduce to
// (I - A_t) K_DD (I - A_t) and the test mean to the train mean.
func TestDistributionTrainAsTest(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	const n, k = 6, 2
	kj, thj := jointKernels(rng, n, 0)
	y := randTargets(rng, n, k)
	d, err := NewDistribution(DistributionKernels{NTKTrain: thj, NNGPTrain: kj,
		NTKTestTrain: mat.DenseCopyOf(thj), NNGPTestTrain: mat.DenseCopyOf(kj), NNGPTest: kj}, y)
	if err != nil {
		t.Fatal(err)
	}
	eta := 0.5 * d.Predictor().EtaCrit()
	for _, tm := range []float64{0, 1, 10, math.Inf(1)} {
		te, err := d.TestCovariance(Flow, eta, tm, nil)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := d.TrainCovariance(Flow, eta, tm)
		if err != nil {
			t.Fatal(err)
		}
		mo, err := d.At(Flow, eta, tm)
		if err != nil {
			t.Fatal(err)
		}
		// 1e-10: Theta_DD V diag(h) V^T = I holds to round-off times cond(Theta).
		if !mat.EqualApprox(te, tr, 1e-10) || !mat.EqualApprox(mo.TestMean, mo.TrainMean, 1e-10) {
			t.Errorf("t=%v: test covariance on D %v, want %v", tm, mat.Formatted(te), mat.Formatted(tr))
		}
		if tm == 0 && !mat.EqualApprox(tr, kj, 1e-12) {
			t.Errorf("t=0: covariance %v, want K_DD", mat.Formatted(tr))
		}
	}
	mo, _ := d.At(Flow, eta, math.Inf(1))
	for i, v := range mo.TrainVar {
		if v != 0 {
			t.Errorf("t=Inf: training variance %d is %v, want 0", i, v)
		}
	}
}

// TestNNGPPosteriorClosedForm: two training and two test points, with the
// 2x2 inverse written out: K^-1 = [[d, -b], [-b, a]] / (a d - b^2).
func TestNNGPPosteriorClosedForm(t *testing.T) {
	a, b, dd := 2.0, 0.6, 1.5
	kdd := mat.NewSymDense(2, []float64{a, b, b, dd})
	ktd := mat.NewDense(2, 2, []float64{0.9, 0.3, 0.2, 1.1})
	ktt := mat.NewSymDense(2, []float64{1.7, 0.4, 0.4, 1.9})
	y := mat.NewDense(2, 1, []float64{1, -2})
	det := a*dd - b*b
	inv := [2][2]float64{{dd / det, -b / det}, {-b / det, a / det}}
	want := func(i, j int) float64 { // K_TD K^-1 K_DT
		s := 0.0
		for p := 0; p < 2; p++ {
			for q := 0; q < 2; q++ {
				s += ktd.At(i, p) * inv[p][q] * ktd.At(j, q)
			}
		}
		return s
	}
	// The NTK is irrelevant to the posterior; any positive definite one.
	d, err := NewDistribution(DistributionKernels{NTKTrain: mat.NewSymDense(2, []float64{3, 1, 1, 2}), NNGPTrain: kdd,
		NTKTestTrain: mat.NewDense(2, 2, []float64{1, 0, 0, 1}), NNGPTestTrain: ktd, NNGPTest: ktt}, y)
	if err != nil {
		t.Fatal(err)
	}
	mo, err := d.Posterior()
	if err != nil {
		t.Fatal(err)
	}
	cov, err := d.PosteriorCovariance(nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		wm := 0.0
		for p := 0; p < 2; p++ {
			for q := 0; q < 2; q++ {
				wm += ktd.At(i, p) * inv[p][q] * y.At(q, 0)
			}
		}
		if math.Abs(mo.TestMean.At(i, 0)-wm) > 1e-14 {
			t.Errorf("posterior mean %d = %v, want %v", i, mo.TestMean.At(i, 0), wm)
		}
		if w := ktt.At(i, i) - want(i, i); math.Abs(mo.TestVar[i]-w) > 1e-14 {
			t.Errorf("posterior variance %d = %v, want %v", i, mo.TestVar[i], w)
		}
		for j := 0; j < 2; j++ {
			if w := ktt.At(i, j) - want(i, j); math.Abs(cov.At(i, j)-w) > 1e-14 {
				t.Errorf("posterior covariance (%d, %d) = %v, want %v", i, j, cov.At(i, j), w)
			}
		}
		if mo.TrainVar[i] != 0 || mo.TrainMean.At(i, 0) != y.At(i, 0) {
			t.Errorf("posterior on training point %d: %v +- %v, want the target exactly", i, mo.TrainMean.At(i, 0), mo.TrainVar[i])
		}
	}
}

func TestDistributionErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	kj, thj := jointKernels(rng, 4, 2)
	good := splitKernels(kj, thj, 4)
	y := randTargets(rng, 4, 2)
	nan := mat.NewSymDense(4, nil)
	nan.CopySym(good.NNGPTrain)
	nan.SetSym(0, 2, math.Inf(1))
	with := func(f func(*DistributionKernels)) DistributionKernels { c := good; f(&c); return c }
	for _, tt := range []struct {
		name string
		kern DistributionKernels
		want string
	}{
		{"no nngp", with(func(c *DistributionKernels) { c.NNGPTrain = nil }), "needs the train-train NTK and NNGP kernels"},
		{"nngp size", with(func(c *DistributionKernels) { c.NNGPTrain = mat.NewSymDense(3, nil) }), "train-train NNGP kernel is 3x3, want 4x4"},
		{"nngp inf", with(func(c *DistributionKernels) { c.NNGPTrain = nan }), "train-train NNGP kernel: entry (0, 2) is +Inf"},
		{"test nngp without ntk", with(func(c *DistributionKernels) { c.NTKTestTrain = nil }), "without a test-train NTK"},
		{"test-train size", with(func(c *DistributionKernels) { c.NNGPTestTrain = mat.NewDense(3, 4, nil) }), "test-train NNGP kernel is 3x4, want 2x4"},
		{"test diag length", with(func(c *DistributionKernels) { c.NNGPTestDiag = []float64{1} }), "1 values, want 2"},
		{"test diag nan", with(func(c *DistributionKernels) { c.NNGPTest = nil; c.NNGPTestDiag = []float64{1, math.NaN()} }), "entry 1 is NaN"},
		{"test diag mismatch", with(func(c *DistributionKernels) { c.NNGPTestDiag = []float64{1, 1} }), "but the test-test kernel's diagonal"},
	} {
		if _, err := NewDistribution(tt.kern, y); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	// Without the full test kernel: variances from the diagonal, but no
	// joint covariance.
	diag := with(func(c *DistributionKernels) {
		c.NNGPTestDiag = []float64{c.NNGPTest.At(0, 0), c.NNGPTest.At(1, 1)}
		c.NNGPTest = nil
	})
	d, err := NewDistribution(diag, y)
	if err != nil {
		t.Fatal(err)
	}
	full, err := NewDistribution(good, y)
	if err != nil {
		t.Fatal(err)
	}
	md, _ := d.At(Flow, 1, 3)
	mf, _ := full.At(Flow, 1, 3)
	if md.TestVar == nil || md.TestVar[1] != mf.TestVar[1] {
		t.Errorf("variances from the diagonal %v, from the full kernel %v", md.TestVar, mf.TestVar)
	}
	if _, err := d.TestCovariance(Flow, 1, 3, nil); err == nil || !strings.Contains(err.Error(), "full test-test NNGP kernel") {
		t.Errorf("joint covariance without K_TT: %v", err)
	}
	// A singular NTK: finite times are fine, t = Inf is not.
	sing := mat.NewSymDense(2, []float64{1, 1, 1, 1})
	ds, err := NewDistribution(DistributionKernels{NTKTrain: sing, NNGPTrain: sing}, mat.NewDense(2, 1, []float64{1, 0}))
	if err != nil {
		t.Fatal(err)
	}
	if mo, err := ds.At(Flow, 1, 5); err != nil || math.IsNaN(mo.TrainVar[0]) {
		t.Errorf("singular NTK at t=5: %v, %v", mo, err)
	}
	if _, err := ds.TrainCovariance(Flow, 1, math.Inf(1)); err == nil || !strings.Contains(err.Error(), "singular") {
		t.Errorf("singular NTK at t=Inf: error %v", err)
	}
	if _, err := ds.Posterior(); err != nil {
		t.Errorf("posterior without test points: %v", err)
	}
	dk, err := NewDistribution(DistributionKernels{NTKTrain: mat.NewSymDense(2, []float64{2, 0, 0, 1}), NNGPTrain: sing,
		NTKTestTrain: mat.NewDense(1, 2, nil), NNGPTestTrain: mat.NewDense(1, 2, []float64{1, 1}), NNGPTestDiag: []float64{1}}, mat.NewDense(2, 1, []float64{1, 0}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dk.Posterior(); err == nil || !strings.Contains(err.Error(), "K_DD^-1") {
		t.Errorf("posterior with a singular NNGP kernel: %v", err)
	}
	if _, err := full.At(Steps, 1.01*full.Predictor().EtaCrit(), math.Inf(1)); err == nil || !strings.Contains(err.Error(), "does not converge") {
		t.Errorf("steps above eta_crit at t=Inf: %v", err)
	}
}
