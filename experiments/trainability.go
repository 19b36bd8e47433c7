package experiments

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/experiments/cells"
	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
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
// Draws > 0 also samples the spread of one network's accuracy with that
// many draws per cell and time (theory.SampleAccuracy).
type TrainabilityGrid struct {
	SW2     []float64 // strictly increasing
	Depths  []int     // strictly increasing, >= 1
	Times   []float64 // steps
	SB2     float64
	NTrain  int
	NTest   int
	EtaFrac float64 // in (0, 1]
	// Downsample block-averages the images by this factor before they
	// are flattened (0 or 1: full size).
	Downsample int
	Draws      int
	// DrawSW2 and DrawDepths, when set, restrict the sampling to their
	// cells (those the trained grid shares with the theory grid).
	DrawSW2    []float64
	DrawDepths []int
}

// drawsAt returns the number of draws of the cell (sw2, depth).
func (g TrainabilityGrid) drawsAt(sw2 float64, depth int) int {
	if g.DrawSW2 != nil && nearest(g.DrawSW2, sw2) < 0 {
		return 0
	}
	if g.DrawDepths != nil && !slices.Contains(g.DrawDepths, depth) {
		return 0
	}
	return g.Draws
}

// trainabilityGrid returns the grid of a scale. The paper grid: sw2 in 40
// steps over [0.5, 3], depths 1-9 then 10-105 by 5, 256 training points.
// The quick grid uses the 64 training and 64 test points of the trained
// networks (trainedGrid), so that theory and trained cells compare like
// for like, on depths that include every trained depth.
func trainabilityGrid(scale string) TrainabilityGrid {
	g := TrainabilityGrid{SB2: 0.18, Times: []float64{1, 8, 64, 512, 4096}, EtaFrac: 0.5}
	if scale == Paper {
		g.SW2 = linspace(0.5, 3, 40)
		g.NTrain, g.NTest = 256, 256
		for d := 1; d <= 9; d++ {
			g.Depths = append(g.Depths, d)
		}
		for d := 10; d <= 105; d += 5 {
			g.Depths = append(g.Depths, d)
		}
		return g
	}
	g.SW2 = linspace(0.5, 3, 12)
	g.NTrain, g.NTest = 64, 64
	g.Downsample = 2 // 14x14 MNIST: the trained networks' budget (trainedGrid)
	g.Times = []float64{1, 16, 128, 1024, 4096}
	g.Depths = []int{1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64}
	g.Draws = 200
	tg := trainedGrid(scale, g)
	g.DrawSW2, g.DrawDepths = tg.SW2, tg.Depths
	return g
}

// TrainabilityMaps are accuracy maps over the grid, Train[it][id][is] and
// Test[it][id][is] at time Times[it], depth Depths[id] and weight variance
// SW2[is]; NaN where the cell was not computed or failed. For the theory
// (TheoryTrainability) Train and Test are the expected accuracy of one
// infinitely wide network trained from a random initialization, MeanTrain
// and MeanTest the accuracy of the mean predictor, and TrainSD, TestSD the
// standard deviation of one network's accuracy (sampled; NaN without
// Grid.Draws). For trained networks (TrainedTrainability) Train and Test
// are the mean over Seeds initializations, TrainSD and TestSD their sample
// standard deviation (NaN with one seed), and MeanTrain, MeanTest are nil.
type TrainabilityMaps struct {
	Grid                TrainabilityGrid
	Train, Test         [][][]float64
	TrainSD, TestSD     [][][]float64
	MeanTrain, MeanTest [][][]float64
	Seeds               int
	Chance              float64 // 1/classes
	// Stops lists the trained networks that stopped early because their
	// loss stopped changing (TrainedGrid.StopRelChange); their later
	// times repeat the values of the step where they stopped.
	Stops []EarlyStop
}

// EarlyStop is a trained network that stopped early: its cell, its
// initialization index and the step where its loss stopped changing.
type EarlyStop struct {
	SW2         float64
	Depth, Init int
	Step        int
}

