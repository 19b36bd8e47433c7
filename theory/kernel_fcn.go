package theory

import (
	"math"
	"runtime"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/activation"
	"github.com/ntkharness/ntkharness/linalg"
	"github.com/ntkharness/ntkharness/spec"
)

// computeFCN runs the fully connected recursion layer by layer over the whole
// N1 x N2 matrices (only the upper triangle when x2 = x1), rows spread over
// the workers. Per-example constants of each layer (1/sqrt(1+2 K11) for erf,
// sqrt(K11) for relu, a correlation table for quadrature activations when all
// variances agree) are computed once per layer, not once per entry.
func computeFCN(s spec.Spec, act Activation, in inputs, opt Options) (Kernels, error) {
	n1, n2, d := in.n1, in.n2, in.c
	x1 := mat.NewDense(n1, d, in.x1)
	x2 := mat.NewDense(n2, d, in.x2)
	k := mat.NewDense(n1, n2, nil)
	linalg.Gemm(false, true, 1/float64(d), x1, x2, 0, k)
	q1 := rowNorms(in.x1, n1, d)
	q2 := q1
	if !in.sym {
		q2 = rowNorms(in.x2, n2, d)
	}
	kr := k.RawMatrix()
	for i := range kr.Data {
		kr.Data[i] = s.SW2*kr.Data[i] + s.SB2
	}
	for i := range q1 {
		q1[i] = s.SW2*q1[i] + s.SB2
		if in.sym {
			kr.Data[i*kr.Stride+i] = q1[i]
		}
	}
	if !in.sym {
		for j := range q2 {
			q2[j] = s.SW2*q2[j] + s.SB2
		}
	}
	th := mat.DenseCopyOf(k)
	tr := th.RawMatrix()
	for l := 1; l <= s.Depth; l++ {
		lay := newFCNLayer(act, q1, q2, true)
		parallelRows(n1, opt.Workers, func(i int) {
			j0 := 0
			if in.sym {
				j0 = i
			}
			fcnUpdate(lay, s.SW2, s.SB2, i, j0, kr.Data[i*kr.Stride+j0:i*kr.Stride+n2], tr.Data[i*tr.Stride+j0:i*tr.Stride+n2])
		})
		if in.sym {
			nq := make([]float64, n1)
			for i := range nq {
				nq[i] = kr.Data[i*kr.Stride+i]
			}
			q1, q2 = nq, nq
		} else {
			q1, q2 = nextDiag(lay, q1, s), nextDiag(lay, q2, s)
		}
		for _, q := range [][]float64{q1, q2} {
			for _, v := range q {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return Kernels{}, errOverflow(s, l, "NNGP", v)
				}
			}
		}
		if opt.EachDepth != nil && l < s.Depth {
			if in.sym {
				mirror(k)
				mirror(th)
			}
			if err := checkFinite(s, l, Kernels{NNGP: k, NTK: th}); err != nil {
				return Kernels{}, err
			}
			opt.EachDepth(l, Kernels{NNGP: k, NTK: th})
		}
		if opt.Progress != nil {
			opt.Progress(l, s.Depth)
		}
	}
	if in.sym {
		mirror(k)
		mirror(th)
	}
	out := Kernels{NNGP: k, NTK: th}
	if err := checkFinite(s, s.Depth, out); err != nil {
		return Kernels{}, err
	}
	if opt.EachDepth != nil {
		opt.EachDepth(s.Depth, out)
	}
	return out, nil
}

// rowNorms returns |x_i|^2 / d for the n rows of x.
func rowNorms(x []float64, n, d int) []float64 {
	q := make([]float64, n)
	for i := range q {
		var s float64
		for _, v := range x[i*d : (i+1)*d] {
			s += v * v
		}
		q[i] = s / float64(d)
	}
	return q
}

func nextDiag(lay fcnLayer, q []float64, s spec.Spec) []float64 {
	nq := make([]float64, len(q))
	for i, v := range q {
		t, _ := lay.pair(v, v, v)
		nq[i] = s.SW2*t + s.SB2
	}
	return nq
}

// fcnLayer maps one layer of the recursion for a block of pairs: the rows
// are indexed by q1 (the variances of the row inputs) and the columns by q2.
type fcnLayer interface {
	// maps replaces k[j] = K(row i, column j0+j) by T and th[j] = Theta by
	// Tdot * Theta at the same pair.
	maps(i, j0 int, k, th []float64)
	// pair returns T and Tdot at one covariance.
	pair(k11, k12, k22 float64) (t, td float64)
}

// fcnUpdate advances a row block by one dense layer:
// K <- sw2 T(K) + sb2, Theta <- K_new + sw2 Tdot(K) Theta.
func fcnUpdate(lay fcnLayer, sw2, sb2 float64, i, j0 int, k, th []float64) {
	lay.maps(i, j0, k, th)
	for j, t := range k {
		kn := sw2*t + sb2
		k[j] = kn
		th[j] = kn + sw2*th[j]
	}
}

