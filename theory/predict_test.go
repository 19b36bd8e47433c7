package theory

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/internal/reference"
)

func loadPredictionsRef(t *testing.T) reference.PredictionCase {
	t.Helper()
	ref, err := reference.Predictions()
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func denseOf(rows [][]float64) *mat.Dense {
	d := mat.NewDense(len(rows), len(rows[0]), nil)
	for i, r := range rows {
		d.SetRow(i, r)
	}
	return d
}

func symOf(rows [][]float64) *mat.SymDense {
	n := len(rows)
	s := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			s.SetSym(i, j, rows[i][j])
		}
	}
	return s
}

// refTol: the reference and the eigendecomposition route are both float64
// computations on a well-conditioned 5x5 kernel; they agree to ~1e-14.
const refTol = 1e-10

func TestPredictorReference(t *testing.T) {
	ref := loadPredictionsRef(t)
	p, err := NewPredictor(symOf(ref.NTKTrain), denseOf(ref.NTKTest), denseOf(ref.Y), nil)
	if err != nil {
		t.Fatal(err)
	}
	if eta := 0.5 * p.EtaCrit(); math.Abs(eta-ref.Eta) > 1e-12*ref.Eta {
		t.Errorf("0.5 eta_crit = %.16g, reference eta %.16g", eta, ref.Eta)
	}
	for _, tc := range ref.Times {
		for _, d := range []struct {
			dyn         Dynamics
			train, test [][]float64
		}{{Flow, tc.FlowTrain, tc.FlowTest}, {Steps, tc.StepsTrain, tc.StepsTest}} {
			tr, te, err := p.At(d.dyn, ref.Eta, tc.T)
			if err != nil {
				t.Fatal(err)
			}
			if !mat.EqualApprox(tr, denseOf(d.train), refTol) || !mat.EqualApprox(te, denseOf(d.test), refTol) {
				t.Errorf("%s t=%v: train %v test %v\nwant %v %v", d.dyn, tc.T, mat.Formatted(tr), mat.Formatted(te), d.train, d.test)
			}
		}
	}
	for _, dyn := range []Dynamics{Flow, Steps} {
		tr, te, err := p.At(dyn, ref.Eta, math.Inf(1))
		if err != nil {
			t.Fatal(err)
		}
		if !mat.EqualApprox(te, denseOf(ref.TestAtInf), refTol) || !mat.EqualApprox(tr, denseOf(ref.Y), 0) {
			t.Errorf("%s t=Inf: test %v, want %v", dyn, mat.Formatted(te), ref.TestAtInf)
		}
	}
	// The NNGP posterior mean with the NTK in place of K is the same
	// converged predictor Theta_td Theta^-1 y.
	nngp, err := NNGPMean(symOf(ref.NTKTrain), denseOf(ref.NTKTest), denseOf(ref.Y), 0)
	if err != nil || !mat.EqualApprox(nngp, denseOf(ref.TestAtInf), refTol) {
		t.Errorf("NNGPMean = %v, %v; want %v", nngp, err, ref.TestAtInf)
	}
}

// randomProblem returns a random positive definite train kernel (N x N,
// condition number moderate), a test-train kernel drawn as the off-diagonal
// block of one joint kernel, targets and initial outputs.
func randomProblem(rng *rand.Rand, n, m, k int) (theta *mat.SymDense, td, y, f0tr, f0te *mat.Dense) {
	d := 2 * (n + m)
	x := mat.NewDense(n+m, d, nil)
	for i := 0; i < n+m; i++ {
		for j := 0; j < d; j++ {
			x.Set(i, j, rng.NormFloat64())
		}
	}
	var joint mat.Dense
	joint.Mul(x, x.T())
	joint.Scale(1/float64(d), &joint)
	theta = mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			theta.SetSym(i, j, joint.At(i, j))
		}
	}
	td = mat.DenseCopyOf(joint.Slice(n, n+m, 0, n))
	rnd := func(r, c int) *mat.Dense {
		a := mat.NewDense(r, c, nil)
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				a.Set(i, j, rng.NormFloat64())
			}
		}
		return a
	}
	return theta, td, rnd(n, k), rnd(n, k), rnd(m, k)
}

