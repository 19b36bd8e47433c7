package experiments

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/experiments/cells"
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
	register(Figure{Name: "trainability", Title: "Trainability and generalization vs sw2 and depth",
		Summary: "train and test accuracy of the infinite-width NTK predictor at t = 1..4096 steps, with 8 xi_1 and 8 xi_* overlaid",
		Run:     runTrainability, Paper: paperTrainability})
}

// TrainabilityGrid is the setting of the theory trainability heat maps
// (the paper's companion notebook): erf networks at sb2 = SB2, N training
// points standardized by one global mean and std, one-hot targets, and
// discrete gradient descent with eta = EtaFrac * eta_crit for Times steps.
type TrainabilityGrid struct {
	SW2     []float64 // strictly increasing
	Depths  []int     // strictly increasing, >= 1
	Times   []float64 // steps
	SB2     float64
	NTrain  int
	NTest   int
	EtaFrac float64 // in (0, 1]
}

// trainabilityGrid returns the grid of a scale. The paper grid: sw2 in 40
// steps over [0.5, 3], depths 1-9 then 10-105 by 5, 256 training points.
func trainabilityGrid(scale string) TrainabilityGrid {
	g := TrainabilityGrid{SB2: 0.18, Times: []float64{1, 8, 64, 512, 4096}, EtaFrac: 0.5}
	maxDepth, nsw := 60, 12
	g.NTrain, g.NTest = 128, 128
	if scale == Paper {
		maxDepth, nsw = 105, 40
		g.NTrain, g.NTest = 256, 256
	}
	g.SW2 = linspace(0.5, 3, nsw)
	for d := 1; d <= 9; d++ {
		g.Depths = append(g.Depths, d)
	}
	for d := 10; d <= maxDepth; d += 5 {
		g.Depths = append(g.Depths, d)
	}
	return g
}

// TrainabilityMaps are the accuracies of the NTK predictor,
// Train[it][id][is] and Test[it][id][is] at time Times[it], depth Depths[id]
// and weight variance SW2[is]; NaN where the predictor failed.
type TrainabilityMaps struct {
	Grid        TrainabilityGrid
	Train, Test [][][]float64
	Chance      float64 // 1/classes
}

// prepareData returns the flattened inputs of n training and m test points
// (class-balanced seeded subsets), standardized by the global mean and std of
// the training subset, and the one-hot training targets with both label sets.
func prepareData(train, test *datasets.Set, n, m int, seed uint64) (xTrain, xTest npy.Array, y *mat.Dense, lTrain, lTest []int, err error) {
	tr, te, err := cells.PrepareSets(train, test, seed, cells.DataSettings{NTrain: n, NTest: m})
	if err != nil {
		return xTrain, xTest, nil, nil, nil, err
	}
	oh := tr.OneHot(false)
	y = mat.NewDense(oh.Shape[0], oh.Shape[1], oh.Data)
	return tr.Flat(), te.Flat(), y, tr.Labels, te.Labels, nil
}

// TheoryTrainability computes the accuracy maps of the infinite-width NTK
// predictor (theory.Predictor, discrete steps) for erf FCNs on the grid.
// One theory.Compute pass per sw2 gives every depth (EachDepth).
func TheoryTrainability(g TrainabilityGrid, xTrain, xTest npy.Array, y *mat.Dense, lTrain, lTest []int, progress func(done, total int)) (TrainabilityMaps, error) {
	n := xTrain.Shape[0]
	k := y.RawMatrix().Cols
	all := theory.StackTrainTest(xTrain, xTest)
	maps := TrainabilityMaps{Grid: g, Chance: 1 / float64(k)}
	maps.Train = nanCube(len(g.Times), len(g.Depths), len(g.SW2))
	maps.Test = nanCube(len(g.Times), len(g.Depths), len(g.SW2))
	want := map[int]int{}
	for i, dep := range g.Depths {
		want[dep] = i
	}
	maxDepth := g.Depths[len(g.Depths)-1]
	total := len(g.SW2) * len(g.Depths)
	done := 0
	for is, sw2 := range g.SW2 {
		s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: maxDepth, SW2: sw2, SB2: g.SB2, Outputs: k}
		var cellErr error
		opt := theory.Options{EachDepth: func(depth int, kern theory.Kernels) {
			id, ok := want[depth]
			if !ok || cellErr != nil {
				return
			}
			cellErr = predictCell(&maps, id, is, kern.NTK, n, y, lTrain, lTest)
			done++
			if progress != nil {
				progress(done, total)
			}
		}}
		if _, err := theory.Compute(s, all, npy.Array{}, opt); err != nil {
			return maps, fmt.Errorf("NTK at sw2 = %g: %w", sw2, err)
		}
		if cellErr != nil {
			return maps, fmt.Errorf("prediction at sw2 = %g: %w", sw2, cellErr)
		}
	}
	return maps, nil
}