// commonTol is the relative spread of the variances below which a layer
// uses one correlation table for all pairs: the table's error from treating
// them as equal is of the same relative size.
const commonTol = 1e-12

// newFCNLayer prepares the per-row and per-column constants of one layer.
// The descriptions activation.Erf and activation.ReLU select their closed
// forms inlined into the entry loop (erfLayer, reluLayer). A quadrature
// activation with a strip rule takes, with table, one correlation table
// when all variances agree, else the Mehler series (mehlerLayer) or, for
// variances too large for it, the variance-pair tables; without table (one
// layer of one pair of images) the Mehler series when it applies.
func newFCNLayer(act Activation, q1, q2 []float64, table bool) fcnLayer {
	switch a := act.(type) {
	case closedForm:
		switch a.d {
		case activation.Erf:
			return newErfLayer(q1, q2)
		case activation.ReLU:
			return &reluLayer{q1: q1, q2: q2}
		}
	case *Quadrature:
		if !table {
			// One layer of one pair of images: the series' coefficients
			// cost a few evaluations of phi per pixel, the tables far more.
			if l := newMehlerLayer(a, q1, q2, 1); l != nil {
				return l
			}
			break
		}
		q, ok := commonVariance(q1, q2)
		if ok && q > 0 {
			if tb, ok := newCorrTable(a, q); ok {
				return &tableLayer{tb: tb}
			}
		}
		if !ok {
			if l := newMehlerLayer(a, q1, q2, runtime.GOMAXPROCS(0)); l != nil {
				return l
			}
			if l := newVarLayer(a, q1, q2); l != nil {
				return l
			}
		}
	}
	return &genericLayer{act: act, q1: q1, q2: q2}
}

// newErfLayer precomputes s = 1/sqrt(1 + 2 K_ii) for the rows and columns.
func newErfLayer(q1, q2 []float64) *erfLayer {
	l := &erfLayer{q1: q1, q2: q2, s1: make([]float64, len(q1)), s2: make([]float64, len(q2))}
	for i, q := range q1 {
		l.s1[i] = 1 / math.Sqrt(1+2*math.Max(q, 0))
	}
	for j, q := range q2 {
		l.s2[j] = 1 / math.Sqrt(1+2*math.Max(q, 0))
	}
	return l
}

// varianceRange returns the smallest and largest of q1 and q2.
func varianceRange(q1, q2 []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, qs := range [][]float64{q1, q2} {
		for _, q := range qs {
			lo, hi = math.Min(lo, q), math.Max(hi, q)
		}
	}
	return lo, hi
}

// positiveRange is varianceRange, and whether all variances are positive
// and finite (so that correlations are defined).
func positiveRange(q1, q2 []float64) (lo, hi float64, ok bool) {
	lo, hi = varianceRange(q1, q2)
	return lo, hi, lo > 0 && !math.IsInf(hi, 0)
}

// commonVariance returns the mean of q1 and q2 and whether all of them agree
// with it to commonTol.
func commonVariance(q1, q2 []float64) (float64, bool) {
	lo, hi := varianceRange(q1, q2)
	m := (lo + hi) / 2
	return m, hi-lo <= commonTol*m
}

// erfLayer uses s_i = 1/sqrt(1 + 2 K_ii) and r = 2 K12 s_i s_j:
// T = (2/pi) asin r and Tdot = (4/pi) s_i s_j / sqrt(1 - r^2), which is
// (4/pi) / sqrt(1 + 2(K11+K22) + 4(K11 K22 - K12^2)), the form used when
// rounding makes |r| = 1.
type erfLayer struct {
	q1, q2, s1, s2 []float64
}

func (l *erfLayer) maps(i, j0 int, k, th []float64) {
	si, qi := l.s1[i], l.q1[i]
	s2, q2 := l.s2[j0:j0+len(k)], l.q2[j0:j0+len(k)]
	th = th[:len(k)]
	for j, kij := range k {
		// Rounding can push |K12| past sqrt(K11 K22), the Cauchy-Schwarz
		// bound; clamp there, at correlation +-1, not at |r| = 1 (which
		// would be T = +-1, the value of an infinite variance). The bound
		// needs its square root only near it: where K12^2 is below
		// K11 K22 by far more than their rounding (and neither underflows)
		// the clamp cannot act.
		if p := qi * q2[j]; !(kij*kij < p*(1-1e-9) && p > 1e-200) {
			if b := math.Sqrt(p); kij > b {
				kij = b
			} else if kij < -b {
				kij = -b
			}
		}
		ss := si * s2[j]
		r := 2 * kij * ss
		if r > 1 {
			r = 1
		} else if r < -1 {
			r = -1
		}
		// One square root serves both maps: asin r = atan(r / sqrt(1-r^2))
		// and Tdot = (4/pi) s_i s_j / sqrt(1-r^2).
		var t, td float64
		if c := math.Sqrt((1 - r) * (1 + r)); c > 0 {
			ic := 1 / c
			t = math.Atan(r * ic)
			td = ss * ic
		} else {
			qj := q2[j]
			t = math.Copysign(math.Pi/2, r)
			td = 1 / math.Sqrt(1+2*(qi+qj)+4*math.Max(0, qi*qj-kij*kij))
		}
		k[j] = (2 / math.Pi) * t
		th[j] *= (4 / math.Pi) * td
	}
}

