package theory

import (
	"fmt"
	"math"
	"sync"

	"gonum.org/v1/gonum/integrate/quad"

	"github.com/ntkharness/ntkharness/activation"
)

// Activation gives the Gaussian expectations the kernel recursions need, for
// (u, v) ~ N(0, [[k11, k12], [k12, k22]]).
//
// Implementations accept any positive semi-definite covariance, including the
// degenerate ones: zero variances and correlations of exactly +-1
// (k12^2 = k11 k22). A correlation slightly beyond +-1 from rounding is
// clamped to +-1 and negative variances are treated as zero.
type Activation interface {
	Name() string
	Phi(x float64) float64
	DPhi(x float64) float64
	T(k11, k12, k22 float64) float64    // E[phi(u) phi(v)]
	Tdot(k11, k12, k22 float64) float64 // E[phi'(u) phi'(v)]
}

// DefaultQuadratureNodes is the node count per axis of the approximate
// Gauss-Hermite rule that NewQuadrature and HermiteQuadrature are usually
// given. It is not the default: activations without closed forms (tanh) use
// the trapezoidal strip rule (see ActivationOf), because a fixed
// Gauss-Hermite rule converges slowly for phi with poles near the real axis
// (61 nodes for tanh: errors of 2e-7 at variance 1, 1e-3 at variance 4,
// 10% near variance 100).
const DefaultQuadratureNodes = 61

// ActivationByName returns ActivationOf the built-in activation named name
// (one of spec.Acts): closed forms for erf and relu, the trapezoidal strip
// rule for tanh (errors below 1e-12 relative at any variance; see
// NewStripQuadrature).
func ActivationByName(name string) (Activation, error) {
	d, err := activation.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("theory: %w", err)
	}
	return ActivationOf(d), nil
}

// ActivationOf returns the expectations of the description d: its closed
// forms when it has both T and Tdot, else 2-D quadrature of d.Phi and d.DPhi
// by the trapezoidal strip rule for d.Strip (see NewStripQuadrature), which
// uses d.PhiDPhi and d.Odd when given. A description without a Strip falls
// back to Gauss-Hermite with DefaultQuadratureNodes nodes per axis.
func ActivationOf(d *activation.Activation) Activation {
	if d.HasClosedForm() {
		return closedForm{d}
	}
	return quadratureOf(d, quadratureNodes)
}

// closedForm is an activation whose T and Tdot are the closed forms of its
// description.
type closedForm struct{ d *activation.Activation }

func (c closedForm) Name() string                       { return c.d.Name }
func (c closedForm) Phi(x float64) float64              { return c.d.Phi(x) }
func (c closedForm) DPhi(x float64) float64             { return c.d.DPhi(x) }
func (c closedForm) T(k11, k12, k22 float64) float64    { return c.d.T(k11, k12, k22) }
func (c closedForm) Tdot(k11, k12, k22 float64) float64 { return c.d.Tdot(k11, k12, k22) }

func clamp1(r float64) float64 {
	if r > 1 {
		return 1
	}
	if r < -1 {
		return -1
	}
	return r
}

// Quadrature is an activation whose expectations are computed by 2-D
// quadrature. With the Cholesky factor of the covariance,
// u = a z1, v = b z1 + c z2 with a = sqrt(k11), b = k12/a,
// c = sqrt(k22 - b^2) and z ~ N(0, I), so
//
//	E[f(u) g(v)] = sum_i w_i f(a z_i) sum_j w_j g(b z_i + c z_j)
//
// for a rule (z_i, w_i) integrating against the standard normal density,
// with the roles of u and v chosen so that k11 >= k22 (which makes the sums
// for (k11, k12, k22) and (k22, k12, k11) identical). At
// correlation +-1 (c = 0) the double sum is replaced by the 1-D sum
// sum_i w_i f(a z_i) g(b z_i); at zero variance by a 1-D sum times f(0) or
// g(0), so degenerate covariances need no special care from callers.
//
// Two rules are offered. NewQuadrature uses a fixed n-point Gauss-Hermite
// rule (nodes z_i = sqrt(2) x_i, weights omega_i/sqrt(pi) of the rule for
// exp(-x^2)). NewStripQuadrature uses the trapezoidal rule on [-9, 9] with
// a step chosen per call from the largest variance; see there.
type Quadrature struct {
	name      string
	phi, dphi func(float64) float64
	both      func(float64) (float64, float64) // optional: phi and phi' from one evaluation
	odd       bool                             // phi is odd: the outer sum of expectBoth folds onto z >= 0
	fixed     *rule                            // Gauss-Hermite rule; nil for the strip rule
	strip     float64                          // half-width of phi's strip of analyticity (strip rule)
	rules     sync.Map                         // strip rule: node count -> *rule
	mehler    sync.Map                         // strip rule: 8 log2(variance) -> *mehlerBasis (see mehlerBasisFor)
}