// newMaps returns maps on g with every cell NaN; withMean also allocates
// the mean-predictor cubes.
func newMaps(g TrainabilityGrid, k int, withMean bool) TrainabilityMaps {
	nt, nd, ns := len(g.Times), len(g.Depths), len(g.SW2)
	m := TrainabilityMaps{Grid: g, Chance: 1 / float64(k), Seeds: 1,
		Train: nanCube(nt, nd, ns), Test: nanCube(nt, nd, ns), TrainSD: nanCube(nt, nd, ns), TestSD: nanCube(nt, nd, ns)}
	if withMean {
		m.MeanTrain, m.MeanTest = nanCube(nt, nd, ns), nanCube(nt, nd, ns)
	}
	return m
}

// prepareData returns the flattened inputs of n training and m test points
// (class-balanced seeded subsets), standardized by the global mean and std of
// the training subset, and the one-hot training targets with both label sets.
func prepareData(train, test datasets.Subsetter, n, m int, seed uint64) (xTrain, xTest npy.Array, y *mat.Dense, lTrain, lTest []int, err error) {
	return prepareImages(train, test, n, m, 1, seed)
}

// prepareImages is prepareData with the images block-averaged by down.
func prepareImages(train, test datasets.Subsetter, n, m, down int, seed uint64) (xTrain, xTest npy.Array, y *mat.Dense, lTrain, lTest []int, err error) {
	d, err := datasets.PrepareTraining(train, test, datasets.Preparation{NTrain: n, NTest: m, Seed: seed, Downsample: down})
	if err != nil {
		return xTrain, xTest, nil, nil, nil, err
	}
	return d.Train.Flat(), d.Test.Flat(), d.YTrain, d.Train.Labels, d.Test.Labels, nil
}

// TheoryTrainability computes the theory maps of infinitely wide erf FCNs
// on the grid from the NNGP kernel and NTK of one recursion
// (cells.GDExpected, discrete steps): the expected accuracy of one network
// and the accuracy of the mean predictor. One theory.Compute pass per sw2
// gives every depth (EachDepth). The sampled spreads draw from a source
// seeded by the cell, so they do not depend on the order of the cells.
func TheoryTrainability(g TrainabilityGrid, xTrain, xTest npy.Array, y *mat.Dense, lTrain, lTest []int, progress func(done, total int)) (TrainabilityMaps, error) {
	n := xTrain.Shape[0]
	k := y.RawMatrix().Cols
	all := theory.StackTrainTest(xTrain, xTest)
	maps := newMaps(g, k, true)
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
			rng := rand.New(rand.NewPCG(uint64(is), uint64(id)))
			var o cells.GDOutcome
			o, cellErr = cells.GDExpected(kern, n, y, lTrain, lTest, g.EtaFrac, g.Times, g.drawsAt(sw2, depth), rng)
			for it := range g.Times {
				maps.Train[it][id][is], maps.Test[it][id][is] = o.ExpTrain[it], o.ExpTest[it]
				maps.TrainSD[it][id][is], maps.TestSD[it][id][is] = o.SDTrain[it], o.SDTest[it]
				maps.MeanTrain[it][id][is], maps.MeanTest[it][id][is] = o.MeanTrain[it], o.MeanTest[it]
			}
			done++
			if progress != nil {
				progress(done, total)
			}
		}}
		if _, err := theory.Compute(s, all, npy.Array{}, opt); err != nil {
			return maps, fmt.Errorf("kernels at sw2 = %g: %w", sw2, err)
		}
		if cellErr != nil {
			return maps, fmt.Errorf("prediction at sw2 = %g: %w", sw2, cellErr)
		}
	}
	return maps, nil
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

// trainabilityData is what the quick trainability figure computes: the
// theory maps, the trained maps and their grids. The agreement figure
// reuses it when the trainability figure ran before it in the same
// process with the same configuration.
type trainabilityData struct {
	Theory, Trained TrainabilityMaps
	TG              TrainedGrid
	Note, Why       string
}

