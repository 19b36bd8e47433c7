// Package theory computes the infinite-width theory of the networks described
// by a spec.Spec: the NNGP and NTK kernels, the mean-field fixed points and
// depth scales, and the predictions of gradient descent. It is pure gonum,
// float64 throughout.
package theory

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/gonum/integrate/quad"
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

// DefaultQuadratureNodes is the number of Gauss-Hermite nodes per axis used
// for activations without a closed form (tanh): with 61 nodes the
// expectations of tanh are accurate to about 1e-10 for variances up to a few.
const DefaultQuadratureNodes = 61

// ActivationByName returns erf, relu (closed forms) or tanh (Gauss-Hermite quadrature).
func ActivationByName(name string) (Activation, error) {
	switch name {
	case "erf":
		return Erf{}, nil
	case "relu":
		return ReLU{}, nil
	case "tanh":
		return newTanh(tanhNodes), nil
	}
	return nil, fmt.Errorf("theory: unknown activation %q (want one of %s)", name, strings.Join([]string{"erf", "relu", "tanh"}, ", "))
}

// clampCov returns the covariance with negative variances set to zero and
// |k12| limited to sqrt(k11 k22), so rounding cannot make it indefinite.
func clampCov(k11, k12, k22 float64) (float64, float64, float64) {
	if k11 < 0 {
		k11 = 0
	}
	if k22 < 0 {
		k22 = 0
	}
	if m := math.Sqrt(k11 * k22); k12 > m {
		k12 = m
	} else if k12 < -m {
		k12 = -m
	}
	return k11, k12, k22
}

// Erf is phi(x) = erf(x), with the closed forms (Williams 1997)
//
//	T    = (2/pi) asin(2 k12 / sqrt((1+2 k11)(1+2 k22)))
//	Tdot = (4/pi) / sqrt((1+2 k11)(1+2 k22) - 4 k12^2).
type Erf struct{}

// Name returns "erf".
func (Erf) Name() string { return "erf" }

// Phi returns erf(x).
func (Erf) Phi(x float64) float64 { return math.Erf(x) }

// DPhi returns erf'(x) = (2/sqrt(pi)) exp(-x^2).
func (Erf) DPhi(x float64) float64 { return 2 / math.SqrtPi * math.Exp(-x*x) }

// T returns E[erf(u) erf(v)].
func (Erf) T(k11, k12, k22 float64) float64 {
	k11, k12, k22 = clampCov(k11, k12, k22)
	r := 2 * k12 / math.Sqrt((1+2*k11)*(1+2*k22))
	return 2 / math.Pi * math.Asin(clamp1(r))
}

// Tdot returns E[erf'(u) erf'(v)]. The determinant is evaluated as
// 1 + 2(k11+k22) + 4(k11 k22 - k12^2), which is at least 1 for any positive
// semi-definite covariance, so Tdot is finite even at correlation +-1.
func (Erf) Tdot(k11, k12, k22 float64) float64 {
	k11, k12, k22 = clampCov(k11, k12, k22)
	det := 1 + 2*(k11+k22) + 4*math.Max(0, k11*k22-k12*k12)
	return 4 / math.Pi / math.Sqrt(det)
}

// ReLU is phi(x) = max(x, 0), with the arc-cosine closed forms (Cho and Saul
// 2009): with cos theta = k12 / sqrt(k11 k22),
//
//	T    = sqrt(k11 k22)/(2 pi) (sin theta + (pi - theta) cos theta)
//	     = (sqrt(k11 k22 - k12^2) + (pi - theta) k12) / (2 pi)
//	Tdot = (pi - theta) / (2 pi).
//
// At zero variance T = 0; Tdot takes the limit along cos theta = 0 (one
// variance zero: 1/4) or cos theta = 1 (both zero: 1/2).
type ReLU struct{}

// Name returns "relu".
func (ReLU) Name() string { return "relu" }

// Phi returns max(x, 0).
func (ReLU) Phi(x float64) float64 { return math.Max(x, 0) }

// DPhi returns the step function 1[x > 0].
func (ReLU) DPhi(x float64) float64 {
	if x > 0 {
		return 1
	}
	return 0
}

// T returns E[relu(u) relu(v)].
func (ReLU) T(k11, k12, k22 float64) float64 {
	k11, k12, k22 = clampCov(k11, k12, k22)
	p := k11 * k22
	if p == 0 {
		return 0
	}
	// theta from atan2 keeps sin theta and theta consistent near c = +-1,
	// where acos is ill-conditioned.
	sn := math.Sqrt(math.Max(0, p-k12*k12))
	theta := math.Atan2(sn, k12)
	return (sn + (math.Pi-theta)*k12) / (2 * math.Pi)
}

