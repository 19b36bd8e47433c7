package theory

import (
	"math"
	"testing"
)

// The asymptotes are checked against the FCN recursion for erf inputs whose
// variance sits at q*, iterated here independently of the package's kernel
// code. For such inputs only the correlation of each pair evolves. Near
// c = 1 the closed forms lose digits (asin near 1), so the pair state is
// eps = 1 - c and the gap Theta_11 - Theta_12, with every difference of
// nearly equal quantities rewritten without cancellation.

// erfQStarIter finds q* by iterating the erf variance map (its slope at q*
// is well below 1 for these variances, so 2000 steps reach float64
// precision).
func erfQStarIter(sw2, sb2 float64) float64 {
	q := 1.0
	for i := 0; i < 2000; i++ {
		q = sw2*2/math.Pi*math.Asin(2*q/(1+2*q)) + sb2
	}
	return q
}

// erfPair iterates one pair of inputs with K_11 = K_22 = q (a fixed point of
// the variance map) and correlation 1 - eps.
type erfPair struct {
	sw2, q     float64
	eps        float64 // 1 - c
	diag, gap  float64 // Theta_11, Theta_11 - Theta_12
	chi1, x1   float64
	theta12Off float64 // Theta_12
}

func newErfPair(sw2, q, c float64) *erfPair {
	p := &erfPair{sw2: sw2, q: q, eps: 1 - c}
	p.x1 = 2 * q / (1 + 2*q)
	p.chi1 = sw2 * 4 / math.Pi / math.Sqrt(1+4*q)
	// Layer 1: Theta^1 = K^1.
	p.diag, p.gap = q, q*p.eps
	return p
}

// step applies one layer. With x1 = 2q/(1+2q) and b = x1 (1 - eps):
//
//	1 - c' = (sw2/q)(T(q,q,q) - T(q,qc,q)) = (sw2/q)(2/pi)(asin x1 - asin b),
//	asin a - asin b = asin((a^2 - b^2)/(a sqrt(1-b^2) + b sqrt(1-a^2))),
//	chi_1 - chi_c = sw2 (4/pi) (A - B)/(sqrt(A B)(sqrt A + sqrt B)),
//
// with B = 1 + 4q, A = (1 + 2q eps)(1 + 4q - 2q eps) = B + 4 q^2 eps (2 - eps).
// Theta_11' = q + chi_1 Theta_11 and
// gap' = q eps' + chi_1 gap + (chi_1 - chi_c) Theta_12.
func (p *erfPair) step() {
	q, e, a := p.q, p.eps, p.x1
	b := a * (1 - e)
	num := a * a * e * (2 - e)
	den := a*math.Sqrt(1-b*b) + b*math.Sqrt(1-a*a)
	epsNext := p.sw2 / q * 2 / math.Pi * math.Asin(num/den)
	B := 1 + 4*q
	A := B + 4*q*q*e*(2-e)
	dchi := p.sw2 * 4 / math.Pi * (A - B) / (math.Sqrt(A*B) * (math.Sqrt(A) + math.Sqrt(B)))
	theta12 := p.diag - p.gap
	p.gap = q*epsNext + p.chi1*p.gap + dchi*theta12
	p.diag = q + p.chi1*p.diag
	p.eps = epsNext
}

func (p *erfPair) offDiag() float64 { return p.diag - p.gap }

func TestNTKDiagonalExact(t *testing.T) {
	erf := mustAct(t, "erf")
	for _, tt := range []struct{ sw2, sb2 float64 }{{1, 0.05}, {1.8, 0.1}, {2.8, 0.2}} {
		m, err := SolveMeanField(erf, tt.sw2, tt.sb2)
		if err != nil {
			t.Fatal(err)
		}
		p := newErfPair(tt.sw2, erfQStarIter(tt.sw2, tt.sb2), 0.5)
		for l := 1; l <= 60; l++ {
			// Relative 1e-12: both sides are sums of l positive terms
			// computed in float64 from q*, chi_1 accurate to ~1e-15.
			if got := m.NTKDiagonal(l); relErr(got, p.diag) > 1e-12 {
				t.Errorf("erf sw2=%v l=%d: NTKDiagonal %v, recursion %v", tt.sw2, l, got, p.diag)
			}
			p.step()
		}
	}
}