// computeTrainability computes the quick trainability data of cfg (or
// returns those computed earlier in this process for the same run key).
func computeTrainability(cfg Config) (trainabilityData, error) {
	if d, ok := memoGet[trainabilityData]("trainability", cfg); ok {
		return d, nil
	}
	g := trainabilityGrid(cfg.Scale)
	trainSet, testSet, note, why, err := loadData(cfg)
	if err != nil {
		return trainabilityData{}, err
	}
	tg := trainedGrid(cfg.Scale, g)
	theoryCells := len(g.SW2) * len(g.Depths)
	// Progress counts theory cells as one unit and trained networks as
	// their depth times ten per seed (their cost grows with depth).
	trainedCost := 0
	for _, d := range tg.Depths {
		trainedCost += 10 * d * len(tg.SW2) * max(tg.Seeds, 1)
	}
	total := theoryCells + trainedCost
	xTr, xTe, y, lTr, lTe, err := prepareImages(trainSet, testSet, g.NTrain, g.NTest, g.Downsample, cfg.Seed)
	if err != nil {
		return trainabilityData{}, err
	}
	maps, err := TheoryTrainability(g, xTr, xTe, y, lTr, lTe, func(done, _ int) {
		if cfg.Progress != nil {
			cfg.Progress(done, total)
		}
	})
	if err != nil {
		return trainabilityData{}, err
	}
	xTr2, xTe2, y2, _, lTe2, err := prepareImages(trainSet, testSet, tg.NTrain, tg.NTest, tg.Downsample, cfg.Seed)
	if err != nil {
		return trainabilityData{}, err
	}
	_, k := y2.Dims()
	cost := theoryCells
	trained, err := TrainedTrainability(context.Background(), tg, xTr2, xTe2, y2, datasets.OneHot(lTe2, k, false), cfg.Seed, func(done, _ int) {
		cost += 10 * tg.Depths[(done-1)/len(tg.SW2)] * max(tg.Seeds, 1)
		if cfg.Progress != nil {
			cfg.Progress(cost, total)
		}
	})
	if err != nil {
		return trainabilityData{}, err
	}
	d := trainabilityData{Theory: maps, Trained: trained, TG: tg, Note: note, Why: why}
	memoPut("trainability", cfg, d)
	return d, nil
}

func runTrainability(cfg Config) (Result, error) {
	d, err := computeTrainability(cfg)
	if err != nil {
		return Result{}, err
	}
	fig, err := trainabilityFigure(d.Theory, d.Trained, d.TG, d.Note)
	if err != nil {
		return Result{}, err
	}
	c := trainabilityCaption(d.Theory, d.Trained, d.TG, d.Note)
	if d.Why != "" {
		c.Numbers = append(c.Numbers, plots.KeyNumber{Name: "CIFAR-10", Value: "not used", Note: d.Why})
	}
	return Result{Figure: fig, Caption: c}, nil
}

// testColorRange returns the colour range of the test-accuracy panels:
// from chance to the best finite test accuracy of any of the maps (at
// least chance + 0.05, so that the range is never empty).
func testColorRange(chance float64, maps ...TrainabilityMaps) (lo, hi float64) {
	hi = chance + 0.05
	for _, m := range maps {
		for _, plane := range m.Test {
			for _, row := range plane {
				for _, v := range row {
					if !math.IsNaN(v) && v > hi {
						hi = v
					}
				}
			}
		}
	}
	return chance, hi
}

