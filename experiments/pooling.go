package experiments

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/experiments/cells"
	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/plots"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/train"
)

func init() {
	register(Figure{Name: "pooling", Title: "Pooling: FCN vs CNN-F vs CNN-GAP",
		Summary: "test accuracy vs depth for fcn, cnn-f and cnn-gap in the chaotic and ordered phases: the converged NTK predictor (theory) and trained finite networks",
		Run:     runPooling, Paper: paperPooling})
}

// poolingSetup is the data and the grids of the pooling figure.
type poolingSetup struct {
	NTrain, NTest int // balanced subsets of the training and test splits
	// Downsample is the average-pooling factor of the grayscale images of
	// each data set (datasets.MNIST, datasets.CIFAR10); none where absent.
	Downsample map[string]int
	MaxDepth   int // theory: depths 1..MaxDepth
	SB2        float64
	Phases     []poolingPhase // the first is the chaotic one
	// Trained networks: depths, fcn width, cnn channels, full-batch
	// gradient steps at EtaFrac * eta_crit, and a balanced subset of
	// NTrainNet of the theory's training points (the same test points),
	// Seeds initializations each. The theory's expected accuracy is taken
	// after the same Steps on the same points, with Draws samples for its
	// spread. DType is the networks' (spec.DType; "" is float64).
	Depths          []int
	Width, Channels int
	Steps           int
	EtaFrac         float64
	NTrainNet       int
	Seeds           int
	Draws           int
	DType           string
}

type poolingPhase struct {
	Name string
	SW2  float64
}

// poolingQuick is the quick-scale setup: MNIST at 14x14 (28/2) or
// CIFAR-10 at 8x8 (32/4), 20 training images (two per class) and 20 test
// images, 64-channel cnns trained in float32. What the budget allows
// (about 90 s on 2 cores; the rates are one core's):
//
//   - The trained cnns. A 64-to-64 conv layer at 14x14 costs
//     2 x 3 x 196 x 9 x 64^2 = 43 MFLOP per image and step, so 4 seeds
//     and 2 phases at depths 1, 2, 4 and 8 (11 such layers) are
//     3.8 GFLOP per image and step for each cnn. 20 images for 32 steps,
//     with the forward passes of the 20 test images at the 7 recorded
//     steps (a third of a step each), are about 690 image-steps: 2.6
//     TFLOP per cnn, 5.3 for both, about 120 CPU-seconds at the stacked
//     float32 ensembles' 45 GFLOP per CPU-second, twice their float64
//     rate (float32's rounding, about 1e-7 of the outputs, is far below
//     the seed spread). More images or steps cost in proportion; the
//     steps matter most at this scale, as the large constant mode of the
//     cnn-gap NTK sets eta_crit: cnn-gap's expected accuracy at depth 1
//     in the chaotic phase is 0.19 after 16 steps on 20 images, 0.25
//     after 32 steps on 10 and 0.27 after 32 on 20, while with one image
//     per class the fcn and cnn-f start within 5 points of chance on
//     some draws.
//   - The theory. The cnn-gap kernel costs (H W)^2 = 38416 pixel pairs
//     per pair of images and layer, about 20 ns each (an arcsine and the
//     3x3 convolution): the 40 images make 820 pairs, so depths to 30 in
//     2 phases are 1.9e9 pixel-pair layers, about 40 CPU-seconds; 40 + 40
//     images would take 4 times that. The fcn and cnn-f kernels are far
//     cheaper.
//
// In all about 165 CPU-seconds, a tenth more than the 7x7 setup (40 + 40
// images, float64, depths to 40) took. CIFAR-10 at 16x16 would cost 1.7
// times the theory and 1.3 times the networks of MNIST at 14x14, beyond
// the budget; at 8x8 it costs about a third. The fcns have width 128; the
// paper scale trains deeper and longer, in float64.
var poolingQuick = poolingSetup{
	NTrain: 20, NTest: 20, Downsample: map[string]int{datasets.MNIST: 2, datasets.CIFAR10: 4}, MaxDepth: 30, SB2: 0.05,
	Phases: []poolingPhase{{"chaotic", 3.0}, {"ordered", 1.0}},
	Depths: []int{1, 2, 4, 8}, Width: 128, Channels: 64, Steps: 32, EtaFrac: 0.5, NTrainNet: 20, Seeds: 4, Draws: 200, DType: spec.Float32,
}