// secondDiffRatio returns |s(l+1) - 2 s(l) + s(l-1)| / |s(l+1) - s(l)|,
// which tends to 0 exactly when s is asymptotically linear in l.
func secondDiffRatio(s []float64, l int) float64 {
	return math.Abs(s[l+1]-2*s[l]+s[l-1]) / math.Abs(s[l+1]-s[l])
}

func TestOrderedAsymptotes(t *testing.T) {
	const sw2, sb2, L = 1.0, 0.05, 150
	m, err := SolveMeanField(mustAct(t, "erf"), sw2, sb2)
	if err != nil || m.Phase != Ordered {
		t.Fatal(m, err)
	}
	p := newErfPair(sw2, erfQStarIter(sw2, sb2), 0.3)
	gapScaled := make([]float64, L+2) // gap / chi_1^l
	for l := 1; l <= L+1; l++ {
		gapScaled[l] = p.gap / math.Pow(p.chi1, float64(l))
		if l == L {
			// Entries approach p* like l chi_1^l ~ 1e-7 here.
			if relErr(p.diag, m.PStar()) > 1e-6 || relErr(p.offDiag(), m.PStar()) > 1e-6 {
				t.Errorf("Theta^%d = [%v, %v], want both near p* = %v", l, p.diag, p.offDiag(), m.PStar())
			}
			if relErr(p.diag+p.offDiag(), m.LambdaMax(2, l)) > 1e-6 {
				t.Errorf("lambda_max %v, asymptote %v", p.diag+p.offDiag(), m.LambdaMax(2, l))
			}
		}
		p.step()
	}
	// gap = C (l + D) chi_1^l: gap/chi_1^l is linear in l, up to corrections
	// of relative size chi_1^l ~ 1e-9 at l = 150 (measured ratio 4e-7; a
	// rate 1% off gives 1.3e-2).
	if r := secondDiffRatio(gapScaled, L); r > 1e-4 {
		t.Errorf("gap/chi_1^l not linear in l: second/first difference %g", r)
	}
	// So kappa * l chi_1^l tends to a constant: the ratio to the asymptote
	// changes by O(1/l^2) per layer.
	k := func(l int) float64 {
		g := gapScaled[l] * math.Pow(p.chi1, float64(l))
		return (2*m.PStar() - g) / g / m.KappaAsymptote(2, l)
	}
	if d := math.Abs(k(L)/k(L-1) - 1); d > 1e-3 {
		t.Errorf("kappa / asymptote drifts by %g per layer at l = %d", d, L)
	}
}

