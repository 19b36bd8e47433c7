package experiments

import (
	"fmt"

	"github.com/ntkharness/ntkharness/plots"
	"github.com/ntkharness/ntkharness/theory"
)

func init() {
	register(Figure{Name: "depthscales", Title: "Depth scales at sb2 = 0.05", Summary: "xi_1, xi_* and xi_c* vs sw2, diverging at the critical point", Run: runDepthScales, PaperInRun: true})
}

// depthScalesSB2 is the bias variance of the depthscales figure.
const depthScalesSB2 = 0.05

// depthScales returns xi_1, xi_* and xi_c* of erf networks at sb2 along sw2
// (NaN where a scale does not exist) and the critical sw2.
func depthScales(sw2s []float64, sb2 float64) (xi1, xiStar, xiC []float64, crit float64, err error) {
	act, err := theory.ActivationByName("erf")
	if err != nil {
		return nil, nil, nil, 0, err
	}
	for _, sw2 := range sw2s {
		mf, err := theory.SolveMeanField(act, sw2, sb2)
		if err != nil {
			return nil, nil, nil, 0, fmt.Errorf("sw2=%g sb2=%g: %w", sw2, sb2, err)
		}
		xi1 = append(xi1, mf.Xi1)
		xiStar = append(xiStar, mf.XiStar)
		xiC = append(xiC, mf.XiCStar)
	}
	crit, err = theory.CriticalSW2(act, sb2)
	return xi1, xiStar, xiC, crit, err
}

// runDepthScales plots xi_1 = -1/ln chi_1, xi_* = -1/(ln chi_c* - ln chi_1)
// and xi_c* = -1/ln chi_c* of erf networks against sw2 at sb2 = 0.05. All
// diverge at the critical sw2.
func runDepthScales(cfg Config) (Result, error) {
	n := 200
	if cfg.Scale == Paper {
		n = 1000
	}
	sw2s := linspace(0.5, 3, n)
	xi1, xiS, xiC, crit, err := depthScales(sw2s, depthScalesSB2)
	if err != nil {
		return Result{}, err
	}
	if cfg.Progress != nil {
		cfg.Progress(1, 1)
	}
	// The largest finite scale on each side, as a measure of the divergence.
	maxOrd, atOrd, maxCh, atCh := 0.0, 0.0, 0.0, 0.0
	for i, sw2 := range sw2s {
		if theory.Has(xi1[i]) && xi1[i] > maxOrd {
			maxOrd, atOrd = xi1[i], sw2
		}
		if theory.Has(xiS[i]) && xiS[i] > maxCh {
			maxCh, atCh = xiS[i], sw2
		}
	}
	fig := plots.Figure{Title: "Depth scales of erf networks, sb2 = 0.05", Rows: 1, Cols: 1, Panels: []plots.Panel{{
		Title: "depth scales", XLabel: "sw2", YLabel: "depth scale", LogY: true,
		Series: []plots.Series{
			{Label: "xi_1 (ordered)", X: sw2s, Y: xi1, Style: plots.Line},
			{Label: "xi_* (chaotic)", X: sw2s, Y: xiS, Style: plots.Line},
			{Label: "xi_c*", X: sw2s, Y: xiC, Style: plots.Line, Dashed: true},
		},
		Refs: []plots.RefLine{{Vertical: true, At: crit, Label: "critical sw2"}},
	}}}
	return Result{Figure: fig, Caption: plots.ReportFigure{
		Theory: "xi_1 (ordered side) and xi_* (chaotic side) diverge at the critical point chi_1 = 1; signals propagate through about xi layers.",
		Observed: fmt.Sprintf("Critical sw2 = %.4f. Largest xi_1 on the grid %.3g at sw2 = %.3f, largest xi_* %.3g at sw2 = %.3f, both next to the critical point.",
			crit, maxOrd, atOrd, maxCh, atCh),
		Numbers: []plots.KeyNumber{{Name: "critical sw2 (sb2 = 0.05)", Value: fmt.Sprintf("%.6f", crit)}},
	}}, nil
}