// trainabilityFigure draws the theory maps (rows 1-2) above the maps of
// the trained networks (rows 3-4). Train-accuracy panels share the colour
// scale 0 to 1; test-accuracy panels share one from chance to the best
// test accuracy of the figure, theory and trained alike.
func trainabilityFigure(maps, trained TrainabilityMaps, tg TrainedGrid, note string) (plots.Figure, error) {
	g := maps.Grid
	seeds := "one seed"
	if trained.Seeds > 1 {
		seeds = fmt.Sprintf("mean over %d seeds", trained.Seeds)
	}
	fig := plots.Figure{
		Title: fmt.Sprintf("erf FCN, sb2 = %g, %s%s: expected accuracy of one infinitely wide network trained by gradient descent (%d training points, rows 1-2) and width-%d networks trained by gradient descent, %s (%d training points, rows 3-4)",
			g.SB2, note, downsampled(g.Downsample), g.NTrain, tg.Width, seeds, tg.NTrain),
		Rows: 4,
		Cols: len(g.Times),
	}
	lo, hi := testColorRange(maps.Chance, maps, trained)
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
		who := "theory, expected"
		if im == 1 {
			who = "trained"
		}
		for row, kind := range []string{"train", "test"} {
			cube := m.Train
			zlo, zhi := 0.0, 1.0
			if row == 1 {
				cube = m.Test
				zlo, zhi = lo, hi
			}
			for it, t := range mg.Times {
				fig.Panels = append(fig.Panels, plots.Panel{
					Title: fmt.Sprintf("%s %s accuracy, t = %g", who, kind, t), XLabel: "sw2", YLabel: "depth",
					Heat:   &plots.HeatMap{Label: kind + " accuracy", X: mg.SW2, Y: depths, Z: cube[it], EqualRows: true, Min: zlo, Max: zhi},
					Series: over, Legend: plots.LegendAuto,
				})
			}
		}
	}
	return fig, nil
}

// downsampled names a block-averaging factor for a title ("" for none).
func downsampled(down int) string {
	if down <= 1 {
		return ""
	}
	return fmt.Sprintf(" downsampled %dx", down)
}

// lastRun returns the index of the last of times at or before steps (-1
// if none).
func lastRun(times []float64, steps int) int {
	last := -1
	for it, t := range times {
		if t <= float64(steps) {
			last = it
		}
	}
	return last
}

// trainLimit returns the first depth of g whose train accuracy z[id][is]
// is below 0.9 after the first depth that reaches it: the depth where
// training fails. It returns 0 when no depth fails (or none trains).
func trainLimit(z [][]float64, depths []int, is int) int {
	trained := false
	for id, d := range depths {
		v := z[id][is]
		if v >= 0.9 {
			trained = true
		} else if trained && !math.IsNaN(v) {
			return d
		}
	}
	return 0
}

// chanceLimit returns the first depth whose test accuracy z[id][is] is
// within 5 points of chance, or 0 if none is.
func chanceLimit(z [][]float64, depths []int, is int, chance float64) int {
	for id, d := range depths {
		if v := z[id][is]; v <= chance+0.05 {
			return d
		}
	}
	return 0
}

// phaseLimits are the depth limits of one map at one time: per sw2 of the
// ordered side (finite xi_1, below the critical sw2) the depth where
// training fails and its ratio to xi_1, and per sw2 of the chaotic side
// (finite xi_*) the depth where test accuracy reaches chance and its
// ratio to xi_*. A 0 depth (no limit within the grid) has a NaN ratio.
type phaseLimits struct {
	OrdSW2, ChSW2         []float64
	OrdDepth, ChDepth     []int
	OrdRatio, ChRatio     []float64
	OrdXi, ChXi, Critical []float64
}

func depthLimits(m TrainabilityMaps, it int) (phaseLimits, error) {
	g := m.Grid
	xi1, xiS, _, crit, err := depthScales(g.SW2, g.SB2)
	if err != nil {
		return phaseLimits{}, err
	}
	var l phaseLimits
	for is, sw2 := range g.SW2 {
		switch {
		case sw2 < crit && theory.Has(xi1[is]):
			d := trainLimit(m.Train[it], g.Depths, is)
			l.OrdSW2, l.OrdDepth, l.OrdXi = append(l.OrdSW2, sw2), append(l.OrdDepth, d), append(l.OrdXi, xi1[is])
			l.OrdRatio = append(l.OrdRatio, ratio(d, xi1[is]))
		case sw2 > crit && theory.Has(xiS[is]):
			d := chanceLimit(m.Test[it], g.Depths, is, m.Chance)
			l.ChSW2, l.ChDepth, l.ChXi = append(l.ChSW2, sw2), append(l.ChDepth, d), append(l.ChXi, xiS[is])
			l.ChRatio = append(l.ChRatio, ratio(d, xiS[is]))
		}
	}
	return l, nil
}

func ratio(d int, xi float64) float64 {
	if d == 0 {
		return math.NaN()
	}
	return float64(d) / xi
}

