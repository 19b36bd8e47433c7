package plots

import (
	"fmt"
	"math"
)

// The sample figures below exercise every kind of figure the harness
// draws, with synthetic closed-form data (no science): they are drawn by
// the tests, and `go test ./plots -run Samples -plots.out DIR` keeps them
// for a look.

func linspace(a, b float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = a + (b-a)*float64(i)/float64(n-1)
	}
	return out
}

// paperDepths are the depths of the headline experiment: 0..9, 10..105 by 5.
func paperDepths() []float64 {
	var d []float64
	for i := 0; i < 10; i++ {
		d = append(d, float64(i))
	}
	for i := 10; i <= 105; i += 5 {
		d = append(d, float64(i))
	}
	return d
}

func samplePhase() Figure {
	sw := linspace(0, 3, 31)
	sb := linspace(0, 0.25, 11)
	crit := make([]float64, len(sb))
	for i, b := range sb {
		crit[i] = 1.5 + 1.5*b
	}
	var panels []Panel
	for _, q := range []string{"q*", "c*", "χ₁"} {
		z := make([][]float64, len(sb))
		for i, b := range sb {
			z[i] = make([]float64, len(sw))
			for j, w := range sw {
				z[i][j] = w*w/3 + 4*b + float64(len(q))
			}
		}
		panels = append(panels, Panel{
			Title: "erf: " + q, XLabel: "σ²_w", YLabel: "σ²_b",
			Heat:   &HeatMap{Label: q, X: sw, Y: sb, Z: z},
			Series: []Series{{Label: "critical line χ₁ = 1", X: crit, Y: sb, Dashed: true, Color: ColorWhite}},
			Notes:  []Note{{X: 0.3, Y: 0.2, Text: "ordered"}, {X: 2.3, Y: 0.2, Text: "chaotic"}},
		})
	}
	return Figure{Title: "Phase diagram (synthetic)", Rows: 1, Cols: 3, Panels: panels}
}

func sampleDepthScales() Figure {
	sw := linspace(0.5, 3, 51)
	xi1, xis := make([]float64, len(sw)), make([]float64, len(sw))
	for i, w := range sw {
		d := math.Abs(w - 1.75)
		xi1[i], xis[i] = 1/d, 0.5/d
		if w > 1.75 {
			xi1[i] = math.NaN()
		}
		if w < 1.75 {
			xis[i] = math.NaN()
		}
	}
	xi1[25] = math.Inf(1)
	return Figure{Rows: 1, Cols: 1, Panels: []Panel{{
		Title: "depth scales, σ²_b = 0.05", XLabel: "σ²_w", YLabel: "depth scale (layers)", LogY: true,
		Series: []Series{
			{Label: "ξ₁", X: sw, Y: xi1},
			{Label: "ξ*", X: sw, Y: xis},
		},
		Refs: []RefLine{{Vertical: true, At: 1.75, Label: "critical σ²_w"}},
	}}}
}

func sampleNTKDepth() Figure {
	var ls []float64
	for l := 1.0; l <= 400; l *= 1.25 {
		ls = append(ls, math.Round(l))
	}
	var panels []Panel
	for k, name := range []string{"ordered", "critical", "chaotic"} {
		th, as := make([]float64, len(ls)), make([]float64, len(ls))
		for i, l := range ls {
			th[i] = (1 + float64(k)) * (l + 3) / (1 + 0.01*l)
			as[i] = (1 + float64(k)) * 100
		}
		el := []float64{1, 4, 16, 64, 256}
		ey, ee := make([]float64, len(el)), make([]float64, len(el))
		for i, l := range el {
			ey[i] = (1 + float64(k)) * (l + 3) / (1 + 0.01*l) * (1 + 0.03*float64(i%2))
			ee[i] = 0.1 * ey[i]
		}
		panels = append(panels, Panel{
			Title: name, XLabel: "depth l", YLabel: "Θ_aa", LogX: true, LogY: true,
			Series: []Series{
				{Label: "theory", X: ls, Y: th, Color: 1},
				{Label: "asymptote", X: ls, Y: as, Dashed: true, Color: 1},
				{Label: "width 512", X: el, Y: ey, YErr: ee, Style: Markers, Color: 2},
			},
		})
	}
	return Figure{Title: "NTK vs depth (synthetic)", Rows: 1, Cols: 3, Panels: panels}
}

