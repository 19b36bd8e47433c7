package experiments

import (
	"fmt"
	"math"

	"github.com/ntkharness/ntkharness/plots"
	"github.com/ntkharness/ntkharness/theory"
)

func init() {
	register(Figure{Name: "phase", Title: "Phase diagrams of erf and tanh networks", Summary: "q*, c* and chi_1 over sw2 x sb2 with the critical line", Run: runPhase, PaperInRun: true})
}

// phaseGrid is the sw2 x sb2 grid of the phase diagrams.
func phaseGrid(scale string) (sw2, sb2 []float64) {
	n, m := 61, 26
	if scale == Paper {
		n, m = 121, 51
	}
	// sw2 = 0 and sb2 = 0 are excluded: no network at sw2 = 0, and at
	// sb2 = 0 the ordered fixed point is q* = 0 where c* is undefined.
	return linspace(0.05, 3, n), linspace(0.01, 0.25, m)
}

// runPhase computes the mean-field phase diagrams, where the variance map
// q^{l+1} = sw2 E[phi(z)^2] + sb2 (z ~ N(0, q^l)) has the fixed point q*,
// the correlation map its fixed point c*, and the network is ordered
// (correlations converge to c* = 1) or chaotic: for erf and tanh,
// q*, c* and chi_1 = sw2 E[phi'(z)^2] on a grid of (sw2, sb2), with the
// critical line chi_1 = 1 from theory.CriticalSW2. Ordered (chi_1 < 1) lies
// left of the line, chaotic (chi_1 > 1) right of it.
func runPhase(cfg Config) (Result, error) {
	sw2s, sb2s := phaseGrid(cfg.Scale)
	acts := []string{"erf", "tanh"}
	fig := plots.Figure{Title: "Mean-field phase diagrams", Rows: len(acts), Cols: 3}
	total := len(acts) * len(sw2s) * len(sb2s)
	done := 0
	var numbers []plots.KeyNumber
	mismatch := 0
	for _, name := range acts {
		act, err := theory.ActivationByName(name)
		if err != nil {
			return Result{}, err
		}
		q, c, chi := grid(len(sb2s), len(sw2s)), grid(len(sb2s), len(sw2s)), grid(len(sb2s), len(sw2s))
		for i, sb2 := range sb2s {
			for j, sw2 := range sw2s {
				mf, err := theory.SolveMeanField(act, sw2, sb2)
				if err != nil {
					return Result{}, fmt.Errorf("%s sw2=%g sb2=%g: %w", name, sw2, sb2, err)
				}
				q[i][j], c[i][j], chi[i][j] = mf.QStar, mf.CStar, mf.Chi1
				done++
				if cfg.Progress != nil {
					cfg.Progress(done, total)
				}
			}
		}
		// The critical line, and a check of it against the grid: every
		// cell left of the line has chi_1 < 1, every cell right of it > 1.
		crit := plots.Series{Label: "critical line chi_1 = 1", Style: plots.Line, Color: 1}
		for i, sb2 := range sb2s {
			sc, err := theory.CriticalSW2(act, sb2)
			if err != nil {
				return Result{}, fmt.Errorf("%s critical line at sb2=%g: %w", name, sb2, err)
			}
			crit.X = append(crit.X, sc)
			crit.Y = append(crit.Y, sb2)
			for j, sw2 := range sw2s {
				if (sw2 < sc) != (chi[i][j] < 1) && math.Abs(sw2-sc) > 1e-6 {
					mismatch++
				}
			}
		}
		mid := crit.X[len(crit.X)/2]
		numbers = append(numbers, plots.KeyNumber{Name: name + " critical sw2 at sb2 = " + plots.FormatFloat(sb2s[len(sb2s)/2]), Value: plots.FormatFloat(mid)})
		notes := []plots.Note{{X: 0.15, Y: 0.2, Text: "ordered"}, {X: math.Min(mid+0.3, 2.5), Y: 0.2, Text: "chaotic"}}
		for _, p := range []struct {
			label string
			z     plots.Grid
		}{{"q*", q}, {"c*", c}, {"chi_1", chi}} {
			fig.Panels = append(fig.Panels, plots.Panel{
				Title: name + ": " + p.label, XLabel: "sw2", YLabel: "sb2",
				Heat:   &plots.HeatMap{Label: p.label, X: sw2s, Y: sb2s, Z: p.z},
				Series: []plots.Series{crit}, Notes: notes, Legend: plots.LegendAuto,
			})
		}
	}
	obs := fmt.Sprintf("On the %d x %d grid, %d cells disagree with the side of the critical line they lie on; c* = 1 left of the line and c* < 1 right of it.", len(sw2s), len(sb2s), mismatch)
	return Result{Figure: fig, Caption: plots.ReportFigure{
		Theory:   "chi_1 < 1 (ordered: all inputs converge, c* = 1) left of the critical line chi_1 = 1, chi_1 > 1 (chaotic: c* < 1) right of it; the line moves to larger sw2 as sb2 grows.",
		Observed: obs,
		Numbers:  numbers,
	}}, nil
}

func grid(rows, cols int) plots.Grid {
	g := make(plots.Grid, rows)
	for i := range g {
		g[i] = make([]float64, cols)
	}
	return g
}
