// Package closedform computes, for the tests, what infinitely wide erf FCNs
// trained by gradient descent on the MSE predict, from the closed forms of
// the erf kernel (Williams 1997) and plain gonum linear algebra. It shares
// no code with package theory, whose results the tests check against it:
//
//	T(K)    = (2/pi) asin(2 K12 / sqrt((1+2 K11)(1+2 K22)))
//	Tdot(K) = (4/pi) / sqrt((1+2 K11)(1+2 K22) - 4 K12^2)
//
// and the output distribution of Lee et al. (2019) after t discrete steps
// of size eta, with A_t = I - (I - eta Theta/(N k))^t:
//
//	mu_t(x)        = Theta_xD Theta^-1 A_t Y
//	Sigma_t(x, x)  = K(x,x) + a^T K_DD a - 2 a^T K_Dx,   a = A_t Theta^-1 Theta_Dx
package closedform

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// ErfKernels runs the NNGP/NTK recursion of an erf FCN on the rows of x
// (n rows of d entries each, row-major) in the Neural Tangents conventions
// (depth L = number of nonlinearities, L+1 affine layers, the readout
// included):
//
//	K^1 = sw2 x x^T / d + sb2,  Theta^1 = K^1
//	K^{l+1} = sw2 T(K^l) + sb2,  Theta^{l+1} = K^{l+1} + sw2 Tdot(K^l) Theta^l
//
// and returns the NNGP K^{L+1} and NTK Theta^{L+1} of every depth
// L = 1..maxDepth (index L-1).
func ErfKernels(x []float64, n, d int, sw2, sb2 float64, maxDepth int) (nngp, ntk []*mat.SymDense) {
	k := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for c := 0; c < d; c++ {
				s += x[i*d+c] * x[j*d+c]
			}
			k[i*n+j] = sw2*s/float64(d) + sb2
		}
	}
	theta := append([]float64(nil), k...)
	nk, nt := make([]float64, n*n), make([]float64, n*n)
	for l := 1; l <= maxDepth; l++ {
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				a, b, c := 1+2*k[i*n+i], 1+2*k[j*n+j], k[i*n+j]
				t := (2 / math.Pi) * math.Asin(2*c/math.Sqrt(a*b))
				td := (4 / math.Pi) / math.Sqrt(a*b-4*c*c)
				nk[i*n+j] = sw2*t + sb2
				nt[i*n+j] = nk[i*n+j] + sw2*td*theta[i*n+j]
			}
		}
		k, nk = nk, k
		theta, nt = nt, theta
		nngp = append(nngp, mat.NewSymDense(n, append([]float64(nil), k...)))
		ntk = append(ntk, mat.NewSymDense(n, append([]float64(nil), theta...)))
	}
	return nngp, ntk
}

// Outputs are the mean outputs and the per-point output variance (shared
// by the k logits) at the training points (the first n of the joint
// kernels) and at the test points (the rest).
type Outputs struct {
	TrainMean, TestMean *mat.Dense
	TrainVar, TestVar   []float64
}