func (l *erfLayer) pair(k11, k12, k22 float64) (float64, float64) {
	return activation.Erf.T(k11, k12, k22), activation.Erf.Tdot(k11, k12, k22)
}

// reluLayer uses theta = atan2(sqrt(K11 K22 - K12^2), K12):
// T = (sqrt(K11 K22 - K12^2) + (pi - theta) K12)/(2 pi), Tdot = (pi - theta)/(2 pi).
type reluLayer struct {
	q1, q2 []float64
}

func (l *reluLayer) maps(i, j0 int, k, th []float64) {
	qi := l.q1[i]
	q2 := l.q2[j0 : j0+len(k)]
	th = th[:len(k)]
	for j, kij := range k {
		pp := qi * q2[j]
		var t, td float64
		if pp == 0 {
			t, td = 0, activation.ReLU.Tdot(qi, kij, q2[j])
		} else {
			// theta = atan2(sn, K12) with sn = sqrt(K11 K22 - K12^2) >= 0,
			// from one Atan; theta and sn stay consistent, so the rounding
			// of sn cancels in T near correlation +-1 (and sn = 0 exactly
			// on the diagonal, where K12^2 = K11 K22 in floating point).
			sn := math.Sqrt(math.Max(0, pp-kij*kij))
			var theta float64
			switch {
			case kij > 0:
				theta = math.Atan(sn / kij)
			case kij < 0:
				theta = math.Pi - math.Atan(sn/-kij)
			default:
				theta = math.Pi / 2
			}
			t = (sn + (math.Pi-theta)*kij) / (2 * math.Pi)
			td = (math.Pi - theta) / (2 * math.Pi)
		}
		k[j] = t
		th[j] *= td
	}
}

func (l *reluLayer) pair(k11, k12, k22 float64) (float64, float64) {
	return activation.ReLU.T(k11, k12, k22), activation.ReLU.Tdot(k11, k12, k22)
}

// tableLayer interpolates T and Tdot in a correlation table (all variances
// equal).
type tableLayer struct {
	tb *corrTable
}

func (l *tableLayer) maps(_, _ int, k, th []float64) {
	th = th[:len(k)]
	for j, kij := range k {
		t, td := l.tb.eval(kij)
		k[j] = t
		th[j] *= td
	}
}

func (l *tableLayer) pair(_, k12, _ float64) (float64, float64) { return l.tb.eval(k12) }

// varLayer interpolates T and Tdot in a varTable (variances that differ),
// with the Lagrange weights and 1/sqrt(q) of every row and column computed
// once per layer.
type varLayer struct {
	vt     *varTable
	g      int
	w1, w2 []float64 // w1[i*g+a] = l_a(x(q1[i]))
	r1, r2 []float64 // 1/sqrt(q)
}

// newVarLayer returns nil when the variances include 0 with others (the
// correlation is undefined there) or the table does not converge.
func newVarLayer(act *Quadrature, q1, q2 []float64) *varLayer {
	lo, hi, ok := positiveRange(q1, q2)
	if !ok {
		return nil
	}
	vt, ok := newVarTable(act, lo, hi, runtime.GOMAXPROCS(0))
	if !ok {
		return nil
	}
	g := len(vt.x)
	l := &varLayer{vt: vt, g: g}
	prep := func(qs []float64) ([]float64, []float64) {
		w, r := make([]float64, len(qs)*g), make([]float64, len(qs))
		for i, q := range qs {
			vt.weights(q, w[i*g:(i+1)*g])
			r[i] = 1 / math.Sqrt(q)
		}
		return w, r
	}
	l.w1, l.r1 = prep(q1)
	if &q2[0] == &q1[0] && len(q1) == len(q2) {
		l.w2, l.r2 = l.w1, l.r1
	} else {
		l.w2, l.r2 = prep(q2)
	}
	return l
}

func (l *varLayer) maps(i, j0 int, k, th []float64) {
	g := l.g
	wi, ri := l.w1[i*g:(i+1)*g], l.r1[i]
	th = th[:len(k)]
	for j, kij := range k {
		jj := j0 + j
		t, td := l.vt.eval(wi, l.w2[jj*g:(jj+1)*g], kij*ri*l.r2[jj])
		k[j] = t
		th[j] *= td
	}
}