// limitList formats "sw2: depth (8 xi = v)" for the limits found, each
// beside eight of its depth scales xi (8 xi_1 or 8 xi_*, named by scale).
func limitList(sw2 []float64, d []int, xi []float64, scale string) string {
	var parts []string
	for i := range sw2 {
		depth := "none"
		if d[i] != 0 {
			depth = fmt.Sprint(d[i])
		}
		parts = append(parts, fmt.Sprintf("%.2f: %s (8 %s = %.1f)", sw2[i], depth, scale, 8*xi[i]))
	}
	return strings.Join(parts, ", ")
}

// stopList summarizes the networks that stopped early.
func stopList(stops []EarlyStop, networks int, tol float64) string {
	if len(stops) == 0 {
		return fmt.Sprintf("No trained network stopped early (rule: loss change below %g of itself in a step). ", tol)
	}
	var parts []string
	for i, st := range stops {
		if i == 8 {
			parts = append(parts, fmt.Sprintf("... %d more", len(stops)-i))
			break
		}
		parts = append(parts, fmt.Sprintf("sw2 %.2f depth %d seed %d at step %d", st.SW2, st.Depth, st.Init, st.Step))
	}
	return fmt.Sprintf("%d of %d trained networks stopped early because their loss changed by less than %g of itself in a step (their later times repeat that step): %s. ",
		len(stops), networks, tol, strings.Join(parts, "; "))
}

// trainabilityCaption summarizes the maps at the last time the trained
// networks ran (and the theory also at its last time): per sw2, the depth
// where training fails on the ordered side in units of xi_1, and the
// depth where test accuracy reaches chance on the chaotic side in units of
// xi_*, for the theory and the trained networks.
func trainabilityCaption(maps, trained TrainabilityMaps, tg TrainedGrid, note string) plots.ReportFigure {
	g := maps.Grid
	_, _, _, crit, _ := depthScales(g.SW2[:1], g.SB2)
	nums := []plots.KeyNumber{{Name: "data", Value: note}, {Name: "critical sw2", Value: fmt.Sprintf("%.4f", crit)},
		{Name: "step size", Value: fmt.Sprintf("%g eta_crit", g.EtaFrac)}}
	describe := func(who string, m TrainabilityMaps, it int) string {
		l, err := depthLimits(m, it)
		if err != nil || it < 0 {
			return ""
		}
		return fmt.Sprintf("%s at t = %g: training fails (train accuracy below 0.9) on the ordered side at depth %s; test accuracy reaches chance + 5 points on the chaotic side at depth %s; median depth/xi_1 %.1f and depth/xi_* %.1f. ",
			who, m.Grid.Times[it], limitList(l.OrdSW2, l.OrdDepth, l.OrdXi, "xi_1"), limitList(l.ChSW2, l.ChDepth, l.ChXi, "xi_*"), median(l.OrdRatio), median(l.ChRatio))
	}
	last := lastRun(tg.Times, tg.Steps)
	itTheory := -1
	if last >= 0 {
		itTheory = nearest(g.Times, tg.Times[last])
	}
	obs := describe("Theory (expected accuracy of one network)", maps, len(g.Times)-1)
	if itTheory >= 0 && itTheory != len(g.Times)-1 {
		obs += describe("Theory", maps, itTheory)
	}
	obs += describe(fmt.Sprintf("Trained (width %d, mean of %d seeds)", tg.Width, trained.Seeds), trained, last)
	if tg.StopRelChange > 0 {
		obs += stopList(trained.Stops, len(tg.SW2)*len(tg.Depths)*trained.Seeds, tg.StopRelChange)
	}
	if ch := len(g.SW2) - 1; len(g.Depths) > 0 {
		deep := len(g.Depths) - 1
		it := len(g.Times) - 1
		obs += fmt.Sprintf("At sw2 = %.2f and depth %d the theory's expected train/test accuracy at t = %g is %.2f/%.2f (chance %.2f); the mean predictor's test accuracy is %.2f.",
			g.SW2[ch], g.Depths[deep], g.Times[it], maps.Train[it][deep][ch], maps.Test[it][deep][ch], maps.Chance, at(maps.MeanTest, it, deep, ch))
	}
	return plots.ReportFigure{
		Theory: "Ordered phase: the NTK's condition number grows with depth, so gradient descent fails to train beyond about xi_1 layers in reasonable time (train accuracy drops above 8 xi_1). " +
			"Chaotic phase: the NTK tends to a constant-plus-identity matrix that memorizes, so networks train but stop generalizing (test accuracy to chance) beyond about 8 xi_*. " +
			"The theory rows are the expected accuracy of one infinitely wide network trained from a random initialization (outputs Gaussian with the NTK mean and the NNGP-driven variance: its random initial outputs never decay at test points), not the accuracy of the mean predictor; the trained rows are the mean over seeds. Test panels share a colour scale from chance to the best test accuracy.",
		Observed: obs,
		Numbers:  nums,
	}
}

