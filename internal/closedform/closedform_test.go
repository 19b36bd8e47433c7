package closedform

import (
	"math"
	"testing"
)

// TestProbabilityCorrect: two classes win by the closed form
// Phi((m0 - m1)/(s sqrt 2)); k equal means give 1/k; zero variance gives
// the argmax with ties shared.
func TestProbabilityCorrect(t *testing.T) {
	for _, c := range []struct{ d, v float64 }{{0.3, 0.5}, {-2, 0.1}, {5, 4}, {1e-3, 1e-6}} {
		want := 0.5 * math.Erfc(-c.d/math.Sqrt(2*c.v)/math.Sqrt2)
		if got := ProbabilityCorrect([]float64{c.d, 0}, 0, c.v); math.Abs(got-want) > 1e-9 {
			t.Errorf("d %g, variance %g: %.12g, want %.12g", c.d, c.v, got, want)
		}
	}
	if got := ProbabilityCorrect(make([]float64, 7), 3, 2); math.Abs(got-1.0/7) > 1e-9 {
		t.Errorf("equal means: %g, want 1/7", got)
	}
	if a, b := ProbabilityCorrect([]float64{1, 1, 0}, 0, 0), ProbabilityCorrect([]float64{1, 2, 0}, 0, 0); a != 0.5 || b != 0 {
		t.Errorf("zero variance: %g (tie of two), %g (beaten), want 0.5 and 0", a, b)
	}
}