// TestPredictorStepsMatchesGD compares the closed form with t explicit
// gradient-descent steps on the linearized model,
//
//	f_train <- f_train - (eta/(N k)) Theta (f_train - y),
//	f_test  <- f_test  - (eta/(N k)) Theta_td (f_train - y),
//
// which needs no eigendecomposition.
func TestPredictorStepsMatchesGD(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, m, k = 12, 5, 3
	theta, td, y, f0tr, f0te := randomProblem(rng, n, m, k)
	p, err := NewPredictor(theta, td, y, &PredictorOptions{FTrain0: f0tr, FTest0: f0te})
	if err != nil {
		t.Fatal(err)
	}
	for _, frac := range []float64{0.3, 0.9} {
		eta := frac * p.EtaCrit()
		ftr, fte := mat.DenseCopyOf(f0tr), mat.DenseCopyOf(f0te)
		var resid, dtr, dte mat.Dense
		for step := 0; step <= 40; step++ {
			tr, te, err := p.At(Steps, eta, float64(step))
			if err != nil {
				t.Fatal(err)
			}
			// 1e-11: both routes accumulate round-off over 40 steps of
			// contractions on O(1) values.
			if !mat.EqualApprox(tr, ftr, 1e-11) || !mat.EqualApprox(te, fte, 1e-11) {
				t.Fatalf("eta=%.2f eta_crit, step %d: closed form differs from explicit GD", frac, step)
			}
			resid.Sub(ftr, y)
			dtr.Mul(theta, &resid)
			dte.Mul(td, &resid)
			dtr.Scale(eta/float64(n*k), &dtr)
			dte.Scale(eta/float64(n*k), &dte)
			ftr.Sub(ftr, &dtr)
			fte.Sub(fte, &dte)
		}
	}
}

// TestPredictorFlowMatchesExpm compares gradient flow with the matrix
// exponential (gonum's Pade approximant, an independent route):
//
//	f_train(t) = y + expm(-eta t Theta/(N k)) (f_train(0) - y)
//	f_test(t)  = f_test(0) + Theta_td Theta^-1 (I - expm(...)) (y - f_train(0)).
func TestPredictorFlowMatchesExpm(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, m, k = 10, 4, 2
	theta, td, y, f0tr, f0te := randomProblem(rng, n, m, k)
	p, err := NewPredictor(theta, td, y, &PredictorOptions{FTrain0: f0tr, FTest0: f0te})
	if err != nil {
		t.Fatal(err)
	}
	eta := 0.5 * p.EtaCrit()
	var thInv mat.Dense
	if err := thInv.Inverse(theta); err != nil {
		t.Fatal(err)
	}
	for _, tm := range []float64{0, 0.5, 3, 20} {
		var a, e mat.Dense
		a.Scale(-eta*tm/float64(n*k), theta)
		e.Exp(&a)
		var r0, wantTr mat.Dense
		r0.Sub(f0tr, y)
		wantTr.Mul(&e, &r0)
		wantTr.Add(&wantTr, y)
		var imE, tmp, wantTe mat.Dense
		imE.Sub(eye(n), &e)
		r0.Scale(-1, &r0)
		tmp.Mul(&imE, &r0)
		tmp.Mul(&thInv, &tmp)
		wantTe.Mul(td, &tmp)
		wantTe.Add(&wantTe, f0te)
		tr, te, err := p.At(Flow, eta, tm)
		if err != nil {
			t.Fatal(err)
		}
		// 1e-9: the explicit inverse loses cond(Theta) ~ 1e2-1e3 digits.
		if !mat.EqualApprox(tr, &wantTr, 1e-9) || !mat.EqualApprox(te, &wantTe, 1e-9) {
			t.Errorf("t=%v: flow differs from expm route\ngot  %v\nwant %v", tm, mat.Formatted(te), mat.Formatted(&wantTe))
		}
	}
}

func eye(n int) *mat.Dense {
	d := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		d.Set(i, i, 1)
	}
	return d
}

func TestPredictorProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n, m, k = 8, 3, 2
	theta, td, y, f0tr, f0te := randomProblem(rng, n, m, k)
	p, err := NewPredictor(theta, td, y, &PredictorOptions{FTrain0: f0tr, FTest0: f0te})
	if err != nil {
		t.Fatal(err)
	}
	eta := 0.5 * p.EtaCrit()
	_, teInf, err := p.At(Flow, eta, math.Inf(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, dyn := range []Dynamics{Flow, Steps} {
		// t = 0 returns the initial outputs exactly (up to V V^T = I).
		tr, te, err := p.At(dyn, eta, 0)
		if err != nil || !mat.EqualApprox(tr, f0tr, 1e-12) || !mat.EqualApprox(te, f0te, 1e-12) {
			t.Errorf("%s t=0: outputs differ from f(0) (%v)", dyn, err)
		}
		// Long training fits the targets and reaches the t = Inf predictor:
		// the slowest mode decays like exp(-eta lambda_min t/(N k)).
		long := math.Ceil(40 * float64(n*k) / (eta * p.Eigenvalues()[0]))
		tr, te, err = p.At(dyn, eta, long)
		if err != nil || !mat.EqualApprox(tr, y, 1e-12) || !mat.EqualApprox(te, teInf, 1e-10) {
			t.Errorf("%s t=%v: not converged to y and the t=Inf predictor (%v)", dyn, long, err)
		}
	}
	// At eta = eta_crit the top mode of discrete GD has factor 1 - 2 = -1:
	// its component of f_train - y flips sign every step and never decays.
	etaC := p.EtaCrit()
	var vs mat.VecDense
	vs.ColViewOf(p.v, n-1)
	top := func(step float64) []float64 {
		tr, _, err := p.At(Steps, etaC, step)
		if err != nil {
			t.Fatal(err)
		}
		var r mat.Dense
		r.Sub(tr, y)
		out := make([]float64, k)
		for j := 0; j < k; j++ {
			out[j] = mat.Dot(&vs, r.ColView(j))
		}
		return out
	}
	c0, c7 := top(0), top(7)
	for j := range c0 {
		if math.Abs(c7[j]+c0[j]) > 1e-10 {
			t.Errorf("eta_crit: top mode after 7 steps %v, want %v", c7[j], -c0[j])
		}
	}
	if _, _, err := p.At(Steps, etaC, math.Inf(1)); err == nil {
		t.Error("Steps at eta_crit, t = Inf: no error, want divergence reported")
	}
	// Many small steps approach the flow: (1 - u)^(s t) -> exp(-u s t).
	const s = 1e4
	trF, teF, _ := p.At(Flow, eta, 5)
	trS, teS, _ := p.At(Steps, eta/s, 5*s)
	// The difference is O(u^2 t) with u = eta lambda_max/(N k s) = 1e-4.
	if !mat.EqualApprox(trF, trS, 1e-3) || !mat.EqualApprox(teF, teS, 1e-3) {
		t.Errorf("small steps differ from flow: %v vs %v", mat.Formatted(trS), mat.Formatted(trF))
	}
	if mat.EqualApprox(trF, trS, 1e-12) {
		t.Error("small steps equal flow to 1e-12: the two dynamics are not distinguished")
	}
}

func TestNNGPMeanRegularized(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	kk, td, y, _, _ := randomProblem(rng, 6, 3, 2)
	for _, reg := range []float64{0, 0.1, 10} {
		got, err := NNGPMean(kk, td, y, reg)
		if err != nil {
			t.Fatal(err)
		}
		// Independent route: LU solve of (K + reg I) X = y.
		a := mat.DenseCopyOf(kk)
		for i := 0; i < 6; i++ {
			a.Set(i, i, a.At(i, i)+reg)
		}
		var x, want mat.Dense
		if err := x.Solve(a, y); err != nil {
			t.Fatal(err)
		}
		want.Mul(td, &x)
		if !mat.EqualApprox(got, &want, 1e-10) {
			t.Errorf("reg=%v: %v, want %v", reg, mat.Formatted(got), mat.Formatted(&want))
		}
	}
}

func TestAccuracyAndLoss(t *testing.T) {
	f := denseOf([][]float64{{0.1, 0.9, 0}, {2, 1, 1}, {0, 0, 0}, {-1, -2, -0.5}})
	tests := []struct {
		labels []int
		want   float64
	}{
		{[]int{1, 0, 0, 2}, 1},   // ties go to the first column
		{[]int{0, 0, 1, 2}, 0.5}, // rows 1 and 3 right
		{[]int{2, 1, 2, 0}, 0},
	}
	for _, tt := range tests {
		if got, err := Accuracy(f, tt.labels); err != nil || got != tt.want {
			t.Errorf("Accuracy(%v) = %v, %v; want %v", tt.labels, got, err, tt.want)
		}
	}
	if got := Labels(f); got[0] != 1 || got[1] != 0 || got[2] != 0 || got[3] != 2 {
		t.Errorf("Labels = %v, want [1 0 0 2]", got)
	}
	for _, bad := range [][]int{{1, 0}, {1, 0, 0, 3}, {-1, 0, 0, 0}} {
		if _, err := Accuracy(f, bad); err == nil {
			t.Errorf("Accuracy(%v): no error", bad)
		}
	}
	// (1/(2 N k)) sum (f - y)^2 with N = 2, k = 2: residuals 1, -2, 0, 3.
	loss, err := MSELoss(denseOf([][]float64{{1, 0}, {0, 3}}), denseOf([][]float64{{0, 2}, {0, 0}}))
	if want := (1.0 + 4 + 0 + 9) / 8; err != nil || loss != want {
		t.Errorf("MSELoss = %v, %v; want %v", loss, err, want)
	}
	if _, err := MSELoss(f, denseOf([][]float64{{1}})); err == nil {
		t.Error("MSELoss with mismatched shapes: no error")
	}
}

func TestPredictorErrors(t *testing.T) {
	ref := loadPredictionsRef(t)
	theta, td, y := symOf(ref.NTKTrain), denseOf(ref.NTKTest), denseOf(ref.Y)
	nanTheta := mat.NewSymDense(5, nil)
	nanTheta.CopySym(theta)
	nanTheta.SetSym(1, 3, math.NaN())
	tests := []struct {
		name  string
		theta mat.Symmetric
		td, y *mat.Dense
		opts  *PredictorOptions
		want  string
	}{
		{"nan kernel", nanTheta, td, y, nil, "train-train NTK: entry (1, 3) is NaN"},
		{"short targets", theta, td, denseOf(ref.Y[:4]), nil, "targets are 4x3, want 5 rows"},
		{"test columns", theta, denseOf([][]float64{{1, 2}}), y, nil, "test-train NTK is 1x2, want 5 columns"},
		{"f0 shape", theta, td, y, &PredictorOptions{FTrain0: denseOf([][]float64{{1}})}, "initial train outputs are 1x1"},
		{"f0 test shape", theta, td, y, &PredictorOptions{FTest0: denseOf([][]float64{{1, 2, 3}})}, "initial test outputs are 1x3, want 2x3"},
	}
	for _, tt := range tests {
		_, err := NewPredictor(tt.theta, tt.td, tt.y, tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	p, err := NewPredictor(theta, td, y, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		dyn    Dynamics
		eta, t float64
		want   string
	}{
		{Flow, 0, 1, "learning rate 0"},
		{Flow, math.NaN(), 1, "learning rate NaN"},
		{Flow, 1, -1, "time -1"},
		{Steps, 1, 2.5, "whole number of steps"},
		{Dynamics(7), 1, 1, "unknown dynamics"},
	} {
		if _, _, err := p.At(tt.dyn, tt.eta, tt.t); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("At(%v, %v, %v): error %v, want %q", tt.dyn, tt.eta, tt.t, err, tt.want)
		}
	}
	// A singular kernel cannot give the t = Inf predictor.
	sing := mat.NewSymDense(2, []float64{1, 1, 1, 1})
	ps, err := NewPredictor(sing, denseOf([][]float64{{1, 0}}), denseOf([][]float64{{1}, {0}}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ps.At(Flow, 1, math.Inf(1)); err == nil || !strings.Contains(err.Error(), "Theta^-1") {
		t.Errorf("singular kernel at t=Inf: error %v", err)
	}
	if _, err := NNGPMean(sing, denseOf([][]float64{{1, 0}}), denseOf([][]float64{{1}, {0}}), 0); err == nil {
		t.Error("NNGPMean with singular kernel: no error")
	}
	if _, err := NNGPMean(theta, td, y, -1); err == nil || !strings.Contains(err.Error(), "regularizer -1") {
		t.Errorf("NNGPMean negative regularizer: %v", err)
	}
}
