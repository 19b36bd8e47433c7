package theory

import "math"

// Large-depth asymptotics of the fully connected NTK (Xiao, Pennington and
// Schoenholz 2020), as functions of the layer index l of the recursion
//
//	K^1 = sw2 K^0 + sb2,                Theta^1 = K^1,
//	K^{l+1} = sw2 T(K^l) + sb2,          Theta^{l+1} = K^{l+1} + sw2 Tdot(K^l) Theta^l.
//
// A network of depth L (L nonlinearities, then the readout) has the NTK
// Theta^{L+1}, so pass l = L + 1 for it.
//
// The forms below are for N inputs whose variance sits at the fixed point,
// K^1_ii = q* (for unequal norms the diagonal converges to q* at the rate of
// the variance map, which is fast and does not change the leading order).
// Every diagonal entry then obeys Theta_ii^{l+1} = q* + chi_1 Theta_ii^l, so
//
//	Theta_ii^l = q* (1 + chi_1 + ... + chi_1^{l-1}) = q* (1 - chi_1^l) / (1 - chi_1)
//
// exactly (l q* when chi_1 = 1). Each correlation c_ij^l converges to c*, and
// at large depth Theta ~ (d_l - o_l) I + o_l 11^T with d_l the diagonal and
// o_l the common off-diagonal value. The eigenvalues are
// lambda_max = d_l + (N - 1) o_l (eigenvector 1) and lambda_min = d_l - o_l
// (multiplicity N - 1). Per phase, to leading order:
//
// Ordered (chi_1 < 1, c* = 1): d_l, o_l -> p* = q*/(1 - chi_1), so
// Theta^l -> p* 11^T and lambda_max -> N p*. The gap d_l - o_l vanishes:
// with eps_l = 1 - c_l ~ A chi_1^l and chi_c(1 - eps) = chi_1 - b eps
// (smooth phi), the gap obeys delta_{l+1} = chi_1 delta_l + (q* + b p*) eps_l,
// so delta_l ~ C l chi_1^l and kappa ~ N p* / (C l chi_1^l), growing like
// 1/(l chi_1^l). The constant C depends on the input correlations (through
// A), so KappaAsymptote returns the shape with C = 1. For relu, whose Tdot
// is not differentiable at c = 1, chi_c(1 - eps) = chi_1 - O(sqrt(eps)) and
// the gap decays like chi_1^(l/2) instead.
//
// Chaotic (chi_1 > 1, c* < 1): d_l = q* (chi_1^l - 1)/(chi_1 - 1) grows like
// chi_1^l while o_l -> q* c*/(1 - chi_c*), the fixed point of
// o = q* c* + chi_c* o; hence kappa -> 1. The test prediction
// Theta_td Theta^-1 y depends on the data only through differences of
// test-train entries, which decay like l chi_c*^l (the correlations approach
// c* like chi_c*^l and the differences accumulate through the recursion as
// in the ordered gap), divided by lambda_min ~ chi_1^l: it decays like
// l (chi_c*/chi_1)^l, losing the data past a few xi_* layers.
//
// Critical (chi_1 = 1, smooth phi): d_l = l q* and o_l ~ l q*/3, i.e.
// Theta^l ~ (l q*/3)(2 I + 11^T), so kappa -> (N + 2)/2, bounded in depth.

// PStar returns p* = q*/(1 - chi_1), the ordered-phase limit of every entry
// of Theta^l; it is NaN unless m is ordered.
func (m MeanField) PStar() float64 {
	if m.Phase != Ordered {
		return math.NaN()
	}
	return m.QStar / (1 - m.Chi1)
}

// NTKDiagonal returns Theta_ii^l = q* (1 - chi_1^l)/(1 - chi_1) (l q* on the
// critical line), exact for an input with K^1_ii = q*, in every phase.
func (m MeanField) NTKDiagonal(l int) float64 {
	if m.Phase == Critical {
		return float64(l) * m.QStar
	}
	// -expm1(l log chi_1) = 1 - chi_1^l without cancellation near chi_1 = 1.
	return m.QStar * math.Expm1(float64(l)*math.Log(m.Chi1)) / (m.Chi1 - 1)
}

// NTKOffDiagonal returns the leading large-depth value o_l of the
// off-diagonal entries of Theta^l: p* (ordered), q* c*/(1 - chi_c*)
// (chaotic) or l q*/3 (critical).
func (m MeanField) NTKOffDiagonal(l int) float64 {
	switch m.Phase {
	case Ordered:
		return m.PStar()
	case Chaotic:
		return m.QStar * m.CStar / (1 - m.ChiCStar)
	default:
		return float64(l) * m.QStar / 3
	}
}

// LambdaMax returns the leading large-depth largest eigenvalue of Theta^l on
// n inputs, d_l + (n - 1) o_l: N p* (ordered), growing like chi_1^l
// (chaotic), (n + 2) l q*/3 (critical).
func (m MeanField) LambdaMax(n, l int) float64 {
	if m.Phase == Ordered {
		return float64(n) * m.PStar()
	}
	return m.NTKDiagonal(l) + float64(n-1)*m.NTKOffDiagonal(l)
}

// KappaAsymptote returns the leading large-depth condition number
// lambda_max/lambda_min of Theta^l on n inputs:
//
//	ordered:  n p* / (l chi_1^l)             (shape only: the true value has a
//	                                          data-dependent constant factor)
//	chaotic:  (d_l + (n-1) o_l) / (d_l - o_l) -> 1
//	critical: (n + 2) / 2
func (m MeanField) KappaAsymptote(n, l int) float64 {
	switch m.Phase {
	case Ordered:
		return float64(n) * m.PStar() / (float64(l) * math.Pow(m.Chi1, float64(l)))
	case Chaotic:
		d, o := m.NTKDiagonal(l), m.NTKOffDiagonal(l)
		return (d + float64(n-1)*o) / (d - o)
	default:
		return float64(n+2) / 2
	}
}

// PredictorDecay returns the large-depth shape of the data-dependent part of
// the converged test prediction Theta_td Theta^-1 y at layer l, up to a
// data-dependent constant: l (chi_c*/chi_1)^l in the chaotic phase (it
// vanishes past a few xi_* layers), 1 in the ordered phase (the predictor
// stays data dependent), and NaN on the critical line, where no closed form
// is derived here.
func (m MeanField) PredictorDecay(l int) float64 {
	switch m.Phase {
	case Ordered:
		return 1
	case Chaotic:
		return float64(l) * math.Pow(m.ChiCStar/m.Chi1, float64(l))
	default:
		return math.NaN()
	}
}