// at returns z[it][id][is], or NaN when z is nil.
func at(z [][][]float64, it, id, is int) float64 {
	if z == nil {
		return math.NaN()
	}
	return z[it][id][is]
}

// median returns the median of the finite values of v (NaN if none).
func median(v []float64) float64 {
	var f []float64
	for _, x := range v {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			f = append(f, x)
		}
	}
	if len(f) == 0 {
		return math.NaN()
	}
	sort.Float64s(f)
	if len(f)%2 == 1 {
		return f[len(f)/2]
	}
	return 0.5 * (f[len(f)/2-1] + f[len(f)/2])
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
	trainExtra := map[string]any{"steps": tg.Steps, "times": timesRun}
	if tg.StopRelChange > 0 {
		trainExtra["stop_rel_change"] = tg.StopRelChange
	}
	trainFile := file("train", tg.TrainabilityGrid, tg.Width, trainExtra)
	trainFile.Spec.DType = tg.DType
	if tg.Seeds > 1 {
		// The seeds of the direct path are initializations on one data
		// subset: the init setting, fastest, so that a cell's seeds are
		// consecutive cells of one ensemble group.
		inits := make([]int, tg.Seeds)
		for j := range inits {
			inits[j] = j
		}
		trainFile.Grid["init"] = intAxis(inits)
		trainFile.Order = append(trainFile.Order, "init")
	}
	return SweepPlan{
		Files: []sweep.File{file("theory-gd", g, 0, nil), trainFile},
		Draw: func(tables []sweep.Table) (Result, error) {
			maps := mapsFromTable(g, tables[0], "theory-gd")
			trained := mapsFromTable(tg.TrainabilityGrid, tables[1], "train")
			fig, err := trainabilityFigure(maps, trained, tg, note)
			if err != nil {
				return Result{}, err
			}
			c := trainabilityCaption(maps, trained, tg, note)
			return Result{Figure: fig, Caption: c}, nil
		},
	}, nil
}

// mapsFromTable fills accuracy maps on grid g from a gathered table with
// axes sw2, depth and (for "train" cells) optionally init: the columns
// theory-gd.expected_{train,test}_acc_t<T> (the expected accuracy of one
// network) of "theory-gd" cells, and the mean and sample SD over the inits
// of train.{train,test}_acc_t<T> of "train" cells (finite values only, as
// TrainedTrainability), with their early stops (train.stopped_at).
func mapsFromTable(g TrainabilityGrid, t sweep.Table, kind string) TrainabilityMaps {
	m := newMaps(g, spec.DefaultOutputs, false) // the cells' spec has the default outputs
	prefix := ""
	if kind == "theory-gd" {
		prefix = "expected_"
	}
	type at struct{ it, id, is int }
	trains, tests := map[at][]float64{}, map[at][]float64{}
	for _, r := range t.Rows {
		is := nearest(g.SW2, r.Params["sw2"])
		id := nearest(intsToFloats(g.Depths), r.Params["depth"])
		if is < 0 || id < 0 {
			continue
		}
		init, _ := r.Params["init"].(float64)
		m.Seeds = max(m.Seeds, int(init)+1)
		if v := column(r, kind+".stopped_at"); !math.IsNaN(v) {
			m.Stops = append(m.Stops, EarlyStop{SW2: g.SW2[is], Depth: g.Depths[id], Init: int(init), Step: int(v)})
		}
		for it, tm := range g.Times {
			k := at{it, id, is}
			if v := column(r, fmt.Sprintf("%s.%strain_acc_t%g", kind, prefix, tm)); !math.IsNaN(v) {
				trains[k] = append(trains[k], v)
			}
			if v := column(r, fmt.Sprintf("%s.%stest_acc_t%g", kind, prefix, tm)); !math.IsNaN(v) {
				tests[k] = append(tests[k], v)
			}
		}
	}
	for k, v := range trains {
		m.Train[k.it][k.id][k.is], m.TrainSD[k.it][k.id][k.is] = meanSD(v)
	}
	for k, v := range tests {
		m.Test[k.it][k.id][k.is], m.TestSD[k.it][k.id][k.is] = meanSD(v)
	}
	return m
}

