package theory

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// TestAsymptotesMatchCompute checks the asymptote conventions (layer index
// l = L + 1 for a depth-L network) against the package's full FCN kernel
// (Compute), for inputs scaled so that K^1 = sw2 |x|^2/d + sb2 = q*.
func TestAsymptotesMatchCompute(t *testing.T) {
	tests := []struct {
		sw2, sb2 float64
		depth    int
		offTol   float64 // reason: distance of the off-diagonal from its limit
	}{
		// Ordered: entries reach p* like l chi_1^l ~ 1e-7 at L = 150.
		{1.0, 0.05, 150, 1e-6},
		// Chaotic: off-diagonals reach their limit like l chi_c*^l ~ 1e-8
		// at L = 400.
		{1.8, 0.1, 400, 1e-6},
	}
	erf := mustAct(t, "erf")
	const n, d = 4, 8
	for _, tt := range tests {
		m, err := SolveMeanField(erf, tt.sw2, tt.sb2)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(9, 10))
		x := npy.New(n, d)
		norm2 := (m.QStar - tt.sb2) / tt.sw2 * d
		for i := 0; i < n; i++ {
			row := x.Data[i*d : (i+1)*d]
			s := 0.0
			for j := range row {
				row[j] = rng.NormFloat64()
				s += row[j] * row[j]
			}
			for j := range row {
				row[j] *= math.Sqrt(norm2 / s)
			}
		}
		s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: tt.depth, SW2: tt.sw2, SB2: tt.sb2}
		k, err := Compute(s, x, npy.Array{}, Options{Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		l := tt.depth + 1
		for i := 0; i < n; i++ {
			// The diagonal is exact; 1e-10 relative allows the float64
			// sums of up to 400 terms in both computations.
			if got := k.NTK.At(i, i); relErr(got, m.NTKDiagonal(l)) > 1e-10 {
				t.Errorf("%s depth %d: Theta_%d%d = %v, NTKDiagonal(%d) = %v", m.Phase, tt.depth, i, i, got, l, m.NTKDiagonal(l))
			}
			for j := 0; j < i; j++ {
				if got := k.NTK.At(i, j); relErr(got, m.NTKOffDiagonal(l)) > tt.offTol {
					t.Errorf("%s depth %d: Theta_%d%d = %v, NTKOffDiagonal(%d) = %v", m.Phase, tt.depth, i, j, got, l, m.NTKOffDiagonal(l))
				}
			}
		}
		if m.Phase == Chaotic {
			_, ntk, err := k.Cond()
			if err != nil || relErr(ntk, m.KappaAsymptote(n, l)) > 1e-6 {
				t.Errorf("chaotic depth %d: kappa %v (%v), asymptote %v", tt.depth, ntk, err, m.KappaAsymptote(n, l))
			}
		}
	}
}
