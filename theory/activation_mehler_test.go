package theory

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ntkharness/ntkharness/activation"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// TestMehlerLayerAccuracy checks the Mehler series against direct strip
// quadrature (the converged rule) on variances of widely different sizes
// (1e-4 to 14 in one layer), at random correlations, near +-1 and at +-1,
// relative to sqrt(T(q1,q1,q1) T(q2,q2,q2)) (and the same for Tdot). Every
// variance set below is one layer; the last needs close to mehlerMaxTerms
// terms. Bar 1e-10. At a tenth of the points the error against the
// independent Gauss-Legendre integrals of highprec_test.go must also be
// within the proven truncation bound sqrt(R(q1) R(q2)) plus 1e-13 of
// rounding and quadrature error (the strip rule itself is off by up to
// 6e-13 near c = -1, so it cannot check a bound this tight).
func TestMehlerLayerAccuracy(t *testing.T) {
	act := mustAct(t, "tanh").(*Quadrature)
	rng := rand.New(rand.NewPCG(15, 16))
	worst, worstHP := 0.0, 0.0
	for _, set := range [][]float64{
		{1e-4, 1e-2, 0.3, 1},
		{0.05, 0.5, 2.8},
		{0.42, 0.4200001},
		{1e-3, 1, 5},
		{0.7, 3, 8},
		{0.01, 14},
	} {
		l := newMehlerLayer(act, set, set, 2)
		if l == nil {
			t.Errorf("variances %v: no Mehler layer", set)
			continue
		}
		nt := l.mb.nt
		for range 80 {
			i, j := rng.IntN(len(set)), rng.IntN(len(set))
			c := 2*rng.Float64() - 1
			switch rng.IntN(4) {
			case 0:
				c = math.Copysign(1-math.Pow(10, -1-8*rng.Float64()), c)
			case 1:
				c = math.Copysign(1, c)
			}
			q1, q2 := set[i], set[j]
			gt, gd := l.eval(l.a1[i*nt:(i+1)*nt], l.b1[i*nt:(i+1)*nt], l.a2[j*nt:(j+1)*nt], l.b2[j*nt:(j+1)*nt], c)
			wt, wd := act.expectBoth(q1, c*math.Sqrt(q1*q2), q2)
			a1, b1 := act.expectBoth(q1, q1, q1)
			a2, b2 := act.expectBoth(q2, q2, q2)
			e := math.Max(math.Abs(gt-wt)/math.Sqrt(a1*a2), math.Abs(gd-wd)/math.Sqrt(b1*b2))
			worst = math.Max(worst, e)
			if rng.IntN(10) > 0 {
				continue // the independent integrals are slow: a tenth of the points
			}
			am, bm, ef, eg := l.mb.coeffs([]float64{q1, q2}, 1)
			ra1, ra2 := relTail(ef[0], am.RawRowView(0)), relTail(ef[1], am.RawRowView(1))
			rb1, rb2 := relTail(eg[0], bm.RawRowView(0)), relTail(eg[1], bm.RawRowView(1))
			k12 := c * math.Sqrt(q1*q2)
			ht, hd := hpExpect(math.Tanh, q1, k12, q2), hpExpect(hpSech2, q1, k12, q2)
			eh := math.Max(math.Abs(gt-ht)/math.Sqrt(a1*a2), math.Abs(gd-hd)/math.Sqrt(b1*b2))
			worstHP = math.Max(worstHP, eh)
			if bound := math.Max(math.Sqrt(ra1*ra2), math.Sqrt(rb1*rb2)) + 1e-13; eh > bound {
				t.Errorf("variances %v: q1=%v q2=%v c=%v: error %.3g against the independent integral, above the tail bound %.3g", set, q1, q2, c, eh, bound)
			}
			if e > 1e-10 {
				t.Errorf("variances %v (%d terms): q1=%v q2=%v c=%v: T %v vs %v, Tdot %v vs %v", set, nt, q1, q2, c, gt, wt, gd, wd)
			}
		}
		t.Logf("variances %v: %d terms per series", set, nt)
	}
	t.Logf("largest error relative to the scale: %.3g against the strip rule, %.3g against the independent integrals", worst, worstHP)
}

// TestMehlerLayerRefuses checks that the series is not used where it cannot
// meet its bound (a variance whose tail needs more than mehlerMaxTerms
// terms) or where the correlation is undefined (a zero variance).
func TestMehlerLayerRefuses(t *testing.T) {
	act := mustAct(t, "tanh").(*Quadrature)
	for _, set := range [][]float64{{0.5, 100}, {0, 1}} {
		if l := newMehlerLayer(act, set, set, 1); l != nil {
			t.Errorf("variances %v: Mehler layer with %d terms, want none", set, l.mb.nt)
		}
	}
	if newMehlerLayer(HermiteQuadrature(activation.Tanh, 61).(*Quadrature), []float64{0.5, 1}, []float64{0.5, 1}, 1) != nil {
		t.Error("Gauss-Hermite rule: Mehler layer, want none (it has no strip)")
	}
}

// TestKernelMehlerWideNorms compares the FCN and CNN-GAP tanh kernels with
// direct quadrature at every entry on inputs whose norms differ by a factor
// 50 (first-layer variances about 0.05 to 10, all on the Mehler series:
// checked), at 1e-10 relative to the kernel's scale.
func TestKernelMehlerWideNorms(t *testing.T) {
	x := randomArray(21, 8, 5)
	q := rowNorms(x.Data, 8, 5)
	img := randomArray(22, 3, 3, 3, 2)
	for i, f := range []float64{0.05, 0.2, 0.5, 1, 1.5, 2, 2.2, 2.5} {
		for j := range 5 {
			x.Data[i*5+j] *= f
		}
	}
	for i := range q {
		q[i] = 1.6*rowNorms(x.Data[i*5:(i+1)*5], 1, 5)[0] + 0.05
	}
	if _, ok := newFCNLayer(mustAct(t, "tanh"), q, q, true).(*mehlerLayer); !ok {
		t.Fatalf("first-layer variances %v: not on the Mehler series", q)
	}
	for j := range 18 {
		img.Data[j] *= 2.5
		img.Data[18+j] *= 0.1
	}
	for _, tt := range []struct {
		s spec.Spec
		x npy.Array
	}{
		{spec.Spec{Arch: spec.FCN, Act: spec.Tanh, Depth: 3, SW2: 1.6, SB2: 0.05}, x},
		{spec.Spec{Arch: spec.CNNGAP, Act: spec.Tanh, Depth: 2, SW2: 1.5, SB2: 0.02, Filter: 3, Padding: spec.Same}, img},
	} {
		checkAgainstDirect(t, tt.s, tt.x, "Mehler")
	}
}
