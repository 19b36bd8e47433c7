package ntkempirical

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/linalg"
)

// Spectrum summarizes the eigenvalues of a symmetric kernel matrix K.
type Spectrum struct {
	Values    []float64 // all eigenvalues, ascending
	LambdaMin float64   // Values[0]
	LambdaMax float64   // Values[n-1]
	// Kappa is the condition number lambda_max / lambda_min. It is +Inf
	// when lambda_min <= 0 (K is singular or indefinite to working
	// precision), the value that says "untrainable" in the paper's sense.
	Kappa float64
}

// Symmetric returns k as a symmetric matrix after checking that it is
// square and symmetric to a relative tolerance tol:
// |K_ij - K_ji| <= tol * max_ij |K_ij| for all i, j. The returned matrix
// holds (K + K^T)/2. Empirical kernels are symmetric only up to rounding,
// so tol of about 1e-10 is appropriate for them.
func Symmetric(k mat.Matrix, tol float64) (*mat.SymDense, error) {
	r, c := k.Dims()
	if r != c {
		return nil, fmt.Errorf("ntkempirical: kernel is %dx%d, not square", r, c)
	}
	scale := 0.0
	for i := 0; i < r; i++ {
		for j := 0; j < r; j++ {
			v := k.At(i, j)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("ntkempirical: kernel entry (%d,%d) is %v", i, j, v)
			}
			scale = math.Max(scale, math.Abs(v))
		}
	}
	s := mat.NewSymDense(r, nil)
	for i := 0; i < r; i++ {
		for j := i; j < r; j++ {
			a, b := k.At(i, j), k.At(j, i)
			if math.Abs(a-b) > tol*scale {
				return nil, fmt.Errorf("ntkempirical: kernel is not symmetric: entries (%d,%d)=%g and (%d,%d)=%g differ by more than %g relative", i, j, a, j, i, b, tol)
			}
			s.SetSym(i, j, (a+b)/2)
		}
	}
	return s, nil
}

// Eigenvalues returns the full spectrum of the symmetric matrix k through
// linalg.EigenSym (no eigenvectors), with lambda_min, lambda_max and
// kappa = lambda_max / lambda_min.
func Eigenvalues(k mat.Symmetric) (Spectrum, error) {
	n := k.SymmetricDim()
	if n == 0 {
		return Spectrum{}, errors.New("ntkempirical: spectrum of an empty kernel")
	}
	vals, _, err := linalg.EigenSym(k, false)
	if err != nil {
		return Spectrum{}, fmt.Errorf("ntkempirical: spectrum: %w", err)
	}
	s := Spectrum{Values: vals, LambdaMin: vals[0], LambdaMax: vals[n-1]}
	s.Kappa = Kappa(s.LambdaMax, s.LambdaMin)
	return s, nil
}

// Kappa returns lambda_max / lambda_min, or +Inf when lambda_min <= 0.
func Kappa(lambdaMax, lambdaMin float64) float64 {
	if lambdaMin <= 0 {
		return math.Inf(1)
	}
	return lambdaMax / lambdaMin
}

// LanczosOptions controls LambdaMaxLanczos.
type LanczosOptions struct {
	// Tol is the relative accuracy of the returned eigenvalue: iteration
	// stops when the Ritz residual bound |beta_m s_m| is at most
	// Tol * |theta|. Zero means 1e-12.
	Tol float64
	// MaxIter bounds the Krylov dimension; zero means min(n, 300).
	MaxIter int
	// Seed selects the random start vector.
	Seed uint64
}

// LambdaMaxLanczos returns the largest eigenvalue of the symmetric matrix k
// without a full eigendecomposition, by the Lanczos iteration with full
// reorthogonalization: from a random unit vector q_1 it builds the
// orthonormal Krylov basis Q_m of span{q_1, K q_1, ..., K^{m-1} q_1} and the
// tridiagonal T_m = Q_m^T K Q_m, whose largest eigenvalue theta (the Ritz
// value) converges to lambda_max from below. For a Ritz pair (theta, s) of
// T_m, ||K Q_m s - theta Q_m s|| = |beta_m s_m|, and since K is symmetric
// some eigenvalue lies within that distance of theta; iteration stops when
// it is at most Tol |theta|. Each step costs one product K q (O(n^2)) plus
// O(n m) for reorthogonalization. When the Krylov space becomes invariant
// (beta = 0) theta is exact.
//
// It returns an error when k holds NaN or Inf or when the iteration does
// not reach the tolerance within MaxIter steps (the best estimate is
// returned with the error).
func LambdaMaxLanczos(k mat.Symmetric, opt LanczosOptions) (float64, error) {
	n := k.SymmetricDim()
	if n == 0 {
		return 0, errors.New("ntkempirical: lambda_max of an empty kernel")
	}
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			if v := k.At(i, j); math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("ntkempirical: kernel entry (%d,%d) is %v", i, j, v)
			}
		}
	}
	tol := opt.Tol
	if tol <= 0 {
		tol = 1e-12
	}
	maxIter := opt.MaxIter
	if maxIter <= 0 {
		maxIter = min(n, 300)
	}
	maxIter = min(maxIter, n)
	rng := rand.New(rand.NewPCG(opt.Seed, 0x6c616e637a6f73))
	q := mat.NewVecDense(n, nil)
	for i := 0; i < n; i++ {
		q.SetVec(i, rng.NormFloat64())
	}
	q.ScaleVec(1/mat.Norm(q, 2), q)
	basis := []*mat.VecDense{q}
	var alpha, beta []float64
	w := mat.NewVecDense(n, nil)
	theta := math.Inf(-1)
	for m := 1; m <= maxIter; m++ {
		qm := basis[m-1]
		w.MulVec(k, qm)
		a := mat.Dot(w, qm)
		alpha = append(alpha, a)
		// Full reorthogonalization (twice is enough, "twice is enough").
		for pass := 0; pass < 2; pass++ {
			for _, b := range basis {
				w.AddScaledVec(w, -mat.Dot(w, b), b)
			}
		}
		bnorm := mat.Norm(w, 2)
		// Ritz values of T_m.
		t := mat.NewSymDense(m, nil)
		for i := 0; i < m; i++ {
			t.SetSym(i, i, alpha[i])
			if i+1 < m {
				t.SetSym(i, i+1, beta[i])
			}
		}
		var es mat.EigenSym
		if !es.Factorize(t, true) {
			return theta, errors.New("ntkempirical: Lanczos: tridiagonal eigensolver did not converge")
		}
		vals := es.Values(nil)
		theta = vals[m-1]
		var v mat.Dense
		es.VectorsTo(&v)
		resid := math.Abs(bnorm * v.At(m-1, m-1))
		scale := math.Max(math.Abs(theta), math.Abs(vals[0]))
		if resid <= tol*scale || bnorm <= 1e-14*scale || m == n {
			return theta, nil
		}
		beta = append(beta, bnorm)
		next := mat.NewVecDense(n, nil)
		next.ScaleVec(1/bnorm, w)
		basis = append(basis, next)
	}
	return theta, fmt.Errorf("ntkempirical: Lanczos did not reach relative accuracy %g in %d steps (estimate %g)", tol, maxIter, theta)
}