// rule is a symmetric quadrature rule for the standard normal density:
// nodes z (ascending, z[i] = -z[n-1-i]) and weights w, without the nodes
// whose weight is below 1e-18 (together they carry less than 1e-16 of the
// mass), and its fold onto z >= 0: zh, wh with wh = 2 w off the centre. For
// an even or odd integrand in z the folded sum equals the full one.
type rule struct{ z, w, zh, wh []float64 }

func newRule(z, w []float64) *rule {
	lo, hi := 0, len(z)
	for hi-lo > 2 && w[lo] < 1e-18 && w[hi-1] < 1e-18 {
		lo++
		hi--
	}
	r := &rule{z: z[lo:hi], w: w[lo:hi]}
	n := len(r.z)
	m := n / 2
	r.zh = append([]float64(nil), r.z[m:]...)
	r.wh = make([]float64, len(r.zh))
	for k := range r.wh {
		r.wh[k] = 2 * r.w[m+k]
	}
	if n%2 == 1 {
		r.zh[0] = 0
		r.wh[0] = r.w[m]
	}
	return r
}

// NewQuadrature returns an activation computed by 2-D Gauss-Hermite quadrature with the
// given nodes per axis (any elementwise phi with derivative dphi).
// It panics if nodes < 1 or phi or dphi is nil.
//
// The rule is exact for polynomials of degree < 2 nodes, but converges slowly
// for functions with singularities near the real axis: for tanh(sqrt(k) z)
// (poles at distance pi/(2 sqrt(k))) 61 nodes give errors of 2e-7 at
// variance k = 1 and 1e-3 at k = 4. Prefer NewStripQuadrature for such phi.
func NewQuadrature(name string, phi, dphi func(float64) float64, nodes int) Activation {
	return newQuadrature(name, phi, dphi, nodes)
}

func newQuadrature(name string, phi, dphi func(float64) float64, nodes int) *Quadrature {
	if nodes < 1 || phi == nil || dphi == nil {
		panic(fmt.Sprintf("theory: NewQuadrature(%q): need nodes >= 1 (got %d) and non-nil phi and dphi", name, nodes))
	}
	x := make([]float64, nodes)
	w := make([]float64, nodes)
	quad.Hermite{}.FixedLocations(x, w, math.Inf(-1), math.Inf(1))
	for i := range x {
		x[i] *= math.Sqrt2
		w[i] /= math.SqrtPi
	}
	return &Quadrature{name: name, phi: phi, dphi: dphi, fixed: newRule(x, w)}
}

// Constants of the strip rule.
const (
	stripRange    = 9.0  // integrate z over [-9, 9]: the normal tail beyond is 2e-19
	stripExponent = 40.0 // step h <= 2 pi d / 40: errors near 1e-13 (measured against a finer rule)
	stripMaxStep  = 0.4  // the Gaussian alone: exp(-2 pi^2 / h^2) < 1e-50
	// stripMaxHalf bounds the nodes per axis to 2 stripMaxHalf + 1 (about
	// variance 5e6 for tanh); beyond it the step is no longer refined and
	// the accuracy degrades.
	stripMaxHalf = 1 << 17
)

// NewStripQuadrature returns an activation computed by 2-D quadrature with
// the trapezoidal rule, for a phi analytic and bounded in the strip
// |Im x| < strip around the real axis (tanh: strip = pi/2).
//
// For an integrand analytic in the strip |Im z| < d, the trapezoidal rule
// with step h converges like exp(-2 pi d / h) (Trefethen and Weideman 2014).
// phi(sqrt(k) z) is analytic for |Im z| < strip/sqrt(k), so each call takes
// h <= 2 pi strip / (40 sqrt(k_max)) (at most 0.4), k_max = max(k11, k22),
// on z in [-9, 9], the node count rounded up to one of 8 per octave so that
// few distinct rules are built. For tanh that is about 73 sqrt(k_max) nodes
// per axis (at least 47; 79 at k = 1, 159 at k = 4, about 7400 at k = 1e4),
// with errors below 1e-12 relative to sqrt(T(k11,k11,k11) T(k22,k22,k22))
// at every variance tested (1e-4 to 1e4; TestStripRuleConverged), and a
// cost of about (73 sqrt(k_max))^2 / 2 evaluations of phi per expectation.
// It panics if strip <= 0 or phi or dphi is nil.
func NewStripQuadrature(name string, phi, dphi func(float64) float64, strip float64) Activation {
	return newStripQuadrature(name, phi, dphi, strip)
}

