package experiments

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/datasets/npyarray"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/train"

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
	change, changeObs, err := trainingChange(sub, cfg, ws.depth, ws.sw2, ws.sb2)
	if err != nil {
		return Result{}, err
	}
	obs += changeObs
	if why != "" {
		nums = append(nums, plots.KeyNumber{Name: "CIFAR-10", Value: "not used", Note: why})
	}
	panel.Title = fmt.Sprintf("mean of %d empirical NTKs vs analytic", ws.samples)
	fig := plots.Figure{Title: fmt.Sprintf("Finite width: erf depth %d, sw2 = %g, sb2 = %g, %d %s images (7x7 gray)", ws.depth, ws.sw2, ws.sb2, ws.n, note),
		Rows: 1, Cols: 2, Panels: []plots.Panel{panel, change}}
	return Result{Figure: fig, Caption: plots.ReportFigure{
		Theory:   "The empirical NTK concentrates on the analytic one: the relative error of the mean over S initializations shrinks like (width S)^-1/2 (slope -1/2 on log-log axes). Training moves the NTK little at large width (lazy training): the change is bounded by O(width^-1/2) (Lee et al. 2019), and its rate is O(1/width) (Dyer and Gur-Ari 2019), so the measured slope should lie between -1/2 and -1.",
		Observed: obs,
		Numbers:  nums,
	}}, nil
}

// changeWidths, changeSteps and changeLRFactor set the training half of the
// width figure: fcn networks trained by full-batch gradient descent at half
// eta_crit on the figure's images.
var (
	changeWidths   = []int{64, 128, 256, 512, 1024}
	changeSteps    = 256
	changeLRFactor = 0.5
)

// trainingChange trains one fcn per width from its seeded initialization and
// returns the panel of ||Theta_T - Theta_0||_F / ||Theta_0||_F vs width.
func trainingChange(sub *datasets.Set, cfg Config, depth int, sw2, sb2 float64) (plots.Panel, string, error) {
	x := sub.Flat()
	y := sub.OneHot(true)
	ymat := mat.NewDense(y.Shape[0], y.Shape[1], y.Data)
	var xs, ys []float64
	for _, w := range changeWidths {
		s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: depth, Width: w, SW2: sw2, SB2: sb2, Outputs: y.Shape[1]}
		initial, err := nets.New(s, []int{sub.Dim()}, ntkempirical.SeedSource(cfg.Seed, 0))
		if err != nil {
			return plots.Panel{}, "", err
		}
		trained, err := nets.New(s, []int{sub.Dim()}, ntkempirical.SeedSource(cfg.Seed, 0))
		if err != nil {
			return plots.Panel{}, "", err
		}
		h, err := train.Run(context.Background(), trained, train.Data{XTrain: x, YTrain: ymat},
			train.Options{Steps: changeSteps, LRFactor: changeLRFactor, Seed: cfg.Seed}, nil)
		if err != nil {
			return plots.Panel{}, "", fmt.Errorf("training width %d: %w", w, err)
		}
		if h.Status != train.Done {
			return plots.Panel{}, "", fmt.Errorf("training width %d: run %s", w, h.Status)
		}
		c, err := ntkempirical.KernelChange(initial, trained, x, npyarray.Array{}, ntkempirical.Options{})
		if err != nil {
			return plots.Panel{}, "", err
		}
		xs = append(xs, float64(w))
		ys = append(ys, c.Relative)
	}
	slope := (math.Log(ys[len(ys)-1]) - math.Log(ys[0])) / (math.Log(xs[len(xs)-1]) - math.Log(xs[0]))
	half, one := make([]float64, len(xs)), make([]float64, len(xs))
	for i := range xs {
		half[i] = ys[0] * math.Sqrt(xs[0]/xs[i])
		one[i] = ys[0] * xs[0] / xs[i]
	}
	panel := plots.Panel{Title: fmt.Sprintf("NTK change after %d GD steps (fcn)", changeSteps), XLabel: "width",
		YLabel: "||Theta_T - Theta_0||_F / ||Theta_0||_F", LogX: true, LogY: true,
		Series: []plots.Series{
			{Label: "trained fcn", X: xs, Y: ys, Style: plots.LineMarkers, Color: 1},
			{Label: "slope -1/2", X: xs, Y: half, Style: plots.Line, Dashed: true, Color: 2},
			{Label: "slope -1", X: xs, Y: one, Style: plots.Line, Dashed: true, Color: 3},
		}}
	obs := fmt.Sprintf("Training changes the fcn NTK by %.3g at width %d and %.3g at width %d (log-log slope %.2f).",
		ys[0], changeWidths[0], ys[len(ys)-1], changeWidths[len(changeWidths)-1], slope)
	return panel, obs, nil
}
