package theory

import (
	"math"
	"sort"

	"gonum.org/v1/gonum/integrate/quad"
)

// This file is an independent integrator for the tanh expectations, written
// without the package's quadrature rules: composite Gauss-Legendre (40
// points per panel) on panels graded geometrically towards the point where
// the integrand turns over, the only place where its poles (tanh(s x) has
// them at x = i pi (k + 1/2) / s) come close to the real axis. A panel of
// width w at distance >= w from every pole sees a Bernstein ellipse of
// parameter >= 1 + sqrt(2), so 40 points reach rounding level.

var legX, legW = func() ([]float64, []float64) {
	x, w := make([]float64, 40), make([]float64, 40)
	quad.Legendre{}.FixedLocations(x, w, -1, 1)
	return x, w
}()

// hpPanels returns panel edges covering [-9, 9] (standard normal
// coordinates: the tail beyond is 2e-19), graded towards x0 down to width
// about w0 there.
func hpPanels(x0, w0 float64) []float64 {
	edges := []float64{-9, 9}
	for k := -8; k <= 8; k++ {
		edges = append(edges, float64(k))
	}
	if x0 > -9 && x0 < 9 {
		for d := 1.0; d >= w0/4; d /= 2 {
			for _, e := range []float64{x0 - d, x0 + d} {
				if e > -9 && e < 9 {
					edges = append(edges, e)
				}
			}
		}
		edges = append(edges, x0)
	}
	sort.Float64s(edges)
	out := edges[:1]
	for _, e := range edges[1:] {
		if e > out[len(out)-1] {
			out = append(out, e)
		}
	}
	return out
}

// hpGauss returns E[f(z)] for z ~ N(0, 1), graded towards x0 at scale w0.
func hpGauss(f func(float64) float64, x0, w0 float64) float64 {
	e := hpPanels(x0, w0)
	var s float64
	for i := 0; i+1 < len(e); i++ {
		a, b := e[i], e[i+1]
		m, h := (a+b)/2, (b-a)/2
		for k, x := range legX {
			z := m + h*x
			s += h * legW[k] * math.Exp(-z*z/2) * f(z)
		}
	}
	return s / math.Sqrt(2*math.Pi)
}

func hpSech2(x float64) float64 { c := math.Cosh(x); return 1 / (c * c) }

// hpExpect returns E[f(u) f(v)] for (u, v) ~ N(0, [[k11, k12], [k12, k22]])
// as an iterated integral in the Cholesky coordinates u = a z1,
// v = b z1 + c z2: the inner integral is graded towards z2 = -b z1 / c
// (where v = 0) at scale 1/c, the outer one towards z1 = 0 at the smallest
// scale of its integrand.
func hpExpect(f func(float64) float64, k11, k12, k22 float64) float64 {
	a := math.Sqrt(k11)
	b := k12 / a
	c := math.Sqrt(math.Max(0, k22-b*b))
	if c < 1e-12 {
		return hpGauss(func(z float64) float64 { return f(a*z) * f(b*z) }, 0, 1/math.Max(a, math.Abs(b)))
	}
	inner := func(z1 float64) float64 {
		return hpGauss(func(z2 float64) float64 { return f(b*z1 + c*z2) }, -b*z1/c, 1/c)
	}
	w := 1 / a
	if math.Abs(b) > 0 {
		w = math.Min(w, c/math.Abs(b))
	}
	return hpGauss(func(z1 float64) float64 { return f(a*z1) * inner(z1) }, 0, w)
}

// hpQStar returns the fixed point of q -> sw2 E[tanh(sqrt(q) z)^2] + sb2 by
// bisection (the map minus q is positive below the fixed point and negative
// above it).
func hpQStar(sw2, sb2 float64) float64 {
	g := func(q float64) float64 {
		s := math.Sqrt(q)
		return sw2*hpGauss(func(z float64) float64 { t := math.Tanh(s * z); return t * t }, 0, 1/s) + sb2 - q
	}
	lo, hi := sb2, sw2+sb2
	for range 200 {
		m := (lo + hi) / 2
		if m == lo || m == hi {
			break
		}
		if g(m) > 0 {
			lo = m
		} else {
			hi = m
		}
	}
	return (lo + hi) / 2
}

// hpChi returns sw2 E[tanh'(u) tanh'(v)] at variance q and correlation c.
func hpChi(sw2, q, c float64) float64 { return sw2 * hpExpect(hpSech2, q, c*q, q) }

// hpCStar returns the stable fixed point below 1 of the correlation map
// c -> (sw2 E[tanh(u) tanh(v)] + sb2)/q by the secant method from c0, a
// starting guess (it needs few 2-D integrals near the root).
func hpCStar(sw2, sb2, q, c0 float64) float64 {
	h := func(c float64) float64 { return (sw2*hpExpect(math.Tanh, q, c*q, q)+sb2)/q - c }
	x0, x1 := c0, c0+1e-4
	f0, f1 := h(x0), h(x1)
	for range 30 {
		if f1 == f0 {
			break
		}
		x2 := x1 - f1*(x1-x0)/(f1-f0)
		x0, f0 = x1, f1
		x1, f1 = x2, h(x2)
		if math.Abs(x1-x0) < 1e-15 {
			break
		}
	}
	return x1
}
