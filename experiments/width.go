package experiments

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/ntkempirical"
	"github.com/ntkharness/ntkharness/plots"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
	"github.com/ntkharness/ntkharness/train"
)

func init() {
	register(Figure{Name: "width", Title: "Finite-width error of the empirical NTK",
		Summary: "relative Frobenius error of the mean empirical NTK against the analytic one vs width, fcn, cnn-f and cnn-gap",
		Run:     runWidth, Paper: paperWidth})
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
	xs, ys, es := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	for _, a := range archs {
		x := sub.Array()
		inShape := []int{sub.H, sub.W, sub.C}
		if a == spec.FCN {
			x = sub.Flat()
			inShape = []int{sub.Dim()}
		}
		for _, w := range ws.widths[a] {
			s := spec.Spec{Arch: a, Act: spec.Erf, Depth: ws.depth, Width: w, SW2: ws.sw2, SB2: ws.sb2, Outputs: 10}
			rel, se, err := widthRelErr(s, inShape, x, cfg.Seed, ws.samples)
			if err != nil {
				return Result{}, fmt.Errorf("%s width %d: %w", a, w, err)
			}
			xs[a] = append(xs[a], float64(w))
			ys[a] = append(ys[a], rel)
			es[a] = append(es[a], se)
			done++
			if cfg.Progress != nil {
				cfg.Progress(done, total)
			}
		}
	}
	panel, obs, nums := widthErrorPanel(archs, xs, ys, es, ws.samples)
	change, changeObs, err := trainingChange(sub, cfg, ws.depth, ws.sw2, ws.sb2)
	if err != nil {
		return Result{}, err
	}
	if why != "" {
		nums = append(nums, plots.KeyNumber{Name: "CIFAR-10", Value: "not used", Note: why})
	}
	return widthResult(fmt.Sprintf("Finite width: erf depth %d, sw2 = %g, sb2 = %g, %d %s images (7x7 gray)", ws.depth, ws.sw2, ws.sb2, ws.n, note),
		panel, change, obs+changeObs, nums), nil
}

// widthRelErr is the relative Frobenius error of the mean empirical NTK
// of samples networks against the analytic NTK, as
// ntkempirical.CompareTheory computes it (the same networks, summed in the
// same order, so the same number), and its jackknife standard error over
// the networks: the spread of the errors of the means that leave one
// network out.
func widthRelErr(s spec.Spec, inShape []int, x npy.Array, seed uint64, samples int) (rel, se float64, err error) {
	ks := make([]*mat.Dense, samples)
	for m := range ks {
		net, err := nets.New(s, inShape, nets.InitSource(seed, m))
		if err != nil {
			return 0, 0, err
		}
		k, err := ntkempirical.Compute(net, x, x, ntkempirical.Options{})
		net.Close()
		if err != nil {
			return 0, 0, err
		}
		ks[m] = k.NTK
	}
	th, err := theory.Compute(s, x, x, theory.Options{})
	if err != nil {
		return 0, 0, fmt.Errorf("analytic kernel: %w", err)
	}
	sum := mat.DenseCopyOf(ks[0])
	for _, k := range ks[1:] {
		sum.Add(sum, k)
	}
	mean := mat.DenseCopyOf(sum)
	if samples > 1 {
		mean.Scale(1/float64(samples), mean)
	}
	if rel, err = ntkempirical.RelativeFrobenius(mean, th.NTK); err != nil || samples < 2 {
		return rel, math.NaN(), err
	}
	loo := make([]float64, samples)
	var avg float64
	for m, k := range ks {
		var d mat.Dense
		d.Sub(sum, k)
		d.Scale(1/float64(samples-1), &d)
		if loo[m], err = ntkempirical.RelativeFrobenius(&d, th.NTK); err != nil {
			return 0, 0, err
		}
		avg += loo[m] / float64(samples)
	}
	var ss float64
	for _, v := range loo {
		ss += (v - avg) * (v - avg)
	}
	return rel, math.Sqrt(float64(samples-1) / float64(samples) * ss), nil
}

