package theory

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMehlerLayerAccuracy checks the Mehler series against direct strip
// quadrature (the converged rule) on variances of widely different sizes,
// at random correlations and near +-1, relative to
// sqrt(T(q1,q1,q1) T(q2,q2,q2)) (and the same for Tdot). Every variance
// set below is one layer; the largest needs close to mehlerMaxTerms
// terms. Bar 1e-10; the tails bound the truncation by mehlerTol.
func TestMehlerLayerAccuracy(t *testing.T) {
	act := mustAct(t, "tanh").(*Quadrature)
	rng := rand.New(rand.NewPCG(15, 16))
	worst, worstSet := 0.0, ""
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
			if e > worst {
				worst, worstSet = e, ""
				_ = worstSet
			}
			if e > 1e-10 {
				t.Errorf("variances %v (%d terms): q1=%v q2=%v c=%v: T %v vs %v, Tdot %v vs %v", set, nt, q1, q2, c, gt, wt, gd, wd)
			}
		}
		t.Logf("variances %v: %d terms per series", set, nt)
	}
	t.Logf("largest error relative to the scale: %.3g", worst)
}