// predictCell fills the accuracies of one (depth, sw2) cell from the NTK of
// the training and test points together (cells.GDAccuracies). A kernel the
// predictor refuses (for example not positive definite in floating point)
// leaves NaN cells.
func predictCell(maps *TrainabilityMaps, id, is int, ntk *mat.Dense, n int, y *mat.Dense, lTrain, lTest []int) error {
	train, test, err := cells.GDAccuracies(ntk, n, y, lTrain, lTest, maps.Grid.EtaFrac, maps.Grid.Times)
	for it := range maps.Grid.Times {
		maps.Train[it][id][is], maps.Test[it][id][is] = train[it], test[it]
	}
	return err
}

func nanCube(a, b, c int) [][][]float64 {
	out := make([][][]float64, a)
	for i := range out {
		out[i] = make([][]float64, b)
		for j := range out[i] {
			out[i][j] = make([]float64, c)
			for l := range out[i][j] {
				out[i][j][l] = math.NaN()
			}
		}
	}
	return out
}

// depthOverlays returns 8 xi_1 (ordered side) and 8 xi_* (chaotic side) on
// a fine sw2 grid over [lo, hi], NaN beyond maxDepth so that the lines stay
// inside the heat map.
func depthOverlays(lo, hi, sb2, maxDepth float64) ([]plots.Series, error) {
	sw2s := linspace(lo, hi, 300)
	xi1, xiS, _, _, err := depthScales(sw2s, sb2)
	if err != nil {
		return nil, err
	}
	o := plots.Series{Label: "8 xi_1", X: sw2s, Style: plots.Line, Color: 1}
	c := plots.Series{Label: "8 xi_*", X: sw2s, Style: plots.Line, Color: 2, Dashed: true}
	for i := range sw2s {
		o.Y = append(o.Y, clip(8*xi1[i], maxDepth))
		c.Y = append(c.Y, clip(8*xiS[i], maxDepth))
	}
	return []plots.Series{o, c}, nil
}

func clip(v, max float64) float64 {
	if !theory.Has(v) || v > max {
		return math.NaN()
	}
	return v
}

func runTrainability(cfg Config) (Result, error) {
	g := trainabilityGrid(cfg.Scale)
	train, test, note, why, err := loadData(cfg)
	if err != nil {
		return Result{}, err
	}
	xTr, xTe, y, lTr, lTe, err := prepareData(train, test, g.NTrain, g.NTest, cfg.Seed)
	if err != nil {
		return Result{}, err
	}
	tg := trainedGrid(cfg.Scale, g)
	theoryCells := len(g.SW2) * len(g.Depths)
	// Progress counts theory cells as one unit and trained networks as
	// their depth times ten (their cost grows with depth).
	trainedCost := 0
	for _, d := range tg.Depths {
		trainedCost += 10 * d * len(tg.SW2)
	}
	total := theoryCells + trainedCost
	maps, err := TheoryTrainability(g, xTr, xTe, y, lTr, lTe, func(done, _ int) {
		if cfg.Progress != nil {
			cfg.Progress(done, total)
		}
	})
	if err != nil {
		return Result{}, err
	}
	xTr2, xTe2, y2, _, lTe2, err := prepareData(train, test, tg.NTrain, tg.NTest, cfg.Seed)
	if err != nil {
		return Result{}, err
	}
	_, k := y2.Dims()
	cost := theoryCells
	trained, err := TrainedTrainability(context.Background(), tg, xTr2, xTe2, y2, cells.OneHot(lTe2, k), cfg.Seed, func(done, _ int) {
		cost += 10 * tg.Depths[(done-1)/len(tg.SW2)]
		if cfg.Progress != nil {
			cfg.Progress(cost, total)
		}
	})
	if err != nil {
		return Result{}, err
	}
	fig, err := trainabilityFigure(maps, trained, tg, note)
	if err != nil {
		return Result{}, err
	}
	c := trainabilityCaption(maps, note)
	c.Observed += " " + trainedCaption(trained, tg)
	if why != "" {
		c.Numbers = append(c.Numbers, plots.KeyNumber{Name: "CIFAR-10", Value: "not used", Note: why})
	}
	return Result{Figure: fig, Caption: c}, nil
}