// widthErrorPanel draws the relative error of the mean empirical NTK vs
// width per architecture (xs: widths, ys: errors, es: their standard
// errors over the networks, nil when unknown) as markers with error bars,
// with slope -1/2 lines, and reports each fitted log-log slope.
func widthErrorPanel(archs []string, xs, ys, es map[string][]float64, samples int) (plots.Panel, string, []plots.KeyNumber) {
	panel := plots.Panel{Title: fmt.Sprintf("mean of %d empirical NTKs vs analytic", samples), XLabel: "width (units or channels)", YLabel: "||Theta_emp - Theta||_F / ||Theta||_F", LogX: true, LogY: true}
	var nums []plots.KeyNumber
	obs := ""
	if es != nil {
		obs = fmt.Sprintf("Error bars: jackknife standard error over the %d networks. ", samples)
	}
	for ia, a := range archs {
		x, y := xs[a], ys[a]
		if len(x) < 2 {
			obs += fmt.Sprintf("%s: fewer than 2 widths computed. ", a)
			continue
		}
		slope := logSlope(x, y)
		ref := make([]float64, len(x))
		for i := range x {
			ref[i] = y[0] * math.Sqrt(x[0]/x[i])
		}
		panel.Series = append(panel.Series,
			plots.Series{Label: a, X: x, Y: y, YErr: es[a], Style: plots.Markers, Color: ia + 1},
			plots.Series{Label: a + ": slope -1/2", X: x, Y: ref, Style: plots.Line, Dashed: true, Color: ia + 1})
		obs += fmt.Sprintf("%s: fitted log-log slope %.2f. ", a, slope)
		nums = append(nums, plots.KeyNumber{Name: a + " slope", Value: fmt.Sprintf("%.3f", slope), Note: fmt.Sprintf("widths %v", x)})
	}
	return panel, obs, nums
}

// logSlope is the log-log slope between the first and last points.
func logSlope(x, y []float64) float64 {
	n := len(x) - 1
	return (math.Log(y[n]) - math.Log(y[0])) / (math.Log(x[n]) - math.Log(x[0]))
}

// widthResult assembles the width figure from its two panels.
func widthResult(title string, errors, change plots.Panel, obs string, nums []plots.KeyNumber) Result {
	fig := plots.Figure{Title: title, Rows: 1, Cols: 2, Panels: []plots.Panel{errors, change}}
	return Result{Figure: fig, Caption: plots.ReportFigure{
		Theory:   "The empirical NTK concentrates on the analytic one: the relative error of the mean over S initializations shrinks like (width S)^-1/2 (slope -1/2 on log-log axes). Training moves the NTK little at large width (lazy training): the change is bounded by O(width^-1/2) (Lee et al. 2019), and its rate is O(1/width) (Dyer and Gur-Ari 2019), so the measured slope should lie between -1/2 and -1.",
		Observed: obs,
		Numbers:  nums,
	}}
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
	ymat := datasets.OneHot(sub.Labels, sub.Classes, true)
	var xs, ys []float64
	for _, w := range changeWidths {
		s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: depth, Width: w, SW2: sw2, SB2: sb2, Outputs: sub.Classes}
		initial, err := nets.New(s, []int{sub.Dim()}, nets.InitSource(cfg.Seed, 0))
		if err != nil {
			return plots.Panel{}, "", err
		}
		trained, err := nets.New(s, []int{sub.Dim()}, nets.InitSource(cfg.Seed, 0))
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
		c, err := ntkempirical.KernelChange(initial, trained, x, npy.Array{}, ntkempirical.Options{})
		if err != nil {
			return plots.Panel{}, "", err
		}
		xs = append(xs, float64(w))
		ys = append(ys, c.Relative)
	}
	panel, obs := changePanel(xs, ys, changeSteps)
	return panel, obs, nil
}

// changePanel draws the relative change of the NTK during steps of
// training vs width with slope -1/2 and -1 lines.
func changePanel(xs, ys []float64, steps int) (plots.Panel, string) {
	slope := logSlope(xs, ys)
	half, one := make([]float64, len(xs)), make([]float64, len(xs))
	for i := range xs {
		half[i] = ys[0] * math.Sqrt(xs[0]/xs[i])
		one[i] = ys[0] * xs[0] / xs[i]
	}
	panel := plots.Panel{Title: fmt.Sprintf("NTK change after %d GD steps (fcn)", steps), XLabel: "width",
		YLabel: "||Theta_T - Theta_0||_F / ||Theta_0||_F", LogX: true, LogY: true,
		Series: []plots.Series{
			{Label: "trained fcn", X: xs, Y: ys, Style: plots.LineMarkers, Color: 1},
			{Label: "slope -1/2", X: xs, Y: half, Style: plots.Line, Dashed: true, Color: 2},
			{Label: "slope -1", X: xs, Y: one, Style: plots.Line, Dashed: true, Color: 3},
		}}
	obs := fmt.Sprintf("Training changes the fcn NTK by %.3g at width %g and %.3g at width %g (log-log slope %.2f).",
		ys[0], xs[0], ys[len(ys)-1], xs[len(xs)-1], slope)
	return panel, obs
}

