package theory

import (
	"math"
	"runtime"
	"sync"
)

// varTable tabulates T and Tdot of a quadrature activation for one layer
// whose variances differ: variances in [lo, hi] are mapped to x in [-1, 1]
// (linearly in log q when lo > 0, else in q), and at the G Chebyshev-Lobatto
// points x_a = cos(pi a/(G-1)), with q_a the variances there, a corrTable
// holds c -> T(q_a, c sqrt(q_a q_b), q_b) for every pair (a, b). Between the
// nodes the table interpolates in (x1, x2) by the tensor product of the
// Lagrange polynomials of the nodes (barycentric form), so
//
//	T(q1, c sqrt(q1 q2), q2) ~ sum_ab l_a(x1) l_b(x2) T_ab(c).
//
// T and Tdot at fixed c are analytic in the variances (their derivatives in
// q1 are the expectations of phi” by Price's theorem), so the
// interpolation converges geometrically in G. newVarTable doubles G - 1
// (G = 3, 5, 9, 17: the nodes are nested) until the interpolant agrees
// with direct quadrature at the nodes of the next level (where the error of
// an interpolant on Lobatto points is largest) to varTableTol, relative to
// the scale of the expectation, at correlations from -1 to 1; the test
// TestVarTableAccuracy checks it at random points.
type varTable struct {
	log    bool
	lo, hi float64 // mapped range (log q when log is set)
	x, bw  []float64
	tabs   []*corrTable // tabs[a*G+b]
}

const (
	varTableMaxNodes = 17
	varTableTol      = 1e-11
)

// varTableCheckC are the correlations at which the interpolation in the
// variances is checked.
var varTableCheckC = []float64{-1, -0.7, -0.2, 0, 0.3, 0.6, 0.85, 0.95, 0.99, 1}

func (vt *varTable) mapQ(q float64) float64 {
	u := q
	if vt.log {
		u = math.Log(q)
	}
	if vt.hi == vt.lo {
		return 0
	}
	return (2*u - vt.lo - vt.hi) / (vt.hi - vt.lo)
}

func (vt *varTable) unmap(x float64) float64 {
	u := vt.lo + (x+1)/2*(vt.hi-vt.lo)
	if vt.log {
		return math.Exp(u)
	}
	return u
}

// weights sets w to the Lagrange weights l_a(x(q)).
func (vt *varTable) weights(q float64, w []float64) {
	x := vt.mapQ(q)
	var sum float64
	for a, xa := range vt.x {
		if x == xa {
			clear(w)
			w[a] = 1
			return
		}
		w[a] = vt.bw[a] / (x - xa)
		sum += w[a]
	}
	for a := range w {
		w[a] /= sum
	}
}

// lobatto returns the G Chebyshev-Lobatto points and their barycentric
// weights (-1)^a, halved at the ends.
func lobatto(g int) (x, bw []float64) {
	x, bw = make([]float64, g), make([]float64, g)
	for a := range g {
		x[a] = math.Cos(math.Pi * float64(a) / float64(g-1))
		bw[a] = 1
		if a%2 == 1 {
			bw[a] = -1
		}
		if a == 0 || a == g-1 {
			bw[a] /= 2
		}
	}
	return x, bw
}