// trainabilityFigure draws the theory maps (rows 1-2) above the maps of
// the trained networks (rows 3-4) on one colour scale.
func trainabilityFigure(maps, trained TrainabilityMaps, tg TrainedGrid, note string) (plots.Figure, error) {
	g := maps.Grid
	fig := plots.Figure{
		Title: fmt.Sprintf("erf FCN, sb2 = %g, %s: infinite-width NTK predictions (%d training points, rows 1-2) and width-%d networks trained by gradient descent (%d training points, rows 3-4)",
			g.SB2, note, g.NTrain, tg.Width, tg.NTrain),
		Rows:     4,
		Cols:     len(g.Times),
		ColorBar: &plots.ColorBar{Label: "accuracy", Min: 0, Max: 1},
	}
	for im, m := range []TrainabilityMaps{maps, trained} {
		mg := m.Grid
		depths := make([]float64, len(mg.Depths))
		for i, d := range mg.Depths {
			depths[i] = float64(d)
		}
		over, err := depthOverlays(mg.SW2[0], mg.SW2[len(mg.SW2)-1], mg.SB2, depths[len(depths)-1])
		if err != nil {
			return plots.Figure{}, err
		}
		who := "theory"
		if im == 1 {
			who = "trained"
		}
		for row, kind := range []string{"train", "test"} {
			cube := m.Train
			if row == 1 {
				cube = m.Test
			}
			for it, t := range mg.Times {
				fig.Panels = append(fig.Panels, plots.Panel{
					Title: fmt.Sprintf("%s: %s accuracy, t = %g", who, kind, t), XLabel: "sw2", YLabel: "depth",
					Heat:   &plots.HeatMap{Label: "accuracy", X: mg.SW2, Y: depths, Z: cube[it], EqualRows: true},
					Series: over, Legend: plots.LegendAuto,
				})
			}
		}
	}
	return fig, nil
}

// trainedCaption summarizes the trained maps at the last time run: the
// train and test accuracy of the deepest network at the most ordered and the
// most chaotic sw2.
func trainedCaption(m TrainabilityMaps, tg TrainedGrid) string {
	last := -1
	for it, t := range tg.Times {
		if t <= float64(tg.Steps) {
			last = it
		}
	}
	if last < 0 {
		return ""
	}
	deep := len(tg.Depths) - 1
	ns := len(tg.SW2) - 1
	return fmt.Sprintf("Trained width-%d networks after %g steps at depth %d: sw2 = %.2f (ordered) train/test accuracy %.2f/%.2f; sw2 = %.2f (chaotic) %.2f/%.2f; at depth %d: %.2f/%.2f and %.2f/%.2f.",
		tg.Width, tg.Times[last], tg.Depths[deep], tg.SW2[0], m.Train[last][deep][0], m.Test[last][deep][0],
		tg.SW2[ns], m.Train[last][deep][ns], m.Test[last][deep][ns],
		tg.Depths[0], m.Train[last][0][0], m.Test[last][0][0], m.Train[last][0][ns], m.Test[last][0][ns])
}

