package experiments

import (
	"fmt"
	"math"

	"github.com/ntkharness/ntkharness/nets/spec"
	"github.com/ntkharness/ntkharness/ntkempirical"
	"github.com/ntkharness/ntkharness/plots"
	"github.com/ntkharness/ntkharness/theory"
)

func init() {
	register(Spec{Name: "width", Title: "Finite-width error of the empirical NTK",
		Summary: "relative Frobenius error of the mean empirical NTK against the analytic one vs width, fcn, cnn-f and cnn-gap",
		Run:     runWidth})
}

// widthSetting is the quick setting of the width figure: erf networks of
// depth 3 at sw2 = 1.5, sb2 = 0.05 on 8 MNIST images downsampled 4x (7x7).
var widthSetting = struct {
	depth    int
	sw2, sb2 float64
	n        int
	samples  int
	widths   map[string][]int
}{3, 1.5, 0.05, 8, 4, map[string][]int{
	spec.FCN:    {32, 64, 128, 256, 512},
	spec.CNNF:   {4, 8, 16, 32},
	spec.CNNGAP: {4, 8, 16, 32},
}}

func runWidth(cfg Config) (Result, error) {
	ws := widthSetting
	train, _, note, why, err := loadData(cfg)
	if err != nil {
		return Result{}, err
	}
	sub, err := train.Subset(ws.n, false, cfg.Seed)
	if err != nil {
		return Result{}, err
	}
	if sub, err = sub.Grayscale().Downsample(sub.H / 7); err != nil {
		return Result{}, err
	}
	if sub, err = sub.Standardize(); err != nil {
		return Result{}, err
	}
	archs := []string{spec.FCN, spec.CNNF, spec.CNNGAP}
	total, done := 0, 0
	for _, a := range archs {
		total += len(ws.widths[a])
	}
	panel := plots.Panel{Title: "mean empirical NTK vs analytic", XLabel: "width (units or channels)", YLabel: "||Theta_emp - Theta||_F / ||Theta||_F", LogX: true, LogY: true}
	var nums []plots.KeyNumber
	obs := ""
	for ia, a := range archs {
		x := sub.Array()
		inShape := []int{sub.H, sub.W, sub.C}
		if a == spec.FCN {
			x = sub.Flat()
			inShape = []int{sub.Dim()}
		}
		var xs, ys []float64
		for _, w := range ws.widths[a] {
			s := spec.Spec{Arch: a, Act: spec.Erf, Depth: ws.depth, Width: w, SW2: ws.sw2, SB2: ws.sb2, Outputs: 10}
			c, err := ntkempirical.CompareTheory(s, inShape, x, x, cfg.Seed, ws.samples, ntkempirical.Options{}, theory.Options{})
			if err != nil {
				return Result{}, fmt.Errorf("%s width %d: %w", a, w, err)
			}
			xs = append(xs, float64(w))
			ys = append(ys, c.Relative)
			done++
			if cfg.Progress != nil {
				cfg.Progress(done, total)
			}
		}
		slope := (math.Log(ys[len(ys)-1]) - math.Log(ys[0])) / (math.Log(xs[len(xs)-1]) - math.Log(xs[0]))
		ref := make([]float64, len(xs))
		for i := range xs {
			ref[i] = ys[0] * math.Sqrt(xs[0]/xs[i])
		}
		panel.Series = append(panel.Series,
			plots.Series{Label: a, X: xs, Y: ys, Style: plots.Line, Color: ia + 1},
			plots.Series{Label: a + ": slope -1/2", X: xs, Y: ref, Style: plots.Line, Dashed: true, Color: ia + 1})
		obs += fmt.Sprintf("%s: fitted log-log slope %.2f. ", a, slope)
		nums = append(nums, plots.KeyNumber{Name: a + " slope", Value: fmt.Sprintf("%.3f", slope), Note: fmt.Sprintf("widths %v", ws.widths[a])})
	}
	if why != "" {
		nums = append(nums, plots.KeyNumber{Name: "CIFAR-10", Value: "not used", Note: why})
	}
	fig := plots.Figure{Title: fmt.Sprintf("Empirical vs analytic NTK, erf depth %d, sw2 = %g, sb2 = %g, %d %s images (7x7 grayscale), mean of %d initializations", ws.depth, ws.sw2, ws.sb2, ws.n, note, ws.samples),
		Rows: 1, Cols: 1, Panels: []plots.Panel{panel}}
	return Result{Figure: fig, Caption: plots.ReportFigure{
		Theory:   "The empirical NTK concentrates on the analytic one: the relative error of the mean over S initializations shrinks like (width S)^-1/2 (slope -1/2 on log-log axes).",
		Observed: obs + "The relative change of the NTK during training is not yet shown.",
		Numbers:  nums,
	}}, nil
}