// TrainedGrid is the grid of finite erf FCNs trained by full-batch gradient
// descent at eta = EtaFrac * eta_crit, with eta_crit = 2 N k / lambda_max of
// the analytic NTK on the training inputs (the same step rule as the theory
// maps, so the time axes agree). Every cell trains Seeds networks
// (initializations nets.InitSource(seed, j), j < Seeds; 0 means 1).
// StopRelChange > 0 lets a network whose loss changes by at most that
// fraction of itself in a step stop there (train.Options.StopRelChange).
type TrainedGrid struct {
	TrainabilityGrid
	Width         int
	Steps         int // the last of Times that is <= Steps is the last one run
	Seeds         int
	StopRelChange float64
	DType         string // of the networks (spec.DType; "" is float64)
}

// trainedGrid is the finite-network grid of a scale. At quick scale the
// networks train on the theory grid's points (14x14 MNIST) and sw2 values
// (all 12), depths 1-32 by doubling, 4 seeds, width 64, 1024 steps in
// float32, a network stopping once its loss changes by less than 1e-12 of
// itself per step. The budget fixes the steps, the image size and the
// dtype: one step of a member costs 2 x 3 x 64 x (d x 64 x 2/3 + (L-1)
// 64^2 + 64 x 10) FLOPs on 64 points; for the 48 networks of each depth
// that is 8.1 GFLOP a step with d = 784 (28x28), 8.3 TFLOP for 1024 steps,
// and 4.6 GFLOP (4.7 TFLOP) with d = 196. The stacked ensembles run these
// small matrices at 21-26 GFLOP/s on the 2 cores in float64 (erf and its
// derivative cost about as much as the 64 x 64 products) and 42-43 in
// float32 (BenchmarkTrainedTrainability, OpenBLAS); float32's rounding
// (about 1e-7 of the outputs) is far below the seed spread the figure
// shows. At paper
// scale: 11 sw2 x depths 1-48, width 512, 4096 steps, one seed, 256
// points, also float32 (JAX's default precision, in which the paper's
// networks trained): 2750 TFLOP, half the float64 time.
func trainedGrid(scale string, base TrainabilityGrid) TrainedGrid {
	g := TrainedGrid{TrainabilityGrid: base, Width: 64, Steps: 1024, Seeds: 4, StopRelChange: 1e-12, DType: spec.Float32}
	g.Draws, g.DrawSW2, g.DrawDepths = 0, nil, nil
	g.Depths = []int{1, 2, 4, 8, 16, 32}
	if scale == Paper {
		g.Width, g.Steps, g.Seeds, g.StopRelChange = 512, 4096, 1, 0
		g.SW2 = linspace(0.5, 3, 11)
		g.Depths = []int{1, 2, 4, 8, 12, 16, 24, 32, 48}
		g.NTrain, g.NTest = 256, 256
	}
	return g
}

// analyticEtaCrit returns eta_crit = 2 N k / lambda_max of the analytic
// per-logit NTK of s on the N inputs x (train.SpecLambdaMax).
func analyticEtaCrit(s spec.Spec, x npy.Array) (float64, error) {
	lm, err := train.SpecLambdaMax(s, x)
	if err != nil {
		return 0, err
	}
	return 2 * float64(x.Shape[0]*s.Outputs) / lm, nil
}