// trainabilityCaption summarizes the maps: at the last time, the deepest
// trainable depth (train accuracy >= 0.9) at the most ordered sw2 next to 8
// xi_1 there, and the deepest depth that still generalizes (test accuracy
// above chance + 0.05) at the most chaotic sw2 next to 8 xi_*.
func trainabilityCaption(maps TrainabilityMaps, note string) plots.ReportFigure {
	g := maps.Grid
	last := len(g.Times) - 1
	xi1, xiS, _, crit, _ := depthScales(g.SW2, g.SB2)
	deepest := func(z [][]float64, is int, ok func(float64) bool) int {
		best := 0
		for id, d := range g.Depths {
			if ok(z[id][is]) {
				best = d
			}
		}
		return best
	}
	var ordIdx, chIdx = -1, -1
	for is := range g.SW2 {
		if theory.Has(xi1[is]) && ordIdx < 0 {
			ordIdx = is
		}
		if theory.Has(xiS[is]) {
			chIdx = is
		}
	}
	obs := ""
	var nums []plots.KeyNumber
	nums = append(nums, plots.KeyNumber{Name: "data", Value: note}, plots.KeyNumber{Name: "critical sw2", Value: fmt.Sprintf("%.4f", crit)},
		plots.KeyNumber{Name: "step size", Value: fmt.Sprintf("%g eta_crit", g.EtaFrac)})
	if ordIdx >= 0 {
		d := deepest(maps.Train[last], ordIdx, func(v float64) bool { return v >= 0.9 })
		d1 := deepest(maps.Train[0], ordIdx, func(v float64) bool { return v >= 0.9 })
		obs += fmt.Sprintf("Ordered side (sw2 = %.2f): training reaches 90%% train accuracy at t = %g up to depth %d (t = %g: depth %d) vs 8 xi_1 = %.1f. ",
			g.SW2[ordIdx], g.Times[last], d, g.Times[0], d1, 8*xi1[ordIdx])
	}
	if chIdx >= 0 {
		d := deepest(maps.Test[last], chIdx, func(v float64) bool { return v > maps.Chance+0.05 })
		acc := maps.Train[last][len(g.Depths)-1][chIdx]
		obs += fmt.Sprintf("Chaotic side (sw2 = %.2f): test accuracy exceeds chance + 5 points up to depth %d vs 8 xi_* = %.1f; at depth %d train accuracy is %.2f and test accuracy %.2f (chance %.2f).",
			g.SW2[chIdx], d, 8*xiS[chIdx], g.Depths[len(g.Depths)-1], acc, maps.Test[last][len(g.Depths)-1][chIdx], maps.Chance)
	}
	return plots.ReportFigure{
		Theory: "Ordered phase: the NTK's condition number grows with depth, so gradient descent fails to train beyond about xi_1 layers in reasonable time (train accuracy drops above 8 xi_1). " +
			"Chaotic phase: the NTK tends to a constant-plus-identity matrix that memorizes, so networks train but stop generalizing (test accuracy to chance) beyond about 8 xi_*.",
		Observed: obs,
		Numbers:  nums,
	}
}

// paperTrainability is the paper scale of the trainability figure as two
// sweeps: "theory-gd" cells on the theory grid and "train" cells on the
// trained grid, drawn by the same code as the quick scale.
func paperTrainability(cfg Config) (SweepPlan, error) {
	g := trainabilityGrid(Paper)
	return trainabilityPlan(cfg, g, trainedGrid(Paper, g))
}

// trainabilityPlan is the sweep plan of the trainability figure on the
// theory grid g and the trained grid tg.
func trainabilityPlan(cfg Config, g TrainabilityGrid, tg TrainedGrid) (SweepPlan, error) {
	data, note, err := sweepData(cfg)
	if err != nil {
		return SweepPlan{}, err
	}
	times := make([]any, len(g.Times))
	for i, t := range g.Times {
		times[i] = t
	}
	file := func(kind string, tg TrainabilityGrid, width int, extra map[string]any) sweep.File {
		st := map[string]any{"n_train": tg.NTrain, "n_test": tg.NTest, "times": times, "eta_frac": tg.EtaFrac}
		for k, v := range data {
			st[k] = v
		}
		for k, v := range extra {
			st[k] = v
		}
		return sweep.File{
			Name:     "trainability-" + kind,
			Spec:     spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 1, Width: width, SW2: 1, SB2: tg.SB2},
			Grid:     map[string]sweep.Axis{"sw2": floatAxis(tg.SW2), "depth": intAxis(tg.Depths)},
			Order:    []string{"depth", "sw2"},
			Kinds:    []string{kind},
			Settings: st,
			Seed:     int64(cfg.Seed),
		}
	}
	var timesRun []any
	for _, t := range tg.Times {
		if t <= float64(tg.Steps) {
			timesRun = append(timesRun, t)
		}
	}
	trainFile := file("train", tg.TrainabilityGrid, tg.Width, map[string]any{"steps": tg.Steps, "times": timesRun})
	return SweepPlan{
		Files: []sweep.File{file("theory-gd", g, 0, nil), trainFile},
		Draw: func(tables []sweep.Table) (Result, error) {
			maps := mapsFromTable(g, tables[0], "theory-gd")
			trained := mapsFromTable(tg.TrainabilityGrid, tables[1], "train")
			fig, err := trainabilityFigure(maps, trained, tg, note)
			if err != nil {
				return Result{}, err
			}
			c := trainabilityCaption(maps, note)
			c.Observed += " " + trainedCaption(trained, tg)
			return Result{Figure: fig, Caption: c}, nil
		},
	}, nil
}