// sampleTrainability is the headline layout: 2 rows (train, test) x 10
// columns (5 times for theory, 5 for finite networks), one shared colour
// scale, non-uniform depths drawn with equal rows, missing and diverged
// cells, and 8 ξ curves overlaid.
func sampleTrainability() Figure {
	sw := linspace(0.5, 3, 40)
	depths := paperDepths()
	xi1, xis := make([]float64, len(sw)), make([]float64, len(sw))
	for i, w := range sw {
		d := math.Abs(w - 1.75)
		xi1[i], xis[i] = 8*1.5/d, 8*0.8/d
		if w > 1.75 {
			xi1[i] = math.NaN()
		} else {
			xis[i] = math.NaN()
		}
	}
	var panels []Panel
	for row, what := range []string{"train", "test"} {
		for col := 0; col < 10; col++ {
			t := []int{1, 8, 64, 512, 4096}[col%5]
			src := "theory"
			if col >= 5 {
				src = "trained"
			}
			_ = src
			z := make([][]float64, len(depths))
			var flag [][]bool
			if src == "trained" {
				flag = make([][]bool, len(depths))
			}
			for i, d := range depths {
				z[i] = make([]float64, len(sw))
				if flag != nil {
					flag[i] = make([]bool, len(sw))
				}
				for j, w := range sw {
					z[i][j] = 1 / (1 + math.Exp((d-xi1[j]-xis[j]*0)/(10+float64(t)/400)-float64(row)-w))
					if math.IsNaN(z[i][j]) {
						z[i][j] = 0.1 + 0.8*math.Exp(-d/(1+math.Log(float64(t))*(w)))
					}
					if src == "trained" && d > 60 && j%3 == 0 {
						z[i][j] = math.NaN() // not run
					}
					if flag != nil && w > 2.8 && d > 80 {
						flag[i][j] = true
					}
				}
			}
			panels = append(panels, Panel{
				Title: fmt.Sprintf("%s, t = %d", what, t), XLabel: "σ²_w", YLabel: "depth",
				Heat: &HeatMap{Label: what + " accuracy", X: sw, Y: depths, Z: z, Flag: flag, FlagLabel: "diverged", EqualRows: true},
				Series: []Series{
					{Label: "8 ξ₁", X: sw, Y: xi1, Dashed: true, Color: ColorWhite},
					{Label: "8 ξ*", X: sw, Y: xis, Dashed: true, Color: ColorOrange},
				},
			})
		}
	}
	return Figure{Title: "Trainability and generalization (synthetic)", Rows: 2, Cols: 10, Panels: panels,
		ColorBar: &ColorBar{Label: "accuracy", Min: 0, Max: 1}, PanelWidth: 6.5, PanelHeight: 6,
		Groups: []string{"infinite-width theory", "trained networks, width 512"}}
}

func sampleWidth() Figure {
	ws := []float64{64, 128, 256, 512, 1024, 2048}
	e, ee, ref := make([]float64, len(ws)), make([]float64, len(ws)), make([]float64, len(ws))
	for i, w := range ws {
		e[i] = 2 / math.Sqrt(w) * (1 + 0.05*float64(i%2))
		ee[i] = 0.2 * e[i]
		ref[i] = 2 / math.Sqrt(w)
	}
	return Figure{Rows: 1, Cols: 1, Panels: []Panel{{
		Title: "finite-width error", XLabel: "width n", YLabel: "relative error ‖Θ − Θ∞‖/‖Θ∞‖", LogX: true, LogY: true,
		Series: []Series{
			{Label: "measured", X: ws, Y: e, YErr: ee, Style: LineMarkers},
			{Label: "slope −1/2", X: ws, Y: ref, Dashed: true, Color: ColorGrey},
		},
	}}}
}

func sampleDynamics() Figure {
	steps := []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096}
	var ss []Series
	for k, w := range []int{128, 512, 2048} {
		pred, meas := make([]float64, len(steps)), make([]float64, len(steps))
		for i, t := range steps {
			pred[i] = 0.5 * math.Exp(-t/(300*float64(k+1)))
			meas[i] = pred[i] * (1 + 0.3/math.Sqrt(float64(w)))
		}
		ss = append(ss,
			Series{Label: fmt.Sprintf("prediction, n = %d", w), X: steps, Y: pred, Color: k + 1},
			Series{Label: fmt.Sprintf("trained, n = %d", w), X: steps, Y: meas, Style: Markers, Color: k + 1})
	}
	return Figure{Rows: 1, Cols: 1, Panels: []Panel{{
		Title: "training loss", XLabel: "step t", YLabel: "train loss", LogX: true, Series: ss,
	}}}
}

func sampleMeanPredictor() Figure {
	var ls, th, ref []float64
	for l := 1.0; l <= 120; l += 7 {
		ls = append(ls, l)
		ref = append(ref, l*math.Pow(0.94, l))
		th = append(th, l*math.Pow(0.94, l)*(1+0.2/l))
	}
	return Figure{Rows: 1, Cols: 1, Panels: []Panel{{
		Title: "mean predictor, chaotic phase", XLabel: "depth l", YLabel: "|P(Θ^l) Y|", LogY: true,
		Series: []Series{
			{Label: "theory", X: ls, Y: th, Style: Markers},
			{Label: "l (χ_c*/χ₁)^l", X: ls, Y: ref, Dashed: true, Color: ColorGrey},
		},
	}}}
}

func samplePooling() Figure {
	ls := []float64{1, 2, 4, 8, 16, 32, 64}
	var ss []Series
	for k, arch := range []string{"fcn", "cnn-f", "cnn-gap"} {
		th, tr := make([]float64, len(ls)), make([]float64, len(ls))
		for i, l := range ls {
			th[i] = 0.1 + 0.35*math.Exp(-l/(8*float64(k+1)))
			tr[i] = th[i] * (1 - 0.03*float64(i%2))
		}
		ss = append(ss, Series{Label: arch + " theory", X: ls, Y: th, Color: k + 1},
			Series{Label: arch + " trained", X: ls, Y: tr, Style: Markers, Color: k + 1})
	}
	return Figure{Rows: 1, Cols: 1, Panels: []Panel{{
		Title: "pooling", XLabel: "depth l", YLabel: "test accuracy", LogX: true, Series: ss, Legend: LegendRight,
		Refs: []RefLine{{At: 0.1, Label: "chance"}},
	}}}
}

func samples() map[string]Figure {
	return map[string]Figure{
		"mean-predictor": sampleMeanPredictor(),
		"pooling":        samplePooling(),
		"phase":          samplePhase(),
		"depthscales":    sampleDepthScales(),
		"ntk-depth":      sampleNTKDepth(),
		"trainability":   sampleTrainability(),
		"width":          sampleWidth(),
		"dynamics":       sampleDynamics(),
	}
}