// GD returns the output distribution after t discrete gradient-descent
// steps (t = +Inf: converged) of size eta = etaFrac * 2 N k / lambda_max
// on the targets y (N x k), from the joint NNGP nngp and NTK ntk of N
// training points followed by the test points.
func GD(nngp, ntk *mat.SymDense, y *mat.Dense, etaFrac, t float64) (Outputs, error) {
	n, k := y.Dims()
	r := ntk.SymmetricDim()
	tr := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			tr.SetSym(i, j, ntk.At(i, j))
		}
	}
	var e mat.EigenSym
	if !e.Factorize(tr, true) {
		return Outputs{}, errors.New("closedform: eigendecomposition failed")
	}
	lam := e.Values(nil)
	var v mat.Dense
	e.VectorsTo(&v)
	if !(lam[0] > 0) {
		return Outputs{}, fmt.Errorf("closedform: NTK not positive definite (lambda_min %g)", lam[0])
	}
	nk := float64(n * k)
	eta := etaFrac * 2 * nk / lam[n-1]
	// h_i = (1 - (1 - eta lambda_i/(N k))^t) / lambda_i: Theta^-1 A_t = V h V^T.
	h := make([]float64, n)
	for i, l := range lam {
		switch {
		case math.IsInf(t, 1):
			h[i] = 1 / l
		case eta*l/nk < 0.5:
			// Accurate for small eta lambda, where 1 - (1 - x)^t cancels.
			h[i] = -math.Expm1(t*math.Log1p(-eta*l/nk)) / l
		default:
			// The largest mode at eta_crit/2 has x = 1 up to rounding,
			// which may exceed 1 and make log1p(-x) NaN; (1 - x)^t is
			// exact enough there.
			h[i] = (1 - math.Pow(1-eta*l/nk, t)) / l
		}
	}
	var m mat.Dense // V diag(h) V^T
	vh := mat.DenseCopyOf(&v)
	for j := 0; j < n; j++ {
		for i := 0; i < n; i++ {
			vh.Set(i, j, vh.At(i, j)*h[j])
		}
	}
	m.Mul(vh, v.T())
	out := Outputs{TrainMean: mat.NewDense(n, k, nil), TestMean: mat.NewDense(r-n, k, nil),
		TrainVar: make([]float64, n), TestVar: make([]float64, r-n)}
	kdd := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			kdd.Set(i, j, nngp.At(i, j))
		}
	}
	for x := 0; x < r; x++ {
		thx, kx := mat.NewVecDense(n, nil), mat.NewVecDense(n, nil)
		for j := 0; j < n; j++ {
			thx.SetVec(j, ntk.At(j, x))
			kx.SetVec(j, nngp.At(j, x))
		}
		var a, ka mat.VecDense
		a.MulVec(&m, thx)
		ka.MulVec(kdd, &a)
		variance := nngp.At(x, x) + mat.Dot(&a, &ka) - 2*mat.Dot(&a, kx)
		mean, vr := out.TrainMean, out.TrainVar
		row := x
		if x >= n {
			mean, vr, row = out.TestMean, out.TestVar, x-n
		}
		vr[row] = variance
		for c := 0; c < k; c++ {
			s := 0.0
			for j := 0; j < n; j++ {
				s += a.AtVec(j) * y.At(j, c)
			}
			mean.Set(row, c, s)
		}
	}
	return out, nil
}

// Accuracy returns the share of rows of f whose largest entry (the first
// on ties) is at the label.
func Accuracy(f *mat.Dense, labels []int) float64 {
	hits := 0
	for i, l := range labels {
		row := f.RawRowView(i)
		best := 0
		for c, v := range row {
			if v > row[best] {
				best = c
			}
		}
		if best == l {
			hits++
		}
	}
	return float64(hits) / float64(len(labels))
}

// ProbabilityCorrect returns the probability that the label's logit is the
// largest of independent Gaussian logits N(mean[c], variance),
//
//	int phi(z) prod_{c != label} Phi((mean[label] - mean[c])/s + z) dz,
//
// by Simpson's rule on [-12, 12] with step 1/200 (error below 1e-9 for
// this smooth integrand). A variance below zero counts as zero: then the
// label wins with probability 1/(ties + 1), or 0 when another mean is
// larger.
func ProbabilityCorrect(mean []float64, label int, variance float64) float64 {
	my := mean[label]
	if variance <= 0 {
		ties := 1
		for c, v := range mean {
			if c != label && v > my {
				return 0
			}
			if c != label && v == my {
				ties++
			}
		}
		return 1 / float64(ties)
	}
	s := math.Sqrt(variance)
	const lo, hi, steps = -12.0, 12.0, 4800
	h := (hi - lo) / steps
	p := 0.0
	for i := 0; i <= steps; i++ {
		z := lo + float64(i)*h
		f := math.Exp(-z*z/2) / math.Sqrt(2*math.Pi)
		for c, v := range mean {
			if c != label {
				f *= 0.5 * math.Erfc(-((my-v)/s+z)/math.Sqrt2)
			}
		}
		w := 2.0
		switch {
		case i == 0 || i == steps:
			w = 1
		case i%2 == 1:
			w = 4
		}
		p += w * f
	}
	return p * h / 3
}

// ExpectedAccuracy returns the mean over the rows of mean of
// ProbabilityCorrect with the row's variance.
func ExpectedAccuracy(mean *mat.Dense, variance []float64, labels []int) float64 {
	s := 0.0
	for i, l := range labels {
		s += ProbabilityCorrect(mean.RawRowView(i), l, variance[i])
	}
	return s / float64(len(labels))
}