// downsample returns the pooling factor of data set name (1: none).
func (st poolingSetup) downsample(name string) int {
	return max(st.Downsample[name], 1)
}

// poolingData returns the balanced, grayscale, downsampled subsets of the
// setup, both standardized by the mean and std of the training subset.
func poolingData(cfg Config, st poolingSetup) (tr, te *datasets.Set, note, why string, err error) {
	trainSet, testSet, note, why, err := loadData(cfg)
	if err != nil {
		return nil, nil, "", "", err
	}
	d, err := datasets.PrepareTraining(trainSet, testSet, datasets.Preparation{NTrain: st.NTrain, NTest: st.NTest, Seed: cfg.Seed,
		Grayscale: true, Downsample: st.downsample(trainSet.Meta().Name)})
	if err != nil {
		return nil, nil, "", "", err
	}
	return d.Train, d.Test, note, why, nil
}

// poolingResult is the data behind the figure, per phase and architecture
// (in the order of poolingArchs). The theory curves are on the NTrain
// points, the networks on NTrainNet of them; NetTrain and NetTest are the
// means over Seeds networks, NetTrainSD and NetTestSD their sample
// standard deviations.
type poolingResult struct {
	Theory                [][]cells.PoolingCurve // [phase][arch], depths 1..MaxDepth
	NetTrain, NetTest     [][][]float64          // [phase][arch][depth index of Depths]
	NetTrainSD, NetTestSD [][][]float64
	NTrain, NTrainNet     int
	Seeds                 int
	Chance                float64
}

var poolingArchs = []string{spec.FCN, spec.CNNF, spec.CNNGAP}

