package theory

import "math"

// expectBoth returns T and Tdot of act at one covariance, sharing the
// quadrature's evaluations of phi when the activation can.
func expectBoth(act Activation, k11, k12, k22 float64) (t, td float64) {
	if q, ok := act.(*Quadrature); ok && q.both != nil {
		return q.expectBoth(k11, k12, k22)
	}
	return act.T(k11, k12, k22), act.Tdot(k11, k12, k22)
}

// corrTable tabulates, for one common variance q, the maps
// c -> T(q, c q, q) and c -> Tdot(q, c q, q) on c in [-1, 1].
//
// Both maps are smooth on the closed interval for smooth phi (their n-th
// derivatives in c are q^n E[phi^(n)(u) phi^(n)(v)] and q^n
// E[phi^(n+1)(u) phi^(n+1)(v)]), so a Chebyshev series converges faster than
// any power of its degree. The series is fitted at Chebyshev nodes from
// direct quadrature, its degree doubled until the trailing coefficients fall
// below 1e-13; it then fills a uniform grid of values and derivatives that is
// evaluated by cubic Hermite interpolation, whose error h^4/384 max|f””| is
// below 1e-12 for the grid used. The test TestCorrTableAccuracy checks the
// table against direct quadrature.
type corrTable struct {
	q, invq float64
	g       float64   // intervals per unit of c: the grid spacing is 1/g
	t, dt   []float64 // T and dT/dc at the grid points c_k = -1 + k/g
	d, dd   []float64 // Tdot and dTdot/dc at the grid points
}

// Sizes of the correlation tables.
const (
	tableMinDegree = 32
	tableMaxDegree = 512
	tableIntervals = 2048 // grid intervals over [-1, 1]
	tableCoefTol   = 1e-13
)

// newCorrTable builds the table for act at variance q > 0. It reports false
// when the Chebyshev series did not converge to tableCoefTol by degree
// tableMaxDegree (the caller then falls back to direct quadrature).
func newCorrTable(act Activation, q float64) (*corrTable, bool) {
	return newCorrTable2(act, q, q)
}

// newCorrTable2 is newCorrTable for the variances q1, q2 > 0: the table
// holds c -> T(q1, c sqrt(q1 q2), q2) and Tdot, and eval takes
// k12 = c sqrt(q1 q2).
func newCorrTable2(act Activation, q1, q2 float64) (*corrTable, bool) {
	var ct, cd []float64
	ok := false
	sq := math.Sqrt(q1 * q2)
	if q1 == q2 {
		sq = q1
	}
	for m := tableMinDegree; m <= tableMaxDegree; m *= 2 {
		ft := make([]float64, m)
		fd := make([]float64, m)
		for k := range m {
			x := math.Cos(math.Pi * (float64(k) + 0.5) / float64(m))
			ft[k], fd[k] = expectBoth(act, q1, x*sq, q2)
		}
		ct, cd = chebCoeffs(ft), chebCoeffs(fd)
		if chebConverged(ct) && chebConverged(cd) {
			ok = true
			break
		}
	}
	if !ok {
		return nil, false
	}
	dct, dcd := chebDeriv(ct), chebDeriv(cd)
	n := tableIntervals + 1
	tb := &corrTable{q: sq, invq: 1 / sq, g: tableIntervals / 2,
		t: make([]float64, n), dt: make([]float64, n), d: make([]float64, n), dd: make([]float64, n)}
	for k := range n {
		x := -1 + float64(k)/tb.g
		if k == n-1 {
			x = 1
		}
		tb.t[k] = chebEval(ct, x)
		tb.dt[k] = chebEval(dct, x)
		tb.d[k] = chebEval(cd, x)
		tb.dd[k] = chebEval(dcd, x)
	}
	return tb, true
}

// eval returns T and Tdot at covariance k12 (variances q).
func (tb *corrTable) eval(k12 float64) (t, td float64) {
	c := k12 * tb.invq
	if c > 1 {
		c = 1
	} else if c < -1 {
		c = -1
	}
	u := (c + 1) * tb.g
	i := int(u)
	if i >= tableIntervals {
		i = tableIntervals - 1
	}
	s := u - float64(i)
	s2 := s * s
	s3 := s2 * s
	h00 := 2*s3 - 3*s2 + 1
	h10 := s3 - 2*s2 + s
	h01 := -2*s3 + 3*s2
	h11 := s3 - s2
	h := 1 / tb.g
	t = h00*tb.t[i] + h01*tb.t[i+1] + h*(h10*tb.dt[i]+h11*tb.dt[i+1])
	td = h00*tb.d[i] + h01*tb.d[i+1] + h*(h10*tb.dd[i]+h11*tb.dd[i+1])
	return t, td
}

// chebCoeffs returns a with f(x) = sum_n a_n T_n(x) interpolating the values
// f[k] at the Chebyshev nodes x_k = cos(pi (k + 1/2) / m).
func chebCoeffs(f []float64) []float64 {
	m := len(f)
	a := make([]float64, m)
	for n := range m {
		var s float64
		for k, fk := range f {
			s += fk * math.Cos(math.Pi*float64(n)*(float64(k)+0.5)/float64(m))
		}
		a[n] = 2 * s / float64(m)
	}
	a[0] /= 2
	return a
}

// chebConverged reports whether the last quarter of the coefficients is
// below tableCoefTol relative to the largest.
func chebConverged(a []float64) bool {
	var big, tail float64
	for n, v := range a {
		big = math.Max(big, math.Abs(v))
		if n >= 3*len(a)/4 {
			tail = math.Max(tail, math.Abs(v))
		}
	}
	return tail <= tableCoefTol*math.Max(big, 1)
}

// chebDeriv returns the coefficients of the derivative of sum_n a_n T_n,
// from T_n' = n U_{n-1} and the recurrence b_{n-1} = b_{n+1} + 2 n a_n.
func chebDeriv(a []float64) []float64 {
	m := len(a)
	b := make([]float64, m+1)
	for n := m - 1; n >= 1; n-- {
		b[n-1] = b[n+1] + 2*float64(n)*a[n]
	}
	b[0] /= 2
	return b[:m]
}

// chebEval evaluates sum_n a_n T_n(x) by Clenshaw's recurrence.
func chebEval(a []float64, x float64) float64 {
	var b1, b2 float64
	for n := len(a) - 1; n >= 1; n-- {
		b1, b2 = 2*x*b1-b2+a[n], b1
	}
	return x*b1 - b2 + a[0]
}