// mapsFromTable fills accuracy maps on grid g from the columns
// kind.{train,test}_acc_t<T> of a gathered table with axes sw2 and depth.
func mapsFromTable(g TrainabilityGrid, t sweep.Table, kind string) TrainabilityMaps {
	m := TrainabilityMaps{Grid: g, Chance: 1 / float64(spec.DefaultOutputs)} // the cells' spec has the default outputs
	m.Train = nanCube(len(g.Times), len(g.Depths), len(g.SW2))
	m.Test = nanCube(len(g.Times), len(g.Depths), len(g.SW2))
	for _, r := range t.Rows {
		is := nearest(g.SW2, r.Params["sw2"])
		id := nearest(intsToFloats(g.Depths), r.Params["depth"])
		if is < 0 || id < 0 {
			continue
		}
		for it, tm := range g.Times {
			m.Train[it][id][is] = column(r, fmt.Sprintf("%s.train_acc_t%g", kind, tm))
			m.Test[it][id][is] = column(r, fmt.Sprintf("%s.test_acc_t%g", kind, tm))
		}
	}
	return m
}

// TrainedGrid is the grid of finite erf FCNs trained by full-batch gradient
// descent at eta = EtaFrac * eta_crit, with eta_crit = 2 N k / lambda_max of
// the analytic NTK on the training inputs (the same step rule as the theory
// maps, so the time axes agree).
type TrainedGrid struct {
	TrainabilityGrid
	Width int
	Steps int // the last of Times that is <= Steps is the last one run
}

// trainedGrid is the finite-network grid of a scale: coarse enough that
// the whole grid trains in a couple of minutes on 2 cores at quick scale.
func trainedGrid(scale string, base TrainabilityGrid) TrainedGrid {
	g := TrainedGrid{TrainabilityGrid: base, Width: 128, Steps: 512}
	g.SW2 = linspace(0.5, 3, 5)
	g.Depths = []int{1, 4, 10, 20}
	g.NTrain, g.NTest = 64, 64
	if scale == Paper {
		g.Width, g.Steps = 512, 4096
		g.SW2 = linspace(0.5, 3, 11)
		g.Depths = []int{1, 2, 4, 8, 12, 16, 24, 32, 48}
		g.NTrain, g.NTest = 256, 256
	}
	return g
}

// TrainedTrainability trains one network per (depth, sw2) cell, drawn from
// ntkempirical.SeedSource(seed, 0), and records its train and test accuracy
// at each of g.Times up to g.Steps (NaN beyond, and after a divergence).
func TrainedTrainability(ctx context.Context, g TrainedGrid, xTr, xTe npy.Array, y, yTest *mat.Dense, seed uint64, progress func(done, total int)) (TrainabilityMaps, error) {
	_, k := y.Dims()
	maps := TrainabilityMaps{Grid: g.TrainabilityGrid, Chance: 1 / float64(k)}
	maps.Train = nanCube(len(g.Times), len(g.Depths), len(g.SW2))
	maps.Test = nanCube(len(g.Times), len(g.Depths), len(g.SW2))
	total := len(g.Depths) * len(g.SW2)
	done := 0
	for id, depth := range g.Depths {
		for is, sw2 := range g.SW2 {
			s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: depth, Width: g.Width, SW2: sw2, SB2: g.SB2, Outputs: k}
			net, err := nets.New(s, xTr.Shape[1:], ntkempirical.SeedSource(seed, 0))
			if err != nil {
				return maps, fmt.Errorf("depth %d sw2 %g: %w", depth, sw2, err)
			}
			h, err := train.Run(ctx, net, train.Data{XTrain: xTr, YTrain: y, XTest: xTe, YTest: yTest},
				train.Options{Steps: g.Steps, LRFactor: g.EtaFrac, LambdaMax: cells.AnalyticLambdaMax, Seed: seed}, nil)
			if err != nil {
				return maps, fmt.Errorf("training depth %d sw2 %g: %w", depth, sw2, err)
			}
			for it, t := range g.Times {
				for _, p := range h.Points {
					if float64(p.Step) == t {
						maps.Train[it][id][is] = cells.FiniteOrNaN(float64(p.TrainAcc))
						maps.Test[it][id][is] = cells.FiniteOrNaN(float64(p.TestAcc))
					}
				}
			}
			done++
			if progress != nil {
				progress(done, total)
			}
		}
	}
	return maps, nil
}