// TrainedTrainability trains g.Seeds networks per (depth, sw2) cell, all
// networks of one depth together as one stacked ensemble (nets.Ensemble,
// train.RunEnsemble: each member follows train.Run's trajectory, stopping
// early as g.StopRelChange allows), and records the mean and the sample
// standard deviation over seeds of their
// train and test accuracy at each of g.Times up to g.Steps (NaN beyond).
// A network that diverges is left out of its cell's mean (all diverged:
// NaN).
func TrainedTrainability(ctx context.Context, g TrainedGrid, xTr, xTe npy.Array, y, yTest *mat.Dense, seed uint64, progress func(done, total int)) (TrainabilityMaps, error) {
	_, k := y.Dims()
	seeds := max(g.Seeds, 1)
	maps := newMaps(g.TrainabilityGrid, k, false)
	maps.Seeds = seeds
	total := len(g.Depths) * len(g.SW2)
	done := 0
	data := train.Data{XTrain: xTr, YTrain: y, XTest: xTe, YTest: yTest}
	for id, depth := range g.Depths {
		var specs []spec.Spec
		var rngs []*rand.Rand
		var lr []float64
		for _, sw2 := range g.SW2 {
			s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: depth, Width: g.Width, SW2: sw2, SB2: g.SB2, Outputs: k, DType: g.DType}
			ec, err := analyticEtaCrit(s, xTr)
			if err != nil {
				return maps, fmt.Errorf("depth %d sw2 %g: %w", depth, sw2, err)
			}
			for j := 0; j < seeds; j++ {
				specs = append(specs, s)
				rngs = append(rngs, nets.InitSource(seed, j))
				lr = append(lr, g.EtaFrac*ec)
			}
		}
		e, err := nets.NewEnsemble(specs, xTr.Shape[1:], rngs)
		if err != nil {
			return maps, fmt.Errorf("depth %d: %w", depth, err)
		}
		hs, err := train.RunEnsemble(ctx, e, data, train.EnsembleOptions{Steps: g.Steps, LR: lr, Seed: seed, StopRelChange: g.StopRelChange})
		if err != nil {
			return maps, fmt.Errorf("training depth %d: %w", depth, err)
		}
		for is, sw2 := range g.SW2 {
			for j, h := range hs[is*seeds : (is+1)*seeds] {
				if h.StoppedAt > 0 {
					maps.Stops = append(maps.Stops, EarlyStop{SW2: sw2, Depth: depth, Init: j, Step: h.StoppedAt})
				}
			}
			for it, t := range g.Times {
				var at []train.Point
				for _, h := range hs[is*seeds : (is+1)*seeds] {
					for _, p := range h.Points {
						if float64(p.Step) == t {
							at = append(at, p)
						}
					}
				}
				maps.Train[it][id][is], maps.TrainSD[it][id][is], maps.Test[it][id][is], maps.TestSD[it][id][is] = seedSpread(at)
			}
			done++
			if progress != nil {
				progress(done, total)
			}
		}
	}
	return maps, nil
}

// meanSD returns the mean and the sample standard deviation of v (NaN
// when v is empty; the SD is NaN for one value).
func meanSD(v []float64) (mean, sd float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, math.NaN()
	}
	ss := 0.0
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)-1))
}

// seedSpread returns the mean and SD over seeds of the train and test
// accuracies of pts (one point per seed), leaving out values that are not
// finite (see meanSD).
func seedSpread(pts []train.Point) (trMean, trSD, teMean, teSD float64) {
	var tr, te []float64
	for _, p := range pts {
		if a := cells.FiniteOrNaN(float64(p.TrainAcc)); !math.IsNaN(a) {
			tr = append(tr, a)
		}
		if a := cells.FiniteOrNaN(float64(p.TestAcc)); !math.IsNaN(a) {
			te = append(te, a)
		}
	}
	trMean, trSD = meanSD(tr)
	teMean, teSD = meanSD(te)
	return trMean, trSD, teMean, teSD
}