// computePooling computes the theory curves and trains the networks of st
// on tr, te; progress counts one unit per theory depth and per layer of a
// trained network and seed.
func computePooling(ctx context.Context, st poolingSetup, tr, te *datasets.Set, seed uint64, progress func(done, total int)) (poolingResult, error) {
	trNet := tr
	if st.NTrainNet < tr.N {
		var err error
		if trNet, err = tr.Subset(st.NTrainNet, false, seed); err != nil {
			return poolingResult{}, fmt.Errorf("training subset of the networks: %w", err)
		}
	}
	seeds := max(st.Seeds, 1)
	np := len(st.Phases)
	r := poolingResult{NTrain: tr.N, NTrainNet: trNet.N, Chance: 1 / float64(tr.Classes), Seeds: seeds}
	perArch := np * st.MaxDepth
	for _, d := range st.Depths {
		perArch += np * d * seeds
	}
	total := len(poolingArchs) * perArch
	done := 0
	report := func(d int) {
		if progress != nil {
			progress(d, total)
		}
	}
	nanPlane := func() [][][]float64 {
		out := make([][][]float64, np)
		for ip := range out {
			out[ip] = make([][]float64, len(poolingArchs))
		}
		return out
	}
	r.Theory = make([][]cells.PoolingCurve, np)
	for ip := range r.Theory {
		r.Theory[ip] = make([]cells.PoolingCurve, len(poolingArchs))
	}
	r.NetTrain, r.NetTest, r.NetTrainSD, r.NetTestSD = nanPlane(), nanPlane(), nanPlane(), nanPlane()
	yTr, yTe := datasets.OneHot(trNet.Labels, trNet.Classes, false), datasets.OneHot(te.Labels, te.Classes, false)
	for ia, a := range poolingArchs {
		for ip, ph := range st.Phases {
			base := done
			c, err := cells.PoolingCurvesAt(a, ph.SW2, st.SB2, st.MaxDepth, tr, te, st.EtaFrac, st.Steps, st.Draws, st.Depths, seed,
				func(d, tot int) { report(base + d*st.MaxDepth/tot) })
			if err != nil {
				return r, fmt.Errorf("%s %s theory: %w", ph.Name, a, err)
			}
			done = base + st.MaxDepth
			report(done)
			r.Theory[ip][ia] = c
		}
		width := st.Channels
		if a == spec.FCN {
			width = st.Width
		}
		xTr, xTe := trNet.Array(), te.Array()
		if a == spec.FCN {
			xTr, xTe = trNet.Flat(), te.Flat()
		}
		for ip := range st.Phases {
			r.NetTrain[ip][ia], r.NetTest[ip][ia] = nanSlice(len(st.Depths)), nanSlice(len(st.Depths))
			r.NetTrainSD[ip][ia], r.NetTestSD[ip][ia] = nanSlice(len(st.Depths)), nanSlice(len(st.Depths))
		}
		// One ensemble per depth: every phase and seed.
		for id, d := range st.Depths {
			var specs []spec.Spec
			var rngs []*rand.Rand
			var lr []float64
			for _, ph := range st.Phases {
				s := spec.Spec{Arch: a, Act: spec.Erf, Depth: d, Width: width, SW2: ph.SW2, SB2: st.SB2, Outputs: tr.Classes, DType: st.DType}
				ec, err := analyticEtaCrit(s, xTr)
				if err != nil {
					return r, fmt.Errorf("%s %s depth %d: %w", ph.Name, a, d, err)
				}
				for j := 0; j < seeds; j++ {
					specs = append(specs, s)
					rngs = append(rngs, nets.InitSource(seed, j))
					lr = append(lr, st.EtaFrac*ec)
				}
			}
			e, err := nets.NewEnsemble(specs, xTr.Shape[1:], rngs)
			if err != nil {
				return r, fmt.Errorf("%s depth %d: %w", a, d, err)
			}
			hs, err := train.RunEnsemble(ctx, e, train.Data{XTrain: xTr, YTrain: yTr, XTest: xTe, YTest: yTe},
				train.EnsembleOptions{Steps: st.Steps, LR: lr, Seed: seed})
			if err != nil {
				return r, fmt.Errorf("training %s depth %d: %w", a, d, err)
			}
			for ip := range st.Phases {
				var last []train.Point
				for _, h := range hs[ip*seeds : (ip+1)*seeds] {
					if h.Status != train.Diverged {
						last = append(last, h.Last())
					}
				}
				r.NetTrain[ip][ia][id], r.NetTrainSD[ip][ia][id], r.NetTest[ip][ia][id], r.NetTestSD[ip][ia][id] = seedSpread(last)
			}
			done += np * d * seeds
			report(done)
		}
	}
	return r, nil
}

func nanSlice(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.NaN()
	}
	return v
}

// chanceDepth returns the first depth whose accuracy (acc[l-1] at depth l)
// is within 5 points of chance, or 0 if none is.
func chanceDepth(acc []float64, chance float64) int {
	for i, v := range acc {
		if v <= chance+0.05 {
			return i + 1
		}
	}
	return 0
}