func TestChaoticAsymptotes(t *testing.T) {
	const sw2, sb2 = 1.8, 0.1
	m, err := SolveMeanField(mustAct(t, "erf"), sw2, sb2)
	if err != nil || m.Phase != Chaotic {
		t.Fatal(m, err)
	}
	q := erfQStarIter(sw2, sb2)
	// Three inputs at variance q with pairwise correlations c12, c13, c23;
	// train on {1, 2}, test on 3. Each pair evolves on its own, through the
	// plain closed forms (correlations stay near c* ~ 0.78, far from 1).
	T := func(c float64) float64 { return 2 / math.Pi * math.Asin(2*q*c/(1+2*q)) }
	Td := func(c float64) float64 { return 4 / math.Pi / math.Sqrt((1+2*q)*(1+2*q)-4*q*q*c*c) }
	c := []float64{0.9, 0.2, 0.5} // c12, c13, c23
	th := []float64{q * c[0], q * c[1], q * c[2]}
	diag := q
	const L, Ldeep = 200, 800
	pred := make([]float64, L+2) // P_l / (chi_c*/chi_1)^l
	for l := 1; l <= Ldeep; l++ {
		// y = (1, -1) on the training pair: Theta^-1 y = y/(Theta_11 - Theta_12),
		// so the test prediction is (Theta_31 - Theta_32)/(Theta_11 - Theta_12).
		if l <= L+1 {
			pl := (th[1] - th[2]) / (diag - th[0])
			pred[l] = pl / math.Pow(m.ChiCStar/m.Chi1, float64(l))
		}
		if l == L {
			// kappa - 1 ~ 2 o_l / d_l ~ 1e-5; the asymptote's error is the
			// off-diagonal's, l chi_c*^l ~ 2e-3 relative, times that.
			kappa := (diag + th[0]) / (diag - th[0])
			if relErr(kappa, m.KappaAsymptote(2, l)) > 1e-7 {
				t.Errorf("kappa %v, asymptote %v", kappa, m.KappaAsymptote(2, l))
			}
		}
		if l == Ldeep {
			// The off-diagonal approaches its limit like l chi_c*^l ~ 1e-17
			// at l = 800, so only round-off (~1e-14 relative) remains.
			o := m.NTKOffDiagonal(l)
			for i := range th {
				if relErr(th[i], o) > 1e-11 {
					t.Errorf("Theta_off[%d]^%d = %v, want %v", i, l, th[i], o)
				}
			}
			// Relative 1e-10: chi_1^800 ~ 1e23 amplifies the ~1e-15 error of
			// chi_1 by l = 800.
			if relErr(diag, m.NTKDiagonal(l)) > 1e-10 {
				t.Errorf("diag %v, want %v", diag, m.NTKDiagonal(l))
			}
		}
		for i := range c {
			cn := (sw2*T(c[i]) + sb2) / q
			th[i] = q*cn + sw2*Td(c[i])*th[i]
			c[i] = cn
		}
		diag = q + sw2*Td(1)*diag
	}
	// P_l = C (l + D) (chi_c*/chi_1)^l up to relative O(chi_c*^l) ~ 1e-5
	// (measured ratio 1.7e-5; a rate 1% off gives ~1e-2).
	if r := secondDiffRatio(pred, L); r > 1e-3 {
		t.Errorf("prediction / (chi_c*/chi_1)^l not linear in l: second/first difference %g", r)
	}
	if got, want := m.PredictorDecay(L), float64(L)*math.Pow(m.ChiCStar/m.Chi1, L); relErr(got, want) > 1e-12 {
		t.Errorf("PredictorDecay(%d) = %v, want %v", L, got, want)
	}
}

func TestCriticalAsymptotes(t *testing.T) {
	// Reference critical point (testdata/meanfield.json): erf, sb2 = 0.1.
	const sw2, sb2 = 1.5521178553336425, 0.1
	m, err := SolveMeanField(mustAct(t, "erf"), sw2, sb2)
	if err != nil || m.Phase != Critical {
		t.Fatal(m, err)
	}
	p := newErfPair(sw2, erfQStarIter(sw2, sb2), 0.5)
	const L = 100000
	prevErr := 0.0
	for l := 1; l <= L; l++ {
		if l == L/10 || l == L {
			off := p.offDiag()
			e := relErr(off, m.NTKOffDiagonal(l))
			// Theta_12 = l q*/3 (1 + O(log l / l)): measured 9.5e-4 at
			// l = 1e4 and 1.5e-4 at 1e5; require 2e-3 and a decrease.
			if e > 2e-3 || (prevErr > 0 && e > prevErr/3) {
				t.Errorf("l=%d: Theta_12 = %v, asymptote %v (rel err %g, previous %g)", l, off, m.NTKOffDiagonal(l), e, prevErr)
			}
			prevErr = e
			// The diagonal is l q* up to (chi_1 - 1) l^2 ~ 1e-5 relative.
			if relErr(p.diag, m.NTKDiagonal(l)) > 1e-8 {
				t.Errorf("l=%d: Theta_11 = %v, want %v", l, p.diag, m.NTKDiagonal(l))
			}
			kappa := (p.diag + off) / (p.diag - off)
			if math.Abs(kappa-m.KappaAsymptote(2, l)) > 5e-3 {
				t.Errorf("l=%d: kappa %v, asymptote %v", l, kappa, m.KappaAsymptote(2, l))
			}
		}
		p.step()
	}
	if !math.IsNaN(m.PredictorDecay(10)) {
		t.Errorf("critical PredictorDecay = %v, want NaN (not derived)", m.PredictorDecay(10))
	}
}
