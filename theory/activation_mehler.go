package theory

import (
	"math"
	"runtime"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/linalg"
)

// Mehler series of a quadrature activation.
//
// With He_k the probabilists' Hermite polynomials and psi_k = He_k/sqrt(k!),
// an orthonormal basis of L2(N(0, 1)), Mehler's formula
// E[psi_j(z1) psi_k(z2)] = delta_jk c^k for standard normals of correlation
// c gives, for u = sqrt(q1) z1, v = sqrt(q2) z2,
//
//	T(q1, c sqrt(q1 q2), q2)    = sum_k c^k a_k(q1) a_k(q2),  a_k(q) = E[phi(sqrt(q) z) psi_k(z)]
//	Tdot(q1, c sqrt(q1 q2), q2) = sum_k c^k b_k(q1) b_k(q2),  b_k(q) = E[phi'(sqrt(q) z) psi_k(z)]
//
// so one coefficient vector per input and layer replaces the 2-D quadrature
// of every pair. Truncated after K terms, the error at any |c| <= 1 is, by
// Cauchy-Schwarz and Parseval (sum_k a_k(q)^2 = E[phi(sqrt(q) z)^2]),
//
//	|T - T_K| <= sqrt(R(q1) R(q2)),  R(q) = E[phi(sqrt(q) z)^2] - sum_{k<K} a_k(q)^2,
//
// and likewise for Tdot with phi'. The tails R are computed with the
// coefficients, so the bound is checked for every input: a layer uses the
// series only when R(q) <= mehlerTol E[phi^2] (and the same for phi') for
// all its variances, which bounds the error by mehlerTol relative to
// sqrt(T(q1,q1,q1) T(q2,q2,q2)) (plus rounding, about K eps). The
// coefficients of phi analytic in |Im x| < d decay like exp(-(d/sqrt(q))
// sqrt(2k)), so K grows like q: for tanh (odd k in T, even k in Tdot) each
// series takes about 32 terms at q = 0.42, 68 at q = 1, 184 at q = 2.8 and
// 920 at q = 14 (rounded-up variances, see mehlerBasisFor); a layer that
// needs K > mehlerMaxTerms (q above about 15) falls back to the tables.
//
// The coefficients are integrals of phi(sqrt(q) z) psi_k(z) against the
// normal density by the trapezoidal rule on [-mehlerRange, mehlerRange]
// (psi_k(z) exp(-z^2/4) is bounded by 1.09 pi^(-1/4) (Cramer), so for
// |phi| <= 1 the truncated tail is below 1e-19) with the step of the strip rule, refined
// to resolve the oscillation of psi_K (wavenumber up to sqrt(K)).
const (
	mehlerTol      = 1e-12
	mehlerMaxTerms = 2048
	mehlerRange    = 13.0
)

// mehlerBasis holds the rule and the Hermite functions at its nodes for
// series of nt terms each (nt a multiple of 4, zero-padded).
type mehlerBasis struct {
	q      *Quadrature
	z, w   []float64  // trapezoidal nodes and normal weights (z >= 0 when folded)
	pa, pb *mat.Dense // nt x len(z): psi_k at the nodes for the terms of T and of Tdot
	nt     int
}

// newMehlerBasis returns the basis for variances up to vmax and the first k
// Hermite functions. The step is the strip rule's at vmax, at most
// pi / (2 sqrt(k) + 8) to resolve psi_k (wavenumber below sqrt(k)). For
// odd phi, phi psi_k (k odd) and phi' psi_k (k even) are even in z, so the
// rule folds onto z >= 0 and T takes the odd k, Tdot the even k.
func (q *Quadrature) newMehlerBasis(vmax float64, k int) *mehlerBasis {
	h := math.Min(stripMaxStep, 2*math.Pi*q.strip/(stripExponent*math.Sqrt(vmax)))
	h = math.Min(h, math.Pi/(2*math.Sqrt(float64(k))+8))
	m := int(math.Ceil(mehlerRange / h))
	h = mehlerRange / float64(m)
	mb := &mehlerBasis{q: q}
	lo := -m
	if q.odd {
		lo = 0
	}
	for i := lo; i <= m; i++ {
		zi := float64(i) * h
		wi := h / math.Sqrt(2*math.Pi) * math.Exp(-zi*zi/2)
		if q.odd && i > 0 {
			wi *= 2
		}
		mb.z = append(mb.z, zi)
		mb.w = append(mb.w, wi)
	}
	nz := len(mb.z)
	if q.odd {
		mb.nt = (k + 1) / 2
	} else {
		mb.nt = k
	}
	mb.nt = (mb.nt + 3) &^ 3
	kmax := mb.nt
	if q.odd {
		kmax = 2 * mb.nt
	}
	mb.pa, mb.pb = mat.NewDense(mb.nt, nz, nil), mat.NewDense(mb.nt, nz, nil)
	p0, p1 := make([]float64, nz), make([]float64, nz)
	for i, zi := range mb.z {
		p0[i], p1[i] = 1, zi // psi_0, psi_1
	}
	for kk := range kmax {
		if kk >= 2 {
			// psi_k = (z psi_{k-1} - sqrt(k-1) psi_{k-2}) / sqrt(k)
			c1, c2 := 1/math.Sqrt(float64(kk)), math.Sqrt(float64(kk-1))
			for i, zi := range mb.z {
				p0[i], p1[i] = p1[i], (zi*p1[i]-c2*p0[i])*c1
			}
		}
		cur := p1
		if kk == 0 {
			cur = p0
		}
		switch {
		case !q.odd:
			mb.pa.SetRow(kk, cur)
			mb.pb.SetRow(kk, cur)
		case kk%2 == 1:
			mb.pa.SetRow(kk/2, cur)
		default:
			mb.pb.SetRow(kk/2, cur)
		}
	}
	return mb
}