// meanFinite returns the mean of the finite values of v (NaN if none).
func meanFinite(v []float64) float64 {
	sum, n := 0.0, 0
	for _, x := range v {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			sum += x
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// deeperThanBoth compares cnn-gap's depth g with fcn's f and cnn-f's c
// (0 meaning "beyond every depth tried", i.e. deepest): "deeper" if g
// exceeds both, "shallower" if it is below both, "between" otherwise.
func deeperThanBoth(f, c, g int, beyond int) string {
	if f == 0 {
		f = beyond
	}
	if c == 0 {
		c = beyond
	}
	if g == 0 {
		g = beyond
	}
	switch {
	case g > f && g > c:
		return "deeper"
	case g < f && g < c:
		return "shallower"
	}
	return "between"
}

func runPooling(cfg Config) (Result, error) {
	d, err := computePoolingData(cfg)
	if err != nil {
		return Result{}, err
	}
	return drawPooling(d.Setup, d.Result, d.Note, d.Why, d.H, d.W), nil
}

// poolingDataSet is what the quick pooling figure computes, kept for the
// agreement figure (see computeTrainability).
type poolingDataSet struct {
	Setup     poolingSetup
	Result    poolingResult
	Note, Why string
	H, W      int
}

func computePoolingData(cfg Config) (poolingDataSet, error) {
	if d, ok := memoGet[poolingDataSet]("pooling", cfg); ok {
		return d, nil
	}
	d, err := poolingCompute(cfg, poolingQuick)
	if err == nil {
		memoPut("pooling", cfg, d)
	}
	return d, err
}

// poolingCompute computes the pooling data of setup st.
func poolingCompute(cfg Config, st poolingSetup) (poolingDataSet, error) {
	tr, te, note, why, err := poolingData(cfg, st)
	if err != nil {
		return poolingDataSet{}, err
	}
	r, err := computePooling(context.Background(), st, tr, te, cfg.Seed, cfg.Progress)
	if err != nil {
		return poolingDataSet{}, err
	}
	return poolingDataSet{Setup: st, Result: r, Note: note, Why: why, H: tr.H, W: tr.W}, nil
}

// poolingFigure computes and draws the figure of setup st.
func poolingFigure(cfg Config, st poolingSetup) (Result, error) {
	d, err := poolingCompute(cfg, st)
	if err != nil {
		return Result{}, err
	}
	return drawPooling(d.Setup, d.Result, d.Note, d.Why, d.H, d.W), nil
}

// poolingPaper is the paper-scale setup: 256 points of each split, depth
// to 100, and networks trained for 4096 steps on all training points.
var poolingPaper = poolingSetup{
	NTrain: 256, NTest: 256, Downsample: map[string]int{datasets.MNIST: 4, datasets.CIFAR10: 4}, MaxDepth: 100, SB2: 0.05,
	Phases: []poolingPhase{{"chaotic", 3.0}, {"ordered", 1.0}},
	Depths: []int{1, 2, 4, 8, 16, 32}, Width: 1024, Channels: 64, Steps: 4096, EtaFrac: 0.5, NTrainNet: 256,
}

func paperPooling(cfg Config) (SweepPlan, error) { return poolingPlan(cfg, poolingPaper) }

// poolingPlan runs the figure as a "pooling-theory" sweep over arch x sw2
// and two "train" sweeps (fcn at Width, the cnns at Channels) over sw2 x
// depth. The networks train on all NTrain points (NTrainNet is ignored).
func poolingPlan(cfg Config, st poolingSetup) (SweepPlan, error) {
	data, note, err := sweepData(cfg)
	if err != nil {
		return SweepPlan{}, err
	}
	settings := func(extra map[string]any) map[string]any {
		m := map[string]any{"n_train": st.NTrain, "n_test": st.NTest, "grayscale": true, "downsample": st.downsample(data["dataset"].(string))}
		for _, e := range []map[string]any{data, extra} {
			for k, v := range e {
				m[k] = v
			}
		}
		return m
	}
	sw2 := make([]float64, len(st.Phases))
	for i, ph := range st.Phases {
		sw2[i] = ph.SW2
	}
	archAxis := func(archs ...string) sweep.Axis {
		a := sweep.Axis{}
		for _, x := range archs {
			a.Values = append(a.Values, x)
		}
		return a
	}
	base := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: st.MaxDepth, SW2: 1, SB2: st.SB2}
	trainSt := settings(map[string]any{"steps": st.Steps, "times": []any{float64(st.Steps)}, "eta_frac": st.EtaFrac})
	fcn, cnn := base, base
	fcn.Width, cnn.Width = st.Width, st.Channels
	fcn.DType, cnn.DType = st.DType, st.DType
	// The train cells of one architecture and depth are consecutive: one
	// ensemble group, also within a cluster task's consecutive cells.
	files := []sweep.File{
		{Name: "pooling-theory", Spec: base, Grid: map[string]sweep.Axis{"arch": archAxis(poolingArchs...), "sw2": floatAxis(sw2)},
			Order: []string{"arch", "sw2"}, Kinds: []string{"pooling-theory"}, Settings: settings(map[string]any{"steps": st.Steps, "eta_frac": st.EtaFrac}), Seed: int64(cfg.Seed)},
		{Name: "pooling-train-fcn", Spec: fcn, Grid: map[string]sweep.Axis{"sw2": floatAxis(sw2), "depth": intAxis(st.Depths)},
			Order: []string{"depth", "sw2"}, Kinds: []string{"train"}, Settings: trainSt, Seed: int64(cfg.Seed)},
		{Name: "pooling-train-cnn", Spec: cnn, Grid: map[string]sweep.Axis{"arch": archAxis(spec.CNNF, spec.CNNGAP), "sw2": floatAxis(sw2), "depth": intAxis(st.Depths)},
			Order: []string{"arch", "depth", "sw2"}, Kinds: []string{"train"}, Settings: trainSt, Seed: int64(cfg.Seed)},
	}
	return SweepPlan{Files: files, Draw: func(tables []sweep.Table) (Result, error) {
		r := poolingResult{NTrain: st.NTrain, NTrainNet: st.NTrain, Chance: 1 / float64(spec.DefaultOutputs), Seeds: 1}
		nan := func(n int) []float64 {
			v := make([]float64, n)
			for i := range v {
				v[i] = math.NaN()
			}
			return v
		}
		for _, ph := range st.Phases {
			var curves []cells.PoolingCurve
			var netTr, netTe [][]float64
			for _, a := range poolingArchs {
				c := cells.PoolingCurve{Acc: nan(st.MaxDepth), Centred: nan(st.MaxDepth), Expected: nan(st.MaxDepth), ExpectedSD: nan(st.MaxDepth), ExpectedInf: nan(st.MaxDepth)}
				for _, row := range tables[0].Rows {
					if row.Params["arch"] == a && row.Params["sw2"] == ph.SW2 && row.Status == sweep.StatusOK {
						copy(c.Acc, row.Arrays["pooling-theory.acc"].Data)
						copy(c.Centred, row.Arrays["pooling-theory.centred"].Data)
						copy(c.Expected, row.Arrays[fmt.Sprintf("pooling-theory.expected_t%d", st.Steps)].Data)
						copy(c.ExpectedInf, row.Arrays["pooling-theory.expected_inf"].Data)
					}
				}
				curves = append(curves, c)
				trAcc, teAcc := nan(len(st.Depths)), nan(len(st.Depths))
				t := tables[2]
				if a == spec.FCN {
					t = tables[1]
				}
				for _, row := range t.Rows {
					if arch, ok := row.Params["arch"]; (ok && arch != a) || row.Params["sw2"] != ph.SW2 {
						continue
					}
					if id := nearest(intsToFloats(st.Depths), row.Params["depth"]); id >= 0 {
						trAcc[id] = column(row, fmt.Sprintf("train.train_acc_t%d", st.Steps))
						teAcc[id] = column(row, fmt.Sprintf("train.test_acc_t%d", st.Steps))
					}
				}
				netTr, netTe = append(netTr, trAcc), append(netTe, teAcc)
			}
			r.Theory = append(r.Theory, curves)
			r.NetTrain, r.NetTest = append(r.NetTrain, netTr), append(r.NetTest, netTe)
			r.NetTrainSD, r.NetTestSD = append(r.NetTrainSD, [][]float64{nan(len(st.Depths)), nan(len(st.Depths)), nan(len(st.Depths))}),
				append(r.NetTestSD, [][]float64{nan(len(st.Depths)), nan(len(st.Depths)), nan(len(st.Depths))})
		}
		ds := data["dataset"].(string)
		in := cells.DataSettings{Dataset: ds, Grayscale: true, Downsample: st.downsample(ds)}.InputShape(spec.CNNF)
		return drawPooling(st, r, note, "", in[0], in[1]), nil
	}}, nil
}

// drawPooling draws the figure and its caption from r; h x w is the image
// size.
func drawPooling(st poolingSetup, r poolingResult, note, why string, h, w int) Result {
	depths := make([]float64, st.MaxDepth)
	for i := range depths {
		depths[i] = float64(i + 1)
	}
	netDepths := make([]float64, len(st.Depths))
	for i, d := range st.Depths {
		netDepths[i] = float64(d)
	}
	dtype := ""
	if st.DType == spec.Float32 {
		dtype = " float32"
	}
	fig := plots.Figure{Title: fmt.Sprintf("erf, sb2 = %g, %s %dx%d grayscale, %d steps at %g eta_crit: expected test accuracy of one infinitely wide network on %d points (lines), trained%s networks on %d, mean and SD over %d seeds (markers)",
		st.SB2, note, h, w, st.Steps, st.EtaFrac, r.NTrain, dtype, r.NTrainNet, r.Seeds), Rows: 1, Cols: len(st.Phases)}
	var obs []string
	for ip, ph := range st.Phases {
		p := plots.Panel{Title: fmt.Sprintf("%s, sw2 = %g", ph.Name, ph.SW2), XLabel: "depth", YLabel: "test accuracy", YLim: [2]float64{0, 1},
			Refs: []plots.RefLine{{At: r.Chance, Label: "chance"}}}
		var th, mp, nets []string
		for ia, a := range poolingArchs {
			c := r.Theory[ip][ia]
			p.Series = append(p.Series, plots.Series{Label: a + " theory", X: depths, Y: c.Expected, Style: plots.Line, Color: ia + 1})
			th = append(th, fmt.Sprintf("%s %.2f at depth 1, %.2f at depth %d, within 5 points of chance %s (converged: %s)", a, c.Expected[0], c.Expected[st.MaxDepth-1], st.MaxDepth,
				depthWord(chanceDepth(c.Expected, r.Chance), st.MaxDepth), depthWord(chanceDepth(c.ExpectedInf, r.Chance), st.MaxDepth)))
			mp = append(mp, fmt.Sprintf("%s %s (centred at depth %d: %.2f)", a, depthWord(chanceDepth(c.Acc, r.Chance), st.MaxDepth), st.MaxDepth, c.Centred[st.MaxDepth-1]))
		}
		for ia, a := range poolingArchs {
			width := st.Channels
			if a == spec.FCN {
				width = st.Width
			}
			p.Series = append(p.Series, plots.Series{Label: fmt.Sprintf("%s trained (width %d)", a, width), X: netDepths, Y: r.NetTest[ip][ia], YErr: r.NetTestSD[ip][ia], Style: plots.Markers, Color: ia + 1})
			nets = append(nets, fmt.Sprintf("%s test %s (train %s)", a, accList(st.Depths, r.NetTest[ip][ia]), accList(st.Depths, r.NetTrain[ip][ia])))
		}
		fig.Panels = append(fig.Panels, p)
		obs = append(obs, fmt.Sprintf("%s, expected accuracy of one network after %d steps: %s. Mean predictor (converged) within 5 points of chance: %s. %s, trained (mean of %d seeds) at depths %v: %s.",
			ph.Name, st.Steps, strings.Join(th, "; "), strings.Join(mp, ", "), ph.Name, r.Seeds, st.Depths, strings.Join(nets, "; ")))
	}
	obs = append([]string{poolingVerdict(r, st)}, obs...)
	var nums []plots.KeyNumber
	if why != "" {
		nums = append(nums, plots.KeyNumber{Name: "CIFAR-10", Value: "not used", Note: why})
	}
	return Result{Figure: fig, Caption: plots.ReportFigure{
		Theory: "CNN-F (flatten readout) has the same depth scales as the FCN, so it loses generalization at the same depth in the chaotic phase; global average pooling (CNN-GAP) divides the growing diagonal of the NTK by the number of pixels d, so its data-dependent predictor survives roughly xi_* ln d more layers. " +
			"The lines are the expected test accuracy of one infinitely wide network trained from a random initialization for the same steps as the markers (its outputs are Gaussian: the NTK mean plus initial outputs f_0 ~ GP(0, K) that never decay at test points), so theory and trained networks compare like for like; the caption also gives where the mean predictor, which lacks f_0, reaches chance.",
		Observed: strings.Join(obs, " "),
		Numbers:  nums,
	}}
}

func depthWord(l, maxDepth int) string {
	if l == 0 {
		return fmt.Sprintf("not within depth %d", maxDepth)
	}
	return fmt.Sprintf("from depth %d", l)
}

// poolingClaim is the chaotic-phase verdict of the theory: the depths at
// which the expected accuracy of fcn, cnn-f and cnn-gap comes within 5
// points of chance (0: not within MaxDepth), deeperThanBoth of them, and
// Margin, how many layers later cnn-gap gets there than the later of the
// other two (negative: earlier; beyond MaxDepth counts as MaxDepth + 1).
type poolingClaim struct {
	FCN, CNNF, CNNGAP int
	Verdict           string
	Margin            int
}

func theoryClaim(r poolingResult, st poolingSetup) poolingClaim {
	const f, c, g = 0, 1, 2
	ch := r.Theory[0]
	cl := poolingClaim{FCN: chanceDepth(ch[f].Expected, r.Chance), CNNF: chanceDepth(ch[c].Expected, r.Chance), CNNGAP: chanceDepth(ch[g].Expected, r.Chance)}
	beyond := st.MaxDepth + 1
	cl.Verdict = deeperThanBoth(cl.FCN, cl.CNNF, cl.CNNGAP, beyond)
	or := func(l int) int {
		if l == 0 {
			return beyond
		}
		return l
	}
	cl.Margin = or(cl.CNNGAP) - max(or(cl.FCN), or(cl.CNNF))
	return cl
}

// poolingVerdict states, from the chaotic phase of r, whether the claim
// (cnn-f tracks the fcn, cnn-gap generalizes deeper) is visible or refuted,
// for the theory (expected accuracy after the networks' steps) and for the
// trained networks.
func poolingVerdict(r poolingResult, st poolingSetup) string {
	const f, c, g = 0, 1, 2
	cl := theoryClaim(r, st)
	name := func(l int) string {
		if l == 0 {
			return fmt.Sprintf("beyond %d", st.MaxDepth)
		}
		return fmt.Sprint(l)
	}
	var v string
	switch cl.Verdict {
	case "deeper":
		v = fmt.Sprintf("the theory shows the claim: cnn-gap keeps generalizing %d layers deeper than the later of fcn and cnn-f", cl.Margin)
	case "shallower":
		v = fmt.Sprintf("the theory refutes the claim at this scale: cnn-gap reaches chance %d layers before the earlier of fcn and cnn-f", -cl.Margin)
	default:
		v = "the theory neither shows nor refutes the claim: cnn-gap reaches chance between the fcn and cnn-f"
	}
	out := fmt.Sprintf("Claim check (%s phase, expected accuracy of one network after %d steps): depth of chance fcn %s, cnn-f %s, cnn-gap %s, so %s. ", st.Phases[0].Name, st.Steps, name(cl.FCN), name(cl.CNNF), name(cl.CNNGAP), v)
	nt := r.NetTest[0]
	mf, mc, mg := meanFinite(nt[f]), meanFinite(nt[c]), meanFinite(nt[g])
	out += fmt.Sprintf("Trained (mean of %d seeds), test accuracy averaged over depths %v: fcn %.2f, cnn-f %.2f, cnn-gap %.2f; the deepest depth above chance + 5 points: fcn %s, cnn-f %s, cnn-gap %s, ",
		r.Seeds, st.Depths, mf, mc, mg, lastAbove(st.Depths, nt[f], r.Chance), lastAbove(st.Depths, nt[c], r.Chance), lastAbove(st.Depths, nt[g], r.Chance))
	switch {
	case mg > mf+0.05 && mg > mc+0.05:
		out += "so the trained cnn-gap generalizes better than both, as the claim says."
	case mg < mf-0.05 && mg < mc-0.05:
		out += "so the trained cnn-gap generalizes worse than both, against the claim."
	default:
		out += "so the trained networks do not separate cnn-gap from the others by more than 0.05."
	}
	return out
}

// lastAbove returns the deepest of depths whose accuracy is above chance +
// 0.05, or "none".
func lastAbove(depths []int, acc []float64, chance float64) string {
	out := "none"
	for i, d := range depths {
		if acc[i] > chance+0.05 {
			out = fmt.Sprint(d)
		}
	}
	return out
}

// accList formats accuracies as "d1: a1, d2: a2, ..." ("diverged" for NaN).
func accList(depths []int, acc []float64) string {
	parts := make([]string, len(depths))
	for i, d := range depths {
		v := "diverged"
		if !math.IsNaN(acc[i]) {
			v = fmt.Sprintf("%.2f", acc[i])
		}
		parts[i] = fmt.Sprintf("%d: %s", d, v)
	}
	return strings.Join(parts, ", ")
}
