package theory

import (
	"fmt"
	"math"

	"github.com/ntkharness/ntkharness/spec"
)

// Phase is the mean-field phase of a network: ordered (chi_1 < 1), chaotic
// (chi_1 > 1) or critical (chi_1 = 1 within CriticalTol).
type Phase string

// Phases.
const (
	Ordered  Phase = "ordered"
	Chaotic  Phase = "chaotic"
	Critical Phase = "critical"
)

// CriticalTol is the tolerance of the phase classification: a network is
// critical when |chi_1 - 1| <= CriticalTol. It matches the accuracy to which
// the fixed points are solved (chi_1 inherits an error of order 1e-12 from
// q*), so a critical sw2 computed by CriticalSW2 classifies as critical while
// any sw2 a user would choose on purpose off the critical line does not.
const CriticalTol = 1e-9

// PhaseOf classifies chi_1.
func PhaseOf(chi1 float64) Phase {
	switch {
	case math.Abs(chi1-1) <= CriticalTol:
		return Critical
	case chi1 < 1:
		return Ordered
	default:
		return Chaotic
	}
}

// MeanField holds the mean-field quantities of a deep fully connected network
// with activation phi and variances sw2, sb2 (Schoenholz et al. 2017). With
// T(K11, K12, K22) = E[phi(u) phi(v)] and Tdot = E[phi'(u) phi'(v)] for
// (u, v) ~ N(0, [[K11, K12], [K12, K22]]):
//
//	q*     fixed point of q -> sw2 T(q, q, q) + sb2
//	c*     stable fixed point of c -> (sw2 T(q*, c q*, q*) + sb2) / q*
//	chi_1  = sw2 Tdot(q*, q*, q*)          (slope of the c-map at c = 1)
//	chi_c* = sw2 Tdot(q*, c* q*, q*)       (slope of the c-map at c*)
//	xi_1   = -1 / ln chi_1                  (ordered phase only)
//	xi_*   = -1 / (ln chi_c* - ln chi_1)    (chaotic phase only)
//	xi_c*  = -1 / ln chi_c*
//
// In the ordered phase c* = 1 and chi_c* = chi_1, so xi_c* = xi_1 and xi_*
// does not exist. In the chaotic phase c = 1 is unstable, c* < 1 and xi_1
// does not exist. On the critical line (|chi_1 - 1| <= CriticalTol) c* = 1
// and every depth scale diverges. A depth scale that does not exist or
// diverges is NaN; see Has.
type MeanField struct {
	Act      string  // activation name
	SW2, SB2 float64 // variances
	QStar    float64 // q*
	CStar    float64 // c*
	Chi1     float64 // chi_1
	ChiCStar float64 // chi_c*
	Xi1      float64 // xi_1, NaN unless ordered
	XiStar   float64 // xi_*, NaN unless chaotic
	XiCStar  float64 // xi_c*, NaN when critical
	Phase    Phase
}

