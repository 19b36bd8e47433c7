package activation

import (
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/integrate/quad"

	"github.com/ntkharness/ntkharness/spec"
)

// points are the arguments at which phi and phi' are checked: both signs,
// small and large, away from 0 (relu's kink).
var points = []float64{-3.1, -1.7, -0.6, -0.05, 0.05, 0.3, 1.2, 2.8}

func TestRegistry(t *testing.T) {
	var names []string
	for _, a := range All() {
		names = append(names, a.Name)
		got, err := Lookup(a.Name)
		if err != nil || got != a {
			t.Errorf("Lookup(%q) = %v, %v; want the registry's description", a.Name, got, err)
		}
		if a.Phi == nil || a.DPhi == nil {
			t.Errorf("%s: Phi and DPhi are required", a.Name)
		}
		if (a.T == nil) != (a.Tdot == nil) {
			t.Errorf("%s: T and Tdot must be given together (closed forms) or both nil (quadrature)", a.Name)
		}
	}
	if !slices.Equal(names, spec.Acts) {
		t.Errorf("registry names %v, spec.Acts %v: every spec activation needs one description, in the same order", names, spec.Acts)
	}
	if _, err := Lookup("gelu"); err == nil {
		t.Error(`Lookup("gelu"): no error`)
	}
}

// TestDerivatives checks DPhi against a central difference of Phi (step
// 1e-5: truncation h^2 |phi^(3)|/6 < 1e-10 and rounding 1e-16/h = 1e-11 for
// these phi, so tolerance 1e-8), PhiDPhi and Forward against Phi and DPhi
// exactly, Chain against g DPhi to a few roundings (it may group the
// product differently), and Odd.
func TestDerivatives(t *testing.T) {
	const h = 1e-5
	for _, a := range All() {
		for _, x := range points {
			fd := (a.Phi(x+h) - a.Phi(x-h)) / (2 * h)
			if d := a.DPhi(x); math.Abs(d-fd) > 1e-8 {
				t.Errorf("%s: DPhi(%g) = %.12g, central difference %.12g", a.Name, x, d, fd)
			}
			if a.PhiDPhi != nil {
				if p, d := a.PhiDPhi(x); p != a.Phi(x) || d != a.DPhi(x) {
					t.Errorf("%s: PhiDPhi(%g) = %v, %v; Phi, DPhi = %v, %v", a.Name, x, p, d, a.Phi(x), a.DPhi(x))
				}
			}
			if a.Odd && a.Phi(-x) != -a.Phi(x) {
				t.Errorf("%s: odd, but Phi(%g) = %v, Phi(%g) = %v", a.Name, -x, a.Phi(-x), x, a.Phi(x))
			}
		}
		g := make([]float64, len(points))
		y := make([]float64, len(points))
		for i, x := range points {
			g[i] = float64(i) - 2.5
			y[i] = a.Phi(x)
		}
		if a.Forward != nil {
			out := make([]float64, len(points))
			a.Forward(out, points)
			if !slices.Equal(out, y) {
				t.Errorf("%s: Forward = %v, Phi = %v", a.Name, out, y)
			}
		}
		if a.Chain != nil {
			v := points
			if a.ChainFromOutput {
				v = y
			}
			out := make([]float64, len(points))
			a.Chain(out, v, g)
			for i, x := range points {
				if w := g[i] * a.DPhi(x); math.Abs(out[i]-w) > 4e-16*math.Abs(w) {
					t.Errorf("%s: Chain at x=%g, g=%g: %.17g, g DPhi = %.17g", a.Name, x, g[i], out[i], w)
				}
			}
		}
	}
}