func (l *varLayer) pair(k11, k12, k22 float64) (float64, float64) {
	w1, w2 := make([]float64, l.g), make([]float64, l.g)
	l.vt.weights(k11, w1)
	l.vt.weights(k22, w2)
	return l.vt.eval(w1, w2, k12/math.Sqrt(k11*k22))
}

// mehlerLayer sums the Mehler series of T and Tdot (see mehlerBasis) with
// the coefficient vectors of every row and column input computed once per
// layer: T_ij = sum_k c^k a_k(q_i) a_k(q_j) at c = K_ij / sqrt(q_i q_j),
// with at most mehlerTol relative error by the tails checked at every q.
type mehlerLayer struct {
	mb             *mehlerBasis
	a1, b1, a2, b2 []float64 // row i: the nt coefficients of T and Tdot
	r1, r2         []float64 // 1/sqrt(q)
}

// newMehlerLayer returns nil when the activation has no strip rule, a
// variance is not positive and finite, or the series needs more than
// mehlerMaxTerms terms (large variances) for mehlerTol.
// The values of phi at the nodes are spread over workers goroutines.
func newMehlerLayer(act *Quadrature, q1, q2 []float64, workers int) *mehlerLayer {
	if act.fixed != nil || !(act.strip > 0) {
		return nil
	}
	_, hi, ok := positiveRange(q1, q2)
	if !ok {
		return nil
	}
	mb := act.mehlerBasisFor(hi)
	if mb == nil {
		return nil
	}
	l := &mehlerLayer{mb: mb}
	prep := func(qs []float64) (a, b, r []float64, ok bool) {
		am, bm, ef, eg := l.mb.coeffs(qs, workers)
		if maxTail(am, bm, ef, eg) > mehlerTol {
			return nil, nil, nil, false
		}
		r = make([]float64, len(qs))
		for i, q := range qs {
			r[i] = 1 / math.Sqrt(q)
		}
		return am.RawMatrix().Data, bm.RawMatrix().Data, r, true
	}
	if l.a1, l.b1, l.r1, ok = prep(q1); !ok {
		return nil
	}
	if &q2[0] == &q1[0] && len(q1) == len(q2) {
		l.a2, l.b2, l.r2 = l.a1, l.b1, l.r1
	} else if l.a2, l.b2, l.r2, ok = prep(q2); !ok {
		return nil
	}
	return l
}

// eval returns T and Tdot at correlation c for the coefficient rows a1, b1
// and a2, b2.
func (l *mehlerLayer) eval(a1, b1, a2, b2 []float64, c float64) (t, td float64) {
	if c > 1 {
		c = 1
	} else if c < -1 {
		c = -1
	}
	if l.mb.q.odd {
		t, td = series(a1, a2, b1, b2, c*c)
		return c * t, td
	}
	return series(a1, a2, b1, b2, c)
}

func (l *mehlerLayer) maps(i, j0 int, k, th []float64) {
	nt := l.mb.nt
	ai, bi, ri := l.a1[i*nt:(i+1)*nt], l.b1[i*nt:(i+1)*nt], l.r1[i]
	th = th[:len(k)]
	for j, kij := range k {
		jj := j0 + j
		t, td := l.eval(ai, bi, l.a2[jj*nt:(jj+1)*nt], l.b2[jj*nt:(jj+1)*nt], kij*ri*l.r2[jj])
		k[j] = t
		th[j] *= td
	}
}

// pair computes the coefficients of k11 and k22 and sums the series when
// their tails are within mehlerTol, else integrates directly.
func (l *mehlerLayer) pair(k11, k12, k22 float64) (float64, float64) {
	if !(k11 > 0 && k22 > 0) {
		return expectBoth(l.mb.q, k11, k12, k22)
	}
	a, b, ef, eg := l.mb.coeffs([]float64{k11, k22}, 1)
	if maxTail(a, b, ef, eg) > mehlerTol {
		return expectBoth(l.mb.q, k11, k12, k22)
	}
	return l.eval(a.RawRowView(0), b.RawRowView(0), a.RawRowView(1), b.RawRowView(1), k12/math.Sqrt(k11*k22))
}

// genericLayer evaluates the activation at every entry.
type genericLayer struct {
	act    Activation
	q1, q2 []float64
}

func (l *genericLayer) maps(i, j0 int, k, th []float64) {
	qi := l.q1[i]
	th = th[:len(k)]
	for j, kij := range k {
		t, td := expectBoth(l.act, qi, kij, l.q2[j0+j])
		k[j] = t
		th[j] *= td
	}
}

func (l *genericLayer) pair(k11, k12, k22 float64) (float64, float64) {
	return expectBoth(l.act, k11, k12, k22)
}