// Has reports whether a depth scale value exists (is finite).
func Has(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// fixedPointTol is the absolute x-tolerance of the root finder used for q*,
// c* and the critical sw2; the answers are accurate to about 1e-13, well
// inside the 1e-9 the project needs.
const fixedPointTol = 1e-14

// checkVariances validates sw2 and sb2 as user input.
func checkVariances(sw2, sb2 float64) error {
	if math.IsNaN(sw2) || math.IsInf(sw2, 0) || sw2 <= 0 {
		return fmt.Errorf("theory: sw2 %v: must be finite and positive", sw2)
	}
	return checkSB2(sb2)
}

func checkSB2(sb2 float64) error {
	if math.IsNaN(sb2) || math.IsInf(sb2, 0) || sb2 < 0 {
		return fmt.Errorf("theory: sb2 %v: must be finite and non-negative", sb2)
	}
	return nil
}

// noFixedPointError reports that the variance map has no finite fixed point.
type noFixedPointError struct {
	act      string
	sw2, sb2 float64
}

func (e noFixedPointError) Error() string {
	msg := fmt.Sprintf("theory: %s with sw2=%v sb2=%v has no finite fixed point q*: the variance map q -> sw2 T(q,q,q) + sb2 grows without bound", e.act, e.sw2, e.sb2)
	if e.act == spec.ReLU {
		msg += " (relu needs sw2 < 2)"
	}
	return msg
}

// maxQ bounds the search for q*: a variance map that is still above the
// diagonal at q = 2^200 is taken to diverge.
var maxQ = math.Ldexp(1, 200)

// QStar returns the fixed point q* of the variance map
// V(q) = sw2 T(q, q, q) + sb2 reached from any q > 0, found by Brent's method
// on V(q) - q after bracketing it by doubling. It returns an error when the
// map has no finite fixed point (relu with sw2 >= 2: V(q) - q =
// sb2 + (sw2/2 - 1) q never changes sign). With sb2 = 0 and phi(0) = 0,
// q = 0 is always a fixed point; QStar returns the positive fixed point
// when one exists (V'(0) > 1) and 0 otherwise.
func QStar(act Activation, sw2, sb2 float64) (float64, error) {
	if err := checkVariances(sw2, sb2); err != nil {
		return 0, err
	}
	g := func(q float64) float64 { return sw2*act.T(q, q, q) + sb2 - q }
	// At q = 0 both inputs of T are the constant 0, so T(0, 0, 0) = phi(0)^2
	// exactly; computing it so avoids the 0/0 of closed forms like relu's.
	lo := 0.0
	phi0 := act.Phi(0)
	glo := sw2*phi0*phi0 + sb2 // >= 0
	if glo == 0 {
		// q = 0 is a fixed point; look for a positive one just above it.
		lo = 1e-12
		glo = g(lo)
		if glo <= 0 {
			if act.Name() == spec.ReLU && sw2 >= 2 {
				return 0, noFixedPointError{act.Name(), sw2, sb2}
			}
			return 0, nil
		}
	}
	hi := math.Max(1, 2*sb2)
	ghi := g(hi)
	for ghi >= 0 {
		if math.IsNaN(ghi) || math.IsInf(ghi, 0) || hi > maxQ {
			return 0, noFixedPointError{act.Name(), sw2, sb2}
		}
		lo, glo = hi, ghi
		hi *= 2
		ghi = g(hi)
	}
	if math.IsNaN(ghi) {
		return 0, fmt.Errorf("theory: %s with sw2=%v sb2=%v: T(q,q,q) is NaN at q=%v", act.Name(), sw2, sb2, hi)
	}
	return brent(g, lo, hi, glo, ghi, fixedPointTol*math.Max(1, lo))
}

// CStar returns the stable fixed point of the correlation map
// C(c) = (sw2 T(q, c q, q) + sb2) / q at the variance q = q*. Since q* is a
// fixed point, C(1) = 1 and C'(1) = chi_1. When chi_1 <= 1 + CriticalTol,
// c = 1 is stable and CStar returns 1. Otherwise c = 1 is unstable and the
// stable fixed point lies below it: C - c is >= 0 at c = -1 and c = 0 (for
// odd phi C(0) = sb2/q >= 0) and negative just below 1; CStar brackets the
// root by approaching 1 as 1 - 2^-k (never evaluating the root at c = 1)
// and refines it by Brent's method, so it stays accurate near the critical
// line where plain iteration of C converges arbitrarily slowly. Near the
// line the root is ill-conditioned: C(c) - c dips only to about
// -(chi_1 - 1)^2 / (2 C2) (C2 the second derivative of C at 1), so an
// error e in T can move c* by up to e / (chi_1 - 1)^2; with closed-form T
// (erf, relu) this is negligible, with quadrature (tanh, e ~ 1e-14) it
// matters within ~1e-4 of the line.
func CStar(act Activation, sw2, sb2, q float64) (float64, error) {
	if err := checkVariances(sw2, sb2); err != nil {
		return 0, err
	}
	if !(q > 0) || math.IsInf(q, 0) {
		return 0, fmt.Errorf("theory: q %v: the correlation map needs a finite positive variance", q)
	}
	chi1 := sw2 * act.Tdot(q, q, q)
	if chi1 <= 1+CriticalTol {
		return 1, nil
	}
	h := func(c float64) float64 { return (sw2*act.T(q, c*q, q)+sb2)/q - c }
	lo := 0.0
	hlo := h(lo)
	if hlo < 0 {
		lo = -1
		hlo = h(lo)
		if hlo < 0 {
			return 0, fmt.Errorf("theory: %s with sw2=%v sb2=%v: correlation map below the diagonal at c=-1", act.Name(), sw2, sb2)
		}
	}
	for k := 1; k <= 52; k++ {
		c := 1 - math.Ldexp(1, -k)
		if c <= lo {
			continue
		}
		hc := h(c)
		if hc < 0 {
			return brent(h, lo, c, hlo, hc, fixedPointTol)
		}
		lo, hlo = c, hc
	}
	// chi_1 exceeds 1 by so little that the c-map cannot be told from the
	// diagonal in float64: the stable point is 1 to working precision.
	return 1, nil
}

// SolveMeanField computes the mean-field quantities (see MeanField) of act
// with variances sw2, sb2. It returns an error for invalid variances, for a
// variance map without a finite fixed point (relu with sw2 >= 2), and for the
// degenerate q* = 0 (sb2 = 0 with a variance map that contracts to zero),
// where correlations are undefined.
func SolveMeanField(act Activation, sw2, sb2 float64) (MeanField, error) {
	q, err := QStar(act, sw2, sb2)
	if err != nil {
		return MeanField{}, err
	}
	if q == 0 {
		return MeanField{}, fmt.Errorf("theory: %s with sw2=%v sb2=%v: q* = 0 (every signal vanishes with depth), so correlations and depth scales are undefined; use sb2 > 0", act.Name(), sw2, sb2)
	}
	m := MeanField{Act: act.Name(), SW2: sw2, SB2: sb2, QStar: q}
	m.Chi1 = sw2 * act.Tdot(q, q, q)
	m.Phase = PhaseOf(m.Chi1)
	if m.CStar, err = CStar(act, sw2, sb2, q); err != nil {
		return MeanField{}, err
	}
	if m.CStar == 1 {
		m.ChiCStar = m.Chi1
	} else {
		m.ChiCStar = sw2 * act.Tdot(q, m.CStar*q, q)
	}
	nan := math.NaN()
	m.Xi1, m.XiStar, m.XiCStar = nan, nan, nan
	switch m.Phase {
	case Ordered:
		m.Xi1 = -1 / math.Log(m.Chi1)
		m.XiCStar = m.Xi1
	case Chaotic:
		m.XiCStar = -1 / math.Log(m.ChiCStar)
		if m.CStar < 1 {
			m.XiStar = -1 / (math.Log(m.ChiCStar) - math.Log(m.Chi1))
		}
	}
	if math.IsNaN(m.QStar) || math.IsNaN(m.Chi1) || math.IsNaN(m.CStar) || math.IsNaN(m.ChiCStar) {
		return MeanField{}, fmt.Errorf("theory: %s with sw2=%v sb2=%v: mean-field quantities are NaN (q*=%v chi_1=%v c*=%v)", act.Name(), sw2, sb2, m.QStar, m.Chi1, m.CStar)
	}
	if err := checkMeanField(act, m); err != nil {
		return MeanField{}, err
	}
	return m, nil
}

// checkMeanField verifies what the definitions of MeanField guarantee for
// exact expectations: q* is a stable fixed point of the variance map
// (slope V'(q*) < 1, by a central difference), a c* < 1 is a stable fixed
// point of the correlation map (chi_c* < 1, which the chaotic phase needs,
// since there chi_1 > 1), and every depth scale that exists is positive.
// A failure means the expectations are wrong (an inaccurate quadrature
// rule, say), so it is an error naming the quantity and the inputs rather
// than a number.
func checkMeanField(act Activation, m MeanField) error {
	fail := func(what string, args ...any) error {
		return fmt.Errorf("theory: %s with sw2=%v sb2=%v: %s; the expectations of the activation are inaccurate here, so no mean-field values are reported", act.Name(), m.SW2, m.SB2, fmt.Sprintf(what, args...))
	}
	q := m.QStar
	dq := 1e-4 * q
	v := func(q float64) float64 { return m.SW2*act.T(q, q, q) + m.SB2 }
	if slope := (v(q+dq) - v(q-dq)) / (2 * dq); !(slope < 1) {
		return fail("the fixed point q* = %v of the variance map is not stable (slope %v >= 1)", q, slope)
	}
	if m.CStar < 1 && !(m.ChiCStar < 1) {
		return fail("the fixed point c* = %v of the correlation map is not stable (chi_c* = %v >= 1)", m.CStar, m.ChiCStar)
	}
	for _, x := range []struct {
		name string
		v    float64
	}{{"xi_1", m.Xi1}, {"xi_*", m.XiStar}, {"xi_c*", m.XiCStar}} {
		if Has(x.v) && !(x.v > 0) {
			return fail("the depth scale %s = %v is not positive (chi_1 = %v, chi_c* = %v)", x.name, x.v, m.Chi1, m.ChiCStar)
		}
	}
	return nil
}

// MeanFieldOf is SolveMeanField for the activation and variances of s.
func MeanFieldOf(s spec.Spec) (MeanField, error) {
	act, err := ActivationByName(s.Act)
	if err != nil {
		return MeanField{}, err
	}
	return SolveMeanField(act, s.SW2, s.SB2)
}

// chi1Of returns chi_1 = sw2 Tdot(q*, q*, q*) at (sw2, sb2); when q* = 0 it
// uses the limit q -> 0+ (evaluated at a tiny q), which is finite for the
// built-in activations.
func chi1Of(act Activation, sw2, sb2 float64) (float64, error) {
	q, err := QStar(act, sw2, sb2)
	if err != nil {
		return 0, err
	}
	q = math.Max(q, 1e-100)
	return sw2 * act.Tdot(q, q, q), nil
}

// CriticalSW2 returns the weight variance on the critical line chi_1 = 1 for
// the bias variance sb2: the root in sw2 of chi_1(sw2, sb2) - 1, bracketed
// by doubling from sw2 = 1/16 and refined by Brent's method. Where the
// variance map has no finite fixed point (relu with sw2 >= 2), the signal
// explodes and the point counts as chaotic; so for relu, whose
// chi_1 = sw2/2 does not depend on sb2, the answer is 2. At sb2 = 0 the
// line ends where q* leaves 0 (pi/4 for erf); there chi_1 - 1 is only
// quadratic on the chaotic side, so the root is accurate to about 1e-8.
func CriticalSW2(act Activation, sb2 float64) (float64, error) {
	if err := checkSB2(sb2); err != nil {
		return 0, err
	}
	f := func(sw2 float64) float64 {
		chi, err := chi1Of(act, sw2, sb2)
		if err != nil {
			if _, ok := err.(noFixedPointError); ok {
				return 1
			}
			return math.NaN()
		}
		return chi - 1
	}
	lo := 1.0 / 16
	flo := f(lo)
	for flo >= 0 && lo > 1e-8 {
		lo /= 2
		flo = f(lo)
	}
	if !(flo < 0) {
		return 0, fmt.Errorf("theory: %s with sb2=%v: chi_1 >= 1 (or undefined) down to sw2=%v, no critical point found", act.Name(), sb2, lo)
	}
	hi := 2 * lo
	fhi := f(hi)
	for fhi < 0 && hi < 1e6 {
		lo, flo = hi, fhi
		hi *= 2
		fhi = f(hi)
	}
	if !(fhi >= 0) {
		return 0, fmt.Errorf("theory: %s with sb2=%v: chi_1 < 1 (or undefined) up to sw2=%v, no critical point found", act.Name(), sb2, hi)
	}
	return brent(f, lo, hi, flo, fhi, fixedPointTol)
}

// brent finds a root of f in [a, b], where fa = f(a) and fb = f(b) have
// opposite signs (or one is zero), by Brent's method (inverse quadratic
// interpolation and secant steps safeguarded by bisection), to the absolute
// tolerance xtol plus a few ulps of the root.
func brent(f func(float64) float64, a, b, fa, fb, xtol float64) (float64, error) {
	switch {
	case fa == 0:
		return a, nil
	case fb == 0:
		return b, nil
	case math.IsNaN(fa) || math.IsNaN(fb):
		return 0, fmt.Errorf("theory: root finder: function is NaN at the bracket [%v, %v]", a, b)
	case (fa > 0) == (fb > 0):
		panic("theory: brent: root not bracketed")
	}
	c, fc := a, fa
	d := b - a
	e := d
	for iter := 0; iter < 300; iter++ {
		if (fb > 0) == (fc > 0) {
			c, fc = a, fa
			d = b - a
			e = d
		}
		if math.Abs(fc) < math.Abs(fb) {
			a, b, c = b, c, b
			fa, fb, fc = fb, fc, fb
		}
		tol := 2*0x1p-52*math.Abs(b) + 0.5*xtol
		m := 0.5 * (c - b)
		if math.Abs(m) <= tol || fb == 0 {
			return b, nil
		}
		if math.Abs(e) < tol || math.Abs(fa) <= math.Abs(fb) {
			d, e = m, m
		} else {
			s := fb / fa
			var p, q float64
			if a == c {
				p = 2 * m * s
				q = 1 - s
			} else {
				q = fa / fc
				r := fb / fc
				p = s * (2*m*q*(q-r) - (b-a)*(r-1))
				q = (q - 1) * (r - 1) * (s - 1)
			}
			if p > 0 {
				q = -q
			} else {
				p = -p
			}
			if 2*p < math.Min(3*m*q-math.Abs(tol*q), math.Abs(e*q)) {
				e = d
				d = p / q
			} else {
				d, e = m, m
			}
		}
		a, fa = b, fb
		if math.Abs(d) > tol {
			b += d
		} else if m > 0 {
			b += tol
		} else {
			b -= tol
		}
		fb = f(b)
		if math.IsNaN(fb) {
			return 0, fmt.Errorf("theory: root finder: function is NaN at %v", b)
		}
	}
	return 0, fmt.Errorf("theory: root finder did not converge (bracket [%v, %v])", b, c)
}