// newVarTable builds the table for variances in [lo, hi], 0 <= lo < hi. It
// reports false when the interpolation in the variances did not converge
// by varTableMaxNodes nodes or a correlation table did not (the caller then
// uses direct quadrature).
func newVarTable(act Activation, lo, hi float64, workers int) (*varTable, bool) {
	vt := &varTable{lo: lo, hi: hi}
	if lo > 0 {
		vt.log, vt.lo, vt.hi = true, math.Log(lo), math.Log(hi)
	}
	cache := map[[2]float64]*corrTable{}
	for g := 3; g <= varTableMaxNodes; g = 2*g - 1 {
		vt.x, vt.bw = lobatto(g)
		qs := make([]float64, g)
		for a, x := range vt.x {
			qs[a] = vt.unmap(x)
		}
		qs[0], qs[g-1] = hi, lo // exact at the ends (x = 1 is hi)
		type job struct{ a, b int }
		var jobs []job
		for a := range g {
			for b := a; b < g; b++ {
				if cache[[2]float64{qs[a], qs[b]}] == nil {
					jobs = append(jobs, job{a, b})
				}
			}
		}
		res := make([]*corrTable, len(jobs))
		okAll := true
		var mu sync.Mutex
		parallelRows(len(jobs), max(1, min(workers, runtime.GOMAXPROCS(0))), func(k int) {
			tb, ok := newCorrTable2(act, qs[jobs[k].a], qs[jobs[k].b])
			if !ok {
				mu.Lock()
				okAll = false
				mu.Unlock()
			}
			res[k] = tb
		})
		if !okAll {
			return nil, false
		}
		for k, j := range jobs {
			cache[[2]float64{qs[j.a], qs[j.b]}] = res[k]
		}
		vt.tabs = make([]*corrTable, g*g)
		for a := range g {
			for b := a; b < g; b++ {
				tb := cache[[2]float64{qs[a], qs[b]}]
				vt.tabs[a*g+b], vt.tabs[b*g+a] = tb, tb
			}
		}
		if vt.check(act, g, workers) {
			return vt, true
		}
	}
	return nil, false
}

// check compares the interpolant of g nodes with direct quadrature at the
// new nodes of the next level, paired with themselves and with both ends.
func (vt *varTable) check(act Activation, g, workers int) bool {
	xn, _ := lobatto(2*g - 1)
	type pt struct{ q1, q2 float64 }
	var pts []pt
	for k := 1; k < len(xn); k += 2 {
		q := vt.unmap(xn[k])
		pts = append(pts, pt{q, q}, pt{q, vt.unmap(1)}, pt{q, vt.unmap(-1)})
	}
	bad := false
	var mu sync.Mutex
	parallelRows(len(pts), max(1, min(workers, runtime.GOMAXPROCS(0))), func(k int) {
		p := pts[k]
		w1, w2 := make([]float64, g), make([]float64, g)
		vt.weights(p.q1, w1)
		vt.weights(p.q2, w2)
		s1t, s1d := expectBoth(act, p.q1, p.q1, p.q1)
		s2t, s2d := expectBoth(act, p.q2, p.q2, p.q2)
		st, sd := math.Sqrt(math.Abs(s1t*s2t)), math.Sqrt(math.Abs(s1d*s2d))
		sq := math.Sqrt(p.q1 * p.q2)
		for _, c := range varTableCheckC {
			wt, wd := expectBoth(act, p.q1, c*sq, p.q2)
			gt, gd := vt.eval(w1, w2, c)
			if math.Abs(gt-wt) > varTableTol*math.Max(st, 1e-300) || math.Abs(gd-wd) > varTableTol*math.Max(sd, 1e-300) {
				mu.Lock()
				bad = true
				mu.Unlock()
				return
			}
		}
	})
	return !bad
}

// eval returns T and Tdot at correlation c for the weights w1, w2 of the
// two variances.
func (vt *varTable) eval(w1, w2 []float64, c float64) (t, td float64) {
	if c > 1 {
		c = 1
	} else if c < -1 {
		c = -1
	}
	tb0 := vt.tabs[0]
	u := (c + 1) * tb0.g
	i := int(u)
	if i >= tableIntervals {
		i = tableIntervals - 1
	}
	s := u - float64(i)
	s2 := s * s
	s3 := s2 * s
	h := 1 / tb0.g
	h00 := 2*s3 - 3*s2 + 1
	h10 := (s3 - 2*s2 + s) * h
	h01 := -2*s3 + 3*s2
	h11 := (s3 - s2) * h
	g := len(w1)
	for a, wa := range w1 {
		var rt, rd float64
		for b, tb := range vt.tabs[a*g : (a+1)*g] {
			wb := w2[b]
			rt += wb * (h00*tb.t[i] + h01*tb.t[i+1] + h10*tb.dt[i] + h11*tb.dt[i+1])
			rd += wb * (h00*tb.d[i] + h01*tb.d[i+1] + h10*tb.dd[i] + h11*tb.dd[i+1])
		}
		t += wa * rt
		td += wa * rd
	}
	return t, td
}