func newStripQuadrature(name string, phi, dphi func(float64) float64, strip float64) *Quadrature {
	if !(strip > 0) || phi == nil || dphi == nil {
		panic(fmt.Sprintf("theory: NewStripQuadrature(%q): need strip > 0 (got %v) and non-nil phi and dphi", name, strip))
	}
	return &Quadrature{name: name, phi: phi, dphi: dphi, strip: strip}
}

// nodes returns the nodes and weights for the variances k11, k22.
func (q *Quadrature) nodes(k11, k22 float64) ([]float64, []float64) {
	r := q.rule(k11, k22)
	return r.z, r.w
}

// rule returns the rule for the variances k11, k22.
func (q *Quadrature) rule(k11, k22 float64) *rule {
	if q.fixed != nil {
		return q.fixed
	}
	h := stripMaxStep
	if km := math.Max(k11, k22); km > 0 {
		h = math.Min(h, 2*math.Pi*q.strip/(stripExponent*math.Sqrt(km)))
	}
	half := stripHalf(math.Ceil(stripRange / h))
	n := 2*half + 1
	if r, ok := q.rules.Load(n); ok {
		return r.(*rule)
	}
	z, w := make([]float64, n), make([]float64, n)
	h = 2 * stripRange / float64(n-1)
	var sum float64
	for i := range n {
		zi := float64(i-n/2) * h // symmetric: zi = -z[n-1-i] exactly
		z[i] = zi
		w[i] = h / math.Sqrt(2*math.Pi) * math.Exp(-zi*zi/2)
		sum += w[i]
	}
	for i := range w {
		w[i] /= sum // exact for constants (the error of the sum is ~1e-17)
	}
	r := newRule(z, w)
	q.rules.Store(n, r)
	return r
}

// stripHalf rounds the half node count m up to the next value of the form
// k 2^e with 8 <= k < 16 (8 values per octave, at most 12.5% more nodes
// than needed), capped at stripMaxHalf.
func stripHalf(m float64) int {
	if m >= stripMaxHalf {
		return stripMaxHalf
	}
	n := int(m)
	if n < 16 {
		return max(n, 1)
	}
	e := 0
	for n>>e >= 16 {
		e++
	}
	k := (n + 1<<e - 1) >> e // ceil(n / 2^e), in [8, 16]
	return k << e
}

// Name returns the activation's name.
func (q *Quadrature) Name() string { return q.name }

// Phi returns phi(x).
func (q *Quadrature) Phi(x float64) float64 { return q.phi(x) }

// DPhi returns phi'(x).
func (q *Quadrature) DPhi(x float64) float64 { return q.dphi(x) }

// T returns E[phi(u) phi(v)].
func (q *Quadrature) T(k11, k12, k22 float64) float64 {
	return q.expect(q.phi, q.phi, k11, k12, k22)
}

// Tdot returns E[phi'(u) phi'(v)].
func (q *Quadrature) Tdot(k11, k12, k22 float64) float64 {
	return q.expect(q.dphi, q.dphi, k11, k12, k22)
}

// expect returns E[f(u) g(v)] for (u, v) ~ N(0, [[k11, k12], [k12, k22]]).
func (q *Quadrature) expect(f, g func(float64) float64, k11, k12, k22 float64) float64 {
	if math.IsNaN(k11) || math.IsNaN(k12) || math.IsNaN(k22) {
		return math.NaN()
	}
	k11, k12, k22 = activation.ClampCov(k11, k12, k22)
	if k22 > k11 {
		// Factor the larger variance first, so T(k11, k12, k22) and
		// T(k22, k12, k11) are the same sum (f = g for T and Tdot).
		k11, k22 = k22, k11
		f, g = g, f
	}
	z, w := q.nodes(k11, k22)
	switch {
	case k11 == 0 && k22 == 0:
		return f(0) * g(0)
	case k11 == 0:
		return f(0) * mean1(z, w, g, math.Sqrt(k22))
	case k22 == 0:
		return g(0) * mean1(z, w, f, math.Sqrt(k11))
	}
	a := math.Sqrt(k11)
	b := k12 / a
	c2 := (k11*k22 - k12*k12) / k11
	var s float64
	if c2 <= 0 {
		for i, zi := range z {
			s += w[i] * f(a*zi) * g(b*zi)
		}
		return s
	}
	c := math.Sqrt(c2)
	for i, zi := range z {
		bz := b * zi
		var inner float64
		for j, zj := range z {
			inner += w[j] * g(bz+c*zj)
		}
		s += w[i] * f(a*zi) * inner
	}
	return s
}

