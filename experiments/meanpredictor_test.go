package experiments

import (
	"math"
	"testing"

	"github.com/ntkharness/ntkharness/datasets"
)

// TestMeanPredictorWindow checks the decay window of the figure at the
// paper's sb2 = 0.18: on [a, 2a] with a = 12 xi_* the measured rate of the
// chaotic curve is within 3% of ln(chi_c*/chi_1) for the paper's three
// chaotic sw2 (the next term of the prefactor l leaves about 2%), and the
// theory shape scaled at a passes through the curve there.
func TestMeanPredictorWindow(t *testing.T) {
	train, test, err := datasets.LoadMNISTEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	xTr, xTe, y, _, _, err := prepareData(train, test, 20, 20, 1)
	if err != nil {
		t.Fatal(err)
	}
	st := meanPredictorSettings(Paper)
	for _, sw2 := range st.Chaotic {
		c, err := MeanPredictor(sw2, st.SB2, st.ChaoticDepth, xTr, xTe, y, 1)
		if err != nil {
			t.Fatal(err)
		}
		a := decayWindow(c.MF)
		if 2*a > st.ChaoticDepth {
			t.Fatalf("sw2 = %g: window %d-%d beyond the depth %d of the figure", sw2, a, 2*a, st.ChaoticDepth)
		}
		want := math.Log(c.MF.ChiCStar / c.MF.Chi1)
		if got := c.decayRate(a); !(math.Abs(got-want) <= 0.03*math.Abs(want)) {
			t.Errorf("sw2 = %g: decay rate %g per layer on depths %d-%d, want ln(chi_c*/chi_1) = %g to 3%%", sw2, got, a, 2*a, want)
		}
		if shape := c.decayShape(a); math.Abs(c.at(shape, a)/c.at(c.Dev, a)-1) > 1e-12 {
			t.Errorf("sw2 = %g: theory shape %g at depth %d, curve %g", sw2, c.at(shape, a), a, c.at(c.Dev, a))
		}
	}
}