// Tdot returns E[relu'(u) relu'(v)] = P(u > 0, v > 0).
func (ReLU) Tdot(k11, k12, k22 float64) float64 {
	k11, k12, k22 = clampCov(k11, k12, k22)
	p := k11 * k22
	var c float64
	switch {
	case k11 == 0 && k22 == 0:
		c = 1
	case p == 0:
		c = 0
	default:
		return (math.Pi - math.Atan2(math.Sqrt(math.Max(0, p-k12*k12)), k12)) / (2 * math.Pi)
	}
	return (math.Pi - math.Acos(c)) / (2 * math.Pi)
}

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
// Gauss-Hermite quadrature. With the Cholesky factor of the covariance,
// u = a z1, v = b z1 + c z2 with a = sqrt(k11), b = k12/a,
// c = sqrt(k22 - b^2) and z ~ N(0, I), so
//
//	E[f(u) g(v)] = sum_i w_i f(a z_i) sum_j w_j g(b z_i + c z_j)
//
// with the nodes z_i = sqrt(2) x_i and weights w_i = omega_i/sqrt(pi) of the
// Gauss-Hermite rule (x_i, omega_i) for the weight exp(-x^2). At correlation
// +-1 (c = 0) the double sum is replaced by the 1-D sum
// sum_i w_i f(a z_i) g(b z_i); at zero variance by a 1-D sum times f(0) or
// g(0). The rule is exact for polynomials of degree < 2n in each variable;
// for smooth phi the error decays quickly with the number of nodes n.
type Quadrature struct {
	name      string
	phi, dphi func(float64) float64
	both      func(float64) (float64, float64) // optional: phi and phi' from one evaluation
	z, w      []float64
}

// NewQuadrature returns an activation computed by 2-D Gauss-Hermite quadrature with the
// given nodes per axis (any elementwise phi with derivative dphi).
// It panics if nodes < 1 or phi or dphi is nil.
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
	return &Quadrature{name: name, phi: phi, dphi: dphi, z: x, w: w}
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
	k11, k12, k22 = clampCov(k11, k12, k22)
	switch {
	case k11 == 0 && k22 == 0:
		return f(0) * g(0)
	case k11 == 0:
		return f(0) * q.mean1(g, math.Sqrt(k22))
	case k22 == 0:
		return g(0) * q.mean1(f, math.Sqrt(k11))
	}
	a := math.Sqrt(k11)
	b := k12 / a
	c2 := (k11*k22 - k12*k12) / k11
	var s float64
	if c2 <= 0 {
		for i, zi := range q.z {
			s += q.w[i] * f(a*zi) * g(b*zi)
		}
		return s
	}
	c := math.Sqrt(c2)
	for i, zi := range q.z {
		bz := b * zi
		var inner float64
		for j, zj := range q.z {
			inner += q.w[j] * g(bz+c*zj)
		}
		s += q.w[i] * f(a*zi) * inner
	}
	return s
}

// mean1 returns E[f(s z)] for z ~ N(0, 1).
func (q *Quadrature) mean1(f func(float64) float64, s float64) float64 {
	var m float64
	for i, zi := range q.z {
		m += q.w[i] * f(s*zi)
	}
	return m
}

// newTanh returns tanh with its expectations by Gauss-Hermite quadrature.
// tanh' = 1 - tanh^2 lets one evaluation serve both T and Tdot.
func newTanh(nodes int) *Quadrature {
	q := newQuadrature("tanh", math.Tanh, func(x float64) float64 {
		t := math.Tanh(x)
		return 1 - t*t
	}, nodes)
	q.both = func(x float64) (float64, float64) {
		t := math.Tanh(x)
		return t, 1 - t*t
	}
	return q
}

// expectBoth returns T and Tdot from one pass over the nodes, with the same
// special cases as expect. It requires q.both.
func (q *Quadrature) expectBoth(k11, k12, k22 float64) (t, td float64) {
	if math.IsNaN(k11) || math.IsNaN(k12) || math.IsNaN(k22) {
		return math.NaN(), math.NaN()
	}
	k11, k12, k22 = clampCov(k11, k12, k22)
	if k11 == 0 || k22 == 0 {
		return q.T(k11, k12, k22), q.Tdot(k11, k12, k22)
	}
	a := math.Sqrt(k11)
	b := k12 / a
	c2 := (k11*k22 - k12*k12) / k11
	if c2 <= 0 {
		for i, zi := range q.z {
			fu, du := q.both(a * zi)
			fv, dv := q.both(b * zi)
			t += q.w[i] * fu * fv
			td += q.w[i] * du * dv
		}
		return t, td
	}
	c := math.Sqrt(c2)
	for i, zi := range q.z {
		bz := b * zi
		var it, id float64
		for j, zj := range q.z {
			fv, dv := q.both(bz + c*zj)
			it += q.w[j] * fv
			id += q.w[j] * dv
		}
		fu, du := q.both(a * zi)
		t += q.w[i] * fu * it
		td += q.w[i] * du * id
	}
	return t, td
}

// tanhNodes is the node count ActivationByName uses for tanh.
var tanhNodes = DefaultQuadratureNodes