// mean1 returns E[f(s z)] for z ~ N(0, 1) by the rule (z, w).
func mean1(z, w []float64, f func(float64) float64, s float64) float64 {
	var m float64
	for i, zi := range z {
		m += w[i] * f(s*zi)
	}
	return m
}

// TanhStrip returns tanh with its expectations by the trapezoidal strip rule
// of NewStripQuadrature, the rule ActivationByName("tanh") uses: errors below
// 1e-12 relative at any variance the recursions reach.
func TanhStrip() Activation { return quadratureOf(activation.Tanh, 0) }

// HermiteQuadrature returns d with its expectations by a fixed Gauss-Hermite
// rule of the given nodes per axis. It is approximate for phi with poles
// near the real axis: for tanh with 61 nodes, errors of 2e-7 at variance 1,
// 1e-3 at variance 4 and 10% near variance 100 (where it wrongly puts tanh
// with sw2 = 100 in a state with chi_c* > 1). It is kept to reproduce
// results computed with that rule. It panics if nodes < 1.
func HermiteQuadrature(d *activation.Activation, nodes int) Activation {
	if nodes < 1 {
		panic(fmt.Sprintf("theory: HermiteQuadrature(%q): need nodes >= 1 (got %d)", d.Name, nodes))
	}
	return quadratureOf(d, nodes)
}

// quadratureOf returns d with its expectations by quadrature: a fixed
// Gauss-Hermite rule of the given nodes per axis, or when nodes = 0 the
// strip rule for d.Strip. d.PhiDPhi, when given, lets one evaluation serve
// both T and Tdot, and d.Odd folds the outer sum.
func quadratureOf(d *activation.Activation, nodes int) *Quadrature {
	var q *Quadrature
	if nodes > 0 || !(d.Strip > 0) {
		if nodes <= 0 {
			nodes = DefaultQuadratureNodes
		}
		q = newQuadrature(d.Name, d.Phi, d.DPhi, nodes)
	} else {
		q = newStripQuadrature(d.Name, d.Phi, d.DPhi, d.Strip)
	}
	q.both = d.PhiDPhi
	q.odd = d.Odd
	return q
}

// expectBoth returns T and Tdot from one pass over the nodes, with the same
// special cases as expect. It requires q.both.
func (q *Quadrature) expectBoth(k11, k12, k22 float64) (t, td float64) {
	if math.IsNaN(k11) || math.IsNaN(k12) || math.IsNaN(k22) {
		return math.NaN(), math.NaN()
	}
	k11, k12, k22 = activation.ClampCov(k11, k12, k22)
	if k11 == 0 || k22 == 0 {
		return q.T(k11, k12, k22), q.Tdot(k11, k12, k22)
	}
	if k22 > k11 {
		k11, k22 = k22, k11 // as in expect
	}
	r := q.rule(k11, k22)
	// For odd phi, the summand of the outer sum is even in z_i for both T
	// (phi odd) and Tdot (phi' even), so the folded rule halves the work.
	zo, wo := r.z, r.w
	if q.odd {
		zo, wo = r.zh, r.wh
	}
	a := math.Sqrt(k11)
	b := k12 / a
	c2 := (k11*k22 - k12*k12) / k11
	if c2 <= 0 {
		for i, zi := range zo {
			fu, du := q.both(a * zi)
			fv, dv := q.both(b * zi)
			t += wo[i] * fu * fv
			td += wo[i] * du * dv
		}
		return t, td
	}
	c := math.Sqrt(c2)
	z, w := r.z, r.w
	for i, zi := range zo {
		bz := b * zi
		var it, id float64
		for j, zj := range z {
			fv, dv := q.both(bz + c*zj)
			it += w[j] * fv
			id += w[j] * dv
		}
		fu, du := q.both(a * zi)
		t += wo[i] * fu * it
		td += wo[i] * du * id
	}
	return t, td
}

// quadratureNodes is the Gauss-Hermite node count ActivationOf uses for
// activations without closed forms (tanh); zero, the default, selects the
// strip rule. Tests set it to inject a coarse rule.
var quadratureNodes = 0
