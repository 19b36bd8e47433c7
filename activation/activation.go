// Package activation describes each elementwise nonlinearity phi once, for
// both the finite networks and the infinite-width theory, in the manner of a
// Neural Tangents stax layer: one value holds
//
//   - Name, the spec.Spec activation name (spec.Erf, spec.ReLU, spec.Tanh);
//
//   - Phi and DPhi, phi(x) and phi'(x), with optional slice forms Forward and
//     Chain that the networks' elementwise layers run (out = phi(x) and
//     out = g phi'(x), the chain rule of backpropagation);
//
//   - T and Tdot, the Gaussian expectations of the kernel recursions, for
//     (u, v) ~ N(0, [[k11, k12], [k12, k22]]):
//
//     T(k11, k12, k22)    = E[phi(u) phi(v)]
//     Tdot(k11, k12, k22) = E[phi'(u) phi'(v)]
//
//     in closed form when one exists, or nil, meaning that package theory
//     integrates Phi and DPhi by 2-D quadrature; Odd and Strip describe phi
//     to that quadrature.
//
// A new activation is added here (and its name to spec.Acts) and nowhere
// else. The package is pure Go: no Gorgonia and no gonum.
package activation

import (
	"fmt"
	"math"
	"strings"

	"github.com/ntkharness/ntkharness/spec"
)

// Activation is the description of one nonlinearity. The registry's values
// (Erf, ReLU, Tanh) must not be modified.
//
// Closed forms accept any positive semi-definite covariance, including the
// degenerate ones: zero variances and correlations of exactly +-1
// (k12^2 = k11 k22); a correlation slightly beyond +-1 from rounding is
// clamped to +-1 and negative variances are treated as zero (ClampCov).
type Activation struct {
	// Name is the activation's name in a spec.Spec.
	Name string
	// Phi and DPhi return phi(x) and phi'(x).
	Phi, DPhi func(x float64) float64

	// PhiDPhi, optional, returns phi(x) and phi'(x) from one evaluation of
	// phi; quadrature then needs one evaluation per node for T and Tdot.
	PhiDPhi func(x float64) (phi, dphi float64)
	// Odd reports phi(-x) = -phi(x) for all x, which lets quadrature fold
	// its sums onto z >= 0.
	Odd bool
	// Strip, when positive, is the half-width of a strip |Im x| < Strip
	// around the real axis in which phi is analytic and bounded (tanh:
	// pi/2); the trapezoidal quadrature rule chooses its step from it.
	Strip float64

	// T and Tdot are the closed forms of E[phi(u) phi(v)] and
	// E[phi'(u) phi'(v)]; both nil means "use quadrature".
	T, Tdot func(k11, k12, k22 float64) float64

	// Forward, optional, sets out[i] = phi(x[i]); nil means a loop over Phi.
	Forward func(out, x []float64)
	// Chain, optional, sets out[i] = g[i] phi'(x[i]), reading v = x, or
	// v = y = phi(x) when ChainFromOutput is set (tanh: phi' = 1 - y^2, which
	// spares a second evaluation of tanh); nil means out[i] = g[i] DPhi(x[i]).
	Chain           func(out, v, g []float64)
	ChainFromOutput bool

	// forward32 and chain32, optional, are Forward and Chain in float32
	// arithmetic (see Forward32 and Chain32).
	forward32 func(out, x []float32)
	chain32   func(out, v, g []float32)
}

// HasClosedForm reports whether T and Tdot are given in closed form.
func (a *Activation) HasClosedForm() bool { return a.T != nil && a.Tdot != nil }

// registry lists the built-in activations in the order of spec.Acts.
var registry = []*Activation{Erf, ReLU, Tanh}

// All returns the built-in activations, in the order of spec.Acts.
func All() []*Activation { return append([]*Activation(nil), registry...) }

// Lookup returns the built-in activation named name (a spec.Acts entry).
func Lookup(name string) (*Activation, error) {
	for _, a := range registry {
		if a.Name == name {
			return a, nil
		}
	}
	names := make([]string, len(registry))
	for i, a := range registry {
		names[i] = a.Name
	}
	return nil, fmt.Errorf("unknown activation %q (want one of %s)", name, strings.Join(names, ", "))
}