// widthPaper is the paper scale of the width figure: 32 images (8x8 or
// 7x7 gray), means of 8 networks, widths over two decades, and fcn
// networks trained for 1024 steps for the NTK change.
var widthPaper = widthGrid{32, 8, 1024, map[string][]int{
	spec.FCN:    {64, 128, 256, 512, 1024, 2048, 4096},
	spec.CNNF:   {8, 16, 32, 64, 128, 256},
	spec.CNNGAP: {8, 16, 32, 64, 128, 256},
}, []int{64, 128, 256, 512, 1024, 2048, 4096}}

// widthGrid sets the sweeps of the width figure: n images, means of
// samples networks per width, and fcn networks trained for steps.
type widthGrid struct {
	n, samples, steps int
	widths            map[string][]int
	changeWidths      []int
}

func paperWidth(cfg Config) (SweepPlan, error) { return widthPlan(cfg, widthPaper) }

// widthPlan runs the width figure as one "ntk" sweep per architecture
// (axis width) and one "train" sweep with kernel_change (axis width).
func widthPlan(cfg Config, wp widthGrid) (SweepPlan, error) {
	ws := widthSetting
	data, note, err := sweepData(cfg)
	if err != nil {
		return SweepPlan{}, err
	}
	settings := func(extra map[string]any) map[string]any {
		st := map[string]any{"n_train": wp.n, "grayscale": true, "downsample": 4}
		for _, m := range []map[string]any{data, extra} {
			for k, v := range m {
				st[k] = v
			}
		}
		return st
	}
	archs := []string{spec.FCN, spec.CNNF, spec.CNNGAP}
	var files []sweep.File
	for _, a := range archs {
		files = append(files, sweep.File{
			Name:     "width-ntk-" + a,
			Spec:     spec.Spec{Arch: a, Act: spec.Erf, Depth: ws.depth, Width: 1, SW2: ws.sw2, SB2: ws.sb2, Outputs: 10},
			Grid:     map[string]sweep.Axis{"width": intAxis(wp.widths[a])},
			Kinds:    []string{"ntk"},
			Settings: settings(map[string]any{"n_test": 1, "samples": wp.samples}),
			Seed:     int64(cfg.Seed),
		})
	}
	files = append(files, sweep.File{
		Name:     "width-change",
		Spec:     spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: ws.depth, Width: 1, SW2: ws.sw2, SB2: ws.sb2, Outputs: 10},
		Grid:     map[string]sweep.Axis{"width": intAxis(wp.changeWidths)},
		Kinds:    []string{"train"},
		Settings: settings(map[string]any{"n_test": wp.n, "steps": wp.steps, "times": []any{float64(wp.steps)}, "eta_frac": changeLRFactor, "kernel_change": true}),
		Seed:     int64(cfg.Seed),
	})
	return SweepPlan{Files: files, Draw: func(tables []sweep.Table) (Result, error) {
		xs, ys := map[string][]float64{}, map[string][]float64{}
		for ia, a := range archs {
			xs[a], ys[a] = tableCurve(tables[ia], "width", "ntk.rel_err")
		}
		// The sweep cells keep only the error of the mean kernel.
		panel, obs, nums := widthErrorPanel(archs, xs, ys, nil, wp.samples)
		cx, cy := tableCurve(tables[len(archs)], "width", "train.ntk_change")
		if len(cx) < 2 {
			return Result{}, fmt.Errorf("width figure: fewer than 2 trained widths have an NTK change")
		}
		change, changeObs := changePanel(cx, cy, wp.steps)
		return widthResult(fmt.Sprintf("Finite width: erf depth %d, sw2 = %g, sb2 = %g, %d %s images (gray, downsampled 4x)", ws.depth, ws.sw2, ws.sb2, wp.n, note),
			panel, change, obs+changeObs, nums), nil
	}}, nil
}
