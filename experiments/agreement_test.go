package experiments

import (
	"math"
	"testing"
)

// TestAgreementPoints: the agreement figure pairs a trained cell with the
// theory cell of the same sw2, depth and time only, and counts a point as
// within 2 combined SDs when |trained - theory| <= 2 sqrt(sd1^2 + sd2^2).
func TestAgreementPoints(t *testing.T) {
	g := TrainabilityGrid{SW2: []float64{1, 2, 3}, Depths: []int{1, 2, 4}, Times: []float64{1, 8, 64}, SB2: 0.18}
	th := newMaps(g, 10, true)
	tg := TrainedGrid{TrainabilityGrid: g, Steps: 8, Seeds: 4}
	tg.SW2, tg.Depths = []float64{1, 3}, []int{2, 3} // depth 3 has no theory cell
	tr := newMaps(tg.TrainabilityGrid, 10, false)
	// Theory value 0.1 * (it + 1) + depth + sw2 / 10 names its cell.
	for it := range g.Times {
		for id, d := range g.Depths {
			for is, s := range g.SW2 {
				th.Test[it][id][is] = 0.1*float64(it+1) + float64(d) + s/10
				th.TestSD[it][id][is] = 0.1
			}
		}
	}
	for it := range tg.Times {
		for is := range tg.SW2 {
			tr.Test[it][0][is] = th.Test[it][1][2*is] + 0.3 // 0.3 from the theory
			tr.TestSD[it][0][is] = 0.1
			tr.Test[it][1][is] = 0.5
		}
	}
	_, test := trainabilityAgreement(th, tr, tg)
	// t = 1 and 8 (64 is beyond the 8 steps), sw2 1 and 3, depth 2.
	if len(test) != 4 {
		t.Fatalf("%d points, want 4: %+v", len(test), test)
	}
	for _, p := range test {
		if math.Abs(p.Trained-p.Theory-0.3) > 1e-12 || math.Abs(p.combinedSD()-0.1*math.Sqrt2) > 1e-15 {
			t.Errorf("point %+v: trained - theory %g, combined SD %g; want 0.3 and 0.1414", p, p.Trained-p.Theory, p.combinedSD())
		}
	}
	// 0.3 > 2 x 0.1414: none within; with the trained SD 0.2, 0.3 <= 2 x 0.2236.
	if in, n := fractionWithin(test, 2, false); in != 0 || n != 4 {
		t.Errorf("within 2 SDs: %d of %d, want 0 of 4", in, n)
	}
	for i := range test {
		test[i].TrainedSD = 0.2
	}
	if in, n := fractionWithin(test, 2, true); in != 2 || n != 2 {
		t.Errorf("within 2 SDs at the last time: %d of %d, want 2 of 2", in, n)
	}
}