// coeffs returns the coefficient vectors of the variances vs (row i of a
// and b: the nt terms of T and of Tdot for vs[i]) and E[phi^2], E[phi'^2]
// at each.
// The values of phi are spread over workers goroutines.
func (mb *mehlerBasis) coeffs(vs []float64, workers int) (a, b *mat.Dense, ef, eg []float64) {
	n, nz := len(vs), len(mb.z)
	f, g := mat.NewDense(n, nz, nil), mat.NewDense(n, nz, nil)
	ef, eg = make([]float64, n), make([]float64, n)
	fr, gr := f.RawMatrix(), g.RawMatrix()
	parallelRows(n, workers, func(i int) {
		s := math.Sqrt(vs[i])
		fi, gi := fr.Data[i*fr.Stride:i*fr.Stride+nz], gr.Data[i*gr.Stride:i*gr.Stride+nz]
		for k, zk := range mb.z {
			var u, d float64
			if mb.q.both != nil {
				u, d = mb.q.both(s * zk)
			} else {
				u, d = mb.q.phi(s*zk), mb.q.dphi(s*zk)
			}
			ef[i] += mb.w[k] * u * u
			eg[i] += mb.w[k] * d * d
			fi[k], gi[k] = mb.w[k]*u, mb.w[k]*d
		}
	})
	a, b = mat.NewDense(n, mb.nt, nil), mat.NewDense(n, mb.nt, nil)
	linalg.Gemm(false, true, 1, f, mb.pa, 0, a)
	linalg.Gemm(false, true, 1, g, mb.pb, 0, b)
	return a, b, ef, eg
}

// maxTail returns the largest relative tail R/E[phi^2], R/E[phi'^2] of the
// coefficients a, b with norms ef, eg (see coeffs).
func maxTail(a, b *mat.Dense, ef, eg []float64) float64 {
	var tail float64
	for i := range ef {
		tail = math.Max(tail, relTail(ef[i], a.RawRowView(i)))
		tail = math.Max(tail, relTail(eg[i], b.RawRowView(i)))
	}
	return tail
}

// relTail returns (e - sum_k c_k^2) / e, the relative tail of a series with
// norm e and coefficients c (0 when e = 0).
func relTail(e float64, c []float64) float64 {
	if e <= 0 {
		return 0
	}
	var s float64
	for _, v := range c {
		s += v * v
	}
	return math.Max(e-s, 0) / e
}

// termsNeeded returns the number of Hermite terms k (counting all k, as
// newMehlerBasis takes it) after which the relative tails at the variances
// vs fall below tol, or 0 when that takes more than mehlerMaxTerms.
func (q *Quadrature) termsNeeded(vs []float64, tol float64) int {
	vmax := 0.0
	for _, v := range vs {
		vmax = math.Max(vmax, v)
	}
	mb := q.newMehlerBasis(vmax, mehlerMaxTerms)
	a, b, ef, eg := mb.coeffs(vs, runtime.GOMAXPROCS(0))
	need := 0
	for i := range vs {
		for _, t := range []struct {
			row []float64
			e   float64
		}{{a.RawRowView(i), ef[i]}, {b.RawRowView(i), eg[i]}} {
			s, m := 0.0, 0
			for m < len(t.row) && t.e-s > tol*t.e {
				s += t.row[m] * t.row[m]
				m++
			}
			if t.e-s > tol*t.e {
				return 0
			}
			need = max(need, m)
		}
	}
	if q.odd {
		need = 2*need + 1
	}
	return max(need, 1)
}

// mehlerBasisFor returns the basis for variances up to v: v is rounded up
// to a power of 2^(1/8), and the basis for that variance, with the terms
// termsNeeded there for mehlerTol/4, is built once and cached. It returns
// nil when more than mehlerMaxTerms terms are needed. Callers check the
// tails of their own variances (below the rounded one they are smaller in
// practice, but that is not assumed).
func (q *Quadrature) mehlerBasisFor(v float64) *mehlerBasis {
	e := math.Ceil(8 * math.Log2(v))
	if m, ok := q.mehler.Load(e); ok {
		return m.(*mehlerBasis)
	}
	vq := math.Exp2(e / 8)
	var mb *mehlerBasis
	if k := q.termsNeeded([]float64{vq}, mehlerTol/4); k > 0 {
		mb = q.newMehlerBasis(vq, k)
	}
	q.mehler.Store(e, mb)
	return mb
}

// series returns sum_m x^m a1[m] a2[m] and sum_m x^m b1[m] b2[m] (all of
// one length, a multiple of 4) by eight interleaved Horner recurrences in
// x^4, four per sum, so that they do not wait on each other.
func series(a1, a2, b1, b2 []float64, x float64) (sa, sb float64) {
	n := len(a1)
	a2, b1, b2 = a2[:n], b1[:n], b2[:n]
	x2 := x * x
	x4 := x2 * x2
	var s0, s1, s2, s3, d0, d1, d2, d3 float64
	for m := n - 4; m >= 0; m -= 4 {
		s0 = s0*x4 + a1[m]*a2[m]
		s1 = s1*x4 + a1[m+1]*a2[m+1]
		s2 = s2*x4 + a1[m+2]*a2[m+2]
		s3 = s3*x4 + a1[m+3]*a2[m+3]
		d0 = d0*x4 + b1[m]*b2[m]
		d1 = d1*x4 + b1[m+1]*b2[m+1]
		d2 = d2*x4 + b1[m+2]*b2[m+2]
		d3 = d3*x4 + b1[m+3]*b2[m+3]
	}
	return s0 + x*s1 + x2*(s2+x*s3), d0 + x*d1 + x2*(d2+x*d3)
}