// ClampCov returns the covariance with negative variances set to zero and
// |k12| limited to sqrt(k11 k22), so rounding cannot make it indefinite.
func ClampCov(k11, k12, k22 float64) (float64, float64, float64) {
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

func clamp1(r float64) float64 {
	if r > 1 {
		return 1
	}
	if r < -1 {
		return -1
	}
	return r
}

// twoOverSqrtPi is erf'(0) = 2/sqrt(pi).
const twoOverSqrtPi = 1.1283791670955126

// Erf is phi(x) = erf(x) = (2/sqrt(pi)) int_0^x exp(-t^2) dt, with
// phi'(x) = (2/sqrt(pi)) exp(-x^2) and the closed forms (Williams 1997)
//
//	T    = (2/pi) asin(2 k12 / sqrt((1+2 k11)(1+2 k22)))
//	Tdot = (4/pi) / sqrt((1+2 k11)(1+2 k22) - 4 k12^2).
//
// The determinant in Tdot is evaluated as 1 + 2(k11+k22) + 4(k11 k22 - k12^2),
// which is at least 1 for any positive semi-definite covariance, so Tdot is
// finite even at correlation +-1.
var Erf = &Activation{
	Name: spec.Erf,
	Phi:  erf,
	DPhi: func(x float64) float64 { return twoOverSqrtPi * exp(-x*x) },
	Odd:  true,
	T: func(k11, k12, k22 float64) float64 {
		k11, k12, k22 = ClampCov(k11, k12, k22)
		r := 2 * k12 / math.Sqrt((1+2*k11)*(1+2*k22))
		return 2 / math.Pi * math.Asin(clamp1(r))
	},
	Tdot: func(k11, k12, k22 float64) float64 {
		k11, k12, k22 = ClampCov(k11, k12, k22)
		det := 1 + 2*(k11+k22) + 4*math.Max(0, k11*k22-k12*k12)
		return 4 / math.Pi / math.Sqrt(det)
	},
	Forward: func(out, x []float64) {
		for i, v := range x {
			out[i] = erf(v)
		}
	},
	Chain: func(out, x, g []float64) {
		for i := range out {
			out[i] = g[i] * twoOverSqrtPi * exp(-x[i]*x[i])
		}
	},
	forward32: erfForward32,
	chain32:   erfChain32,
}

// ReLU is phi(x) = max(x, 0), with phi'(x) = 1[x > 0] (0 at x = 0) and the
// arc-cosine closed forms (Cho and Saul 2009): with
// cos theta = k12 / sqrt(k11 k22),
//
//	T    = sqrt(k11 k22)/(2 pi) (sin theta + (pi - theta) cos theta)
//	     = (sqrt(k11 k22 - k12^2) + (pi - theta) k12) / (2 pi)
//	Tdot = (pi - theta) / (2 pi) = P(u > 0, v > 0).
//
// At zero variance T = 0; Tdot takes the limit along cos theta = 0 (one
// variance zero: 1/4) or cos theta = 1 (both zero: 1/2). The kink makes
// quadrature converge slowly (to about 1e-3), so the closed forms are the
// only route.
var ReLU = &Activation{
	Name: spec.ReLU,
	Phi:  func(x float64) float64 { return math.Max(x, 0) },
	DPhi: func(x float64) float64 {
		if x > 0 {
			return 1
		}
		return 0
	},
	T: func(k11, k12, k22 float64) float64 {
		k11, k12, k22 = ClampCov(k11, k12, k22)
		p := k11 * k22
		if p == 0 {
			return 0
		}
		// theta from atan2 keeps sin theta and theta consistent near
		// c = +-1, where acos is ill-conditioned.
		sn := math.Sqrt(math.Max(0, p-k12*k12))
		theta := math.Atan2(sn, k12)
		return (sn + (math.Pi-theta)*k12) / (2 * math.Pi)
	},
	Tdot: func(k11, k12, k22 float64) float64 {
		k11, k12, k22 = ClampCov(k11, k12, k22)
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
	},
	Forward: func(out, x []float64) {
		for i, v := range x {
			out[i] = max(v, 0)
		}
	},
	Chain: func(out, x, g []float64) {
		for i := range out {
			if x[i] > 0 {
				out[i] = g[i]
			} else {
				out[i] = 0
			}
		}
	},
	forward32: reluForward32,
	chain32:   reluChain32,
}

// Tanh is phi(x) = tanh(x), with phi'(x) = 1 - tanh(x)^2. T and Tdot have
// no closed form: package theory integrates them by quadrature. tanh is odd
// and analytic in the strip |Im x| < pi/2 (its poles are at i pi (k + 1/2)).
var Tanh = &Activation{
	Name: spec.Tanh,
	Phi:  math.Tanh,
	DPhi: func(x float64) float64 {
		t := math.Tanh(x)
		return 1 - t*t
	},
	PhiDPhi: func(x float64) (float64, float64) {
		t := math.Tanh(x)
		return t, 1 - t*t
	},
	Odd:   true,
	Strip: math.Pi / 2,
	Forward: func(out, x []float64) {
		for i, v := range x {
			out[i] = math.Tanh(v)
		}
	},
	Chain: func(out, y, g []float64) {
		for i := range out {
			out[i] = g[i] * (1 - y[i]*y[i])
		}
	},
	ChainFromOutput: true,
	forward32:       tanhForward32,
	chain32:         tanhChain32,
}