// TestClosedFormsAgainstQuadrature checks every closed-form T and Tdot
// against E[phi(u) phi(v)] and E[phi'(u) phi'(v)] integrated numerically
// from Phi and DPhi alone. With u = a z1, v = b z1 + c z2 (the Cholesky
// factor of the covariance) and z in polar coordinates r (cos t, sin t),
//
//	E[f(u) g(v)] = (1/2 pi) int_0^2pi dt int_0^inf f(r p(t)) g(r q(t)) e^{-r^2/2} r dr
//
// with p = a cos t and q = b cos t + c sin t. A phi smooth except at 0
// (relu) then gives an integrand smooth in r and smooth in t between the
// angles where p or q vanish, so composite Gauss-Legendre on those pieces
// (and on r in [0, 12], beyond which the mass is 5e-32) converges to
// rounding (measured: 1e-15). Tolerance 1e-13.
func TestClosedFormsAgainstQuadrature(t *testing.T) {
	covs := [][3]float64{
		{1, 0.5, 1}, {0.3, -0.2, 2}, {2.5, 2.4, 2.5}, {4, 0, 0.5},
		{0.7, 0.7, 0.7}, {1, -2, 4}, // correlation +1 and -1
		{0.05, 0.01, 0.2},
	}
	for _, a := range All() {
		if !a.HasClosedForm() {
			continue
		}
		for _, c := range covs {
			wt := polarExpect(a.Phi, c)
			wd := polarExpect(a.DPhi, c)
			gt, gd := a.T(c[0], c[1], c[2]), a.Tdot(c[0], c[1], c[2])
			if math.Abs(gt-wt) > 1e-13*math.Max(1, math.Abs(wt)) {
				t.Errorf("%s: T%v = %.15g, quadrature %.15g", a.Name, c, gt, wt)
			}
			if math.Abs(gd-wd) > 1e-13*math.Max(1, math.Abs(wd)) {
				t.Errorf("%s: Tdot%v = %.15g, quadrature %.15g", a.Name, c, gd, wd)
			}
		}
	}
}

// polarExpect returns E[f(u) f(v)] for (u, v) ~ N(0, c) with c[0] > 0, by
// the polar composite Gauss-Legendre rule of TestClosedFormsAgainstQuadrature.
func polarExpect(f func(float64) float64, c [3]float64) float64 {
	const rMax, rPanels, tPanels, nodes = 12.0, 24, 8, 20
	a := math.Sqrt(c[0])
	b := c[1] / a
	cc := math.Sqrt(math.Max(0, (c[0]*c[2]-c[1]*c[1])/c[0])) // exactly 0 at correlation +-1
	// Break points in t: p = 0 at +-pi/2, q = 0 where tan t = -b/c.
	t0 := math.Atan2(-b, cc)
	breaks := []float64{-math.Pi / 2, math.Pi / 2, math.Mod(t0+2*math.Pi, 2*math.Pi) - math.Pi, math.Mod(t0+3*math.Pi, 2*math.Pi) - math.Pi, -math.Pi, math.Pi}
	slices.Sort(breaks)
	x := make([]float64, nodes)
	w := make([]float64, nodes)
	quad.Legendre{}.FixedLocations(x, w, -1, 1)
	// rz, rw: nodes and weights of int_0^rMax h(r) e^{-r^2/2} r dr.
	var rz, rw []float64
	for p := range rPanels {
		lo, hi := rMax*float64(p)/rPanels, rMax*float64(p+1)/rPanels
		for i := range x {
			r := lo + (hi-lo)*(x[i]+1)/2
			rz = append(rz, r)
			rw = append(rw, w[i]*(hi-lo)/2*math.Exp(-r*r/2)*r)
		}
	}
	var s float64
	for k := 1; k < len(breaks); k++ {
		lo, hi := breaks[k-1], breaks[k]
		if hi-lo < 1e-15 {
			continue
		}
		for p := range tPanels {
			plo, phi := lo+(hi-lo)*float64(p)/tPanels, lo+(hi-lo)*float64(p+1)/tPanels
			for i := range x {
				t := plo + (phi-plo)*(x[i]+1)/2
				pt, qt := a*math.Cos(t), b*math.Cos(t)+cc*math.Sin(t)
				var inner float64
				for j, r := range rz {
					inner += rw[j] * f(r*pt) * f(r*qt)
				}
				s += w[i] * (phi - plo) / 2 * inner
			}
		}
	}
	return s / (2 * math.Pi)
}
