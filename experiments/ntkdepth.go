package experiments

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/experiments/cells"
	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/ntkempirical"
	"github.com/ntkharness/ntkharness/plots"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
)

func init() {
	register(Figure{Name: "ntk-depth", Title: "The NTK vs depth in the three phases",
		Summary: "Theta_aa, Theta_ab, lambda_max, lambda_min and kappa of the analytic NTK vs depth with the asymptotes, and of width-512 networks' empirical NTKs",
		Run:     runNTKDepth, Paper: paperNTKDepth})
}

// ntkDepthSB2 is the bias variance of the three phase points; their sw2 are
// an ordered point, the critical sw2 and a chaotic point.
const ntkDepthSB2 = 0.05

// NTKDepthSeries lists cells.NTKStats of a kernel at each of Depths, one slice
// per statistic.
type NTKDepthSeries struct {
	Depths                []float64
	Diag, Off, LMax, LMin []float64
	Kappa                 []float64
}

func (c *NTKDepthSeries) add(depth int, s cells.NTKStats) {
	c.Depths = append(c.Depths, float64(depth))
	c.Diag = append(c.Diag, s.Diag)
	c.Off = append(c.Off, s.Off)
	c.LMax = append(c.LMax, s.LMax)
	c.LMin = append(c.LMin, s.LMin)
	c.Kappa = append(c.Kappa, s.Kappa)
}

// NTKDepthCurves are the cells.NTKStats of the per-logit analytic NTK Theta^l of
// n inputs at each sampled depth l, with the mean-field quantities of the
// phase point.
type NTKDepthCurves struct {
	NTKDepthSeries
	MF theory.MeanField
}

// ntkDepthSample lists the depths at which the spectrum is computed: every
// depth to 10, then about 30 per decade up to maxDepth, and every power of
// 2 (the depths of the finite networks).
func ntkDepthSample(maxDepth int) map[int]bool {
	s := map[int]bool{}
	for l := 1; l <= maxDepth && l <= 10; l++ {
		s[l] = true
	}
	for l := 1; l <= maxDepth; l *= 2 {
		s[l] = true
	}
	for x := 10.0; x <= float64(maxDepth); x *= math.Pow(10, 1.0/30) {
		s[int(math.Round(x))] = true
	}
	s[maxDepth] = true
	return s
}

// NTKDepth computes the curves of erf FCNs at (sw2, sb2) on inputs x with
// one theory.Compute pass to maxDepth.
func NTKDepth(sw2, sb2 float64, maxDepth int, x npy.Array, progress func(done, total int)) (NTKDepthCurves, error) {
	act, err := theory.ActivationByName(spec.Erf)
	if err != nil {
		return NTKDepthCurves{}, err
	}
	mf, err := theory.SolveMeanField(act, sw2, sb2)
	if err != nil {
		return NTKDepthCurves{}, err
	}
	c := NTKDepthCurves{MF: mf}
	n := x.Shape[0]
	sample := ntkDepthSample(maxDepth)
	var statErr error
	opt := theory.Options{EachDepth: func(l int, k theory.Kernels) {
		if progress != nil {
			progress(l, maxDepth)
		}
		if !sample[l] || statErr != nil {
			return
		}
		st, err := cells.NTKStatsOf(mat.NewSymDense(n, append([]float64(nil), k.NTK.RawMatrix().Data...)))
		if err != nil {
			statErr = fmt.Errorf("depth %d: %w", l, err)
			return
		}
		c.add(l, st)
	}}
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: maxDepth, SW2: sw2, SB2: sb2}
	if _, err := theory.Compute(s, x, npy.Array{}, opt); err != nil {
		return c, err
	}
	return c, statErr
}

// NTKDepthEmpirical are the cells.NTKStats of the empirical NTKs of finite erf
// FCNs at each depth: Mean and SD are the mean and the sample standard
// deviation over Seeds initializations of the statistics of each network's
// own kernel (not the statistics of the mean kernel), so they show what a
// single network of this width looks like. A statistic that is NaN for any
// seed (kappa with lambda_min <= 0) is NaN in Mean and SD; SD is NaN for
// one seed.
type NTKDepthEmpirical struct {
	Width, Seeds int
	Mean, SD     NTKDepthSeries
}

// NTKDepthFinite computes NTKDepthEmpirical for erf FCNs of the given width
// at (sw2, sb2) with one output, whose kernel is the per-logit NTK that
// theory.Compute returns, on the inputs x of shape [n, d]. Network m at
// every depth is drawn from nets.InitSource(seed, m), m = 0..seeds-1,
// and its kernel computed by the structured method. Progress counts
// network layers: depth l adds seeds*l to a total of seeds*sum(depths).
func NTKDepthFinite(sw2, sb2 float64, depths []int, width, seeds int, seed uint64, x npy.Array, progress func(done, total int)) (NTKDepthEmpirical, error) {
	if len(x.Shape) != 2 {
		return NTKDepthEmpirical{}, fmt.Errorf("empirical NTK vs depth: inputs have shape %v, want [n, d]", x.Shape)
	}
	if seeds < 1 {
		return NTKDepthEmpirical{}, fmt.Errorf("empirical NTK vs depth: %d seeds, need at least 1", seeds)
	}
	total, done := 0, 0
	for _, l := range depths {
		total += seeds * l
	}
	e := NTKDepthEmpirical{Width: width, Seeds: seeds}
	for _, l := range depths {
		s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: l, Width: width, SW2: sw2, SB2: sb2, Outputs: 1}
		per := make([]cells.NTKStats, seeds)
		for m := range per {
			st, err := cells.FiniteNTKStats(s, x, nets.InitSource(seed, m), ntkempirical.Options{})
			if err != nil {
				return e, fmt.Errorf("width %d, depth %d, seed %d: %w", width, l, m, err)
			}
			per[m] = st
			done += l
			if progress != nil {
				progress(done, total)
			}
		}
		mean, sd := cells.MeanSD(per)
		e.Mean.add(l, mean)
		e.SD.add(l, sd)
	}
	return e, nil
}

// ntkDepthFinite sets the finite-width overlay of the ntk-depth figure:
// erf FCNs of this width at these depths, seeds initializations each.
type ntkDepthFinite struct {
	width, seeds int
	depths       []int
}

// ntkDepthNets is the quick overlay, ntkDepthPaper the paper one (width
// 1024 keeps a depth-128 network's parameters near 1 GiB).
var (
	ntkDepthNets  = ntkDepthFinite{512, 4, []int{1, 2, 4, 8, 16, 32, 64}}
	ntkDepthPaper = ntkDepthFinite{1024, 8, []int{1, 2, 4, 8, 16, 32, 64, 128}}
)

// ntkDepthPoints are the three phase points of the figure; eigLegend
// places the eigenvalue panel's legend (automatic placement keeps it off
// the data, widening the y range when no corner is free).
type ntkDepthPoint struct {
	name      string
	sw2       float64
	eigLegend string
}

func ntkDepthPoints() ([]ntkDepthPoint, error) {
	act, err := theory.ActivationByName(spec.Erf)
	if err != nil {
		return nil, err
	}
	crit, err := theory.CriticalSW2(act, ntkDepthSB2)
	if err != nil {
		return nil, err
	}
	return []ntkDepthPoint{{"ordered", 1.0, plots.LegendAuto}, {"critical", crit, plots.LegendAuto}, {"chaotic", 2.5, plots.LegendAuto}}, nil
}

// ntkDepthN is the number of inputs of the figure.
const ntkDepthN = 64

func runNTKDepth(cfg Config) (Result, error) {
	fin := ntkDepthNets
	return ntkDepthResult(cfg, fin, func(p ntkDepthPoint, x npy.Array, progress func(done, total int)) (NTKDepthEmpirical, error) {
		return NTKDepthFinite(p.sw2, ntkDepthSB2, fin.depths, fin.width, fin.seeds, cfg.Seed, x, progress)
	})
}

// paperNTKDepth computes the finite-width overlay as one "ntk" sweep over
// the phase points' sw2 and the depths (per-network statistics of seeds
// networks per cell); the analytic curves are computed while drawing.
func paperNTKDepth(cfg Config) (SweepPlan, error) { return ntkDepthPlan(cfg, ntkDepthPaper) }

func ntkDepthPlan(cfg Config, fin ntkDepthFinite) (SweepPlan, error) {
	points, err := ntkDepthPoints()
	if err != nil {
		return SweepPlan{}, err
	}
	data, _, err := sweepData(cfg)
	if err != nil {
		return SweepPlan{}, err
	}
	st := map[string]any{"n_train": ntkDepthN, "n_test": 1, "normalize": cells.NormalizeNorm, "samples": fin.seeds, "per_network": true, "theory": false}
	for k, v := range data {
		st[k] = v
	}
	sw2 := make([]float64, len(points))
	for i, p := range points {
		sw2[i] = p.sw2
	}
	f := sweep.File{
		Name:     "ntk-depth-finite",
		Spec:     spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 1, Width: fin.width, SW2: 1, SB2: ntkDepthSB2, Outputs: 1},
		Grid:     map[string]sweep.Axis{"sw2": floatAxis(sw2), "depth": intAxis(fin.depths)},
		Order:    []string{"sw2", "depth"},
		Kinds:    []string{"ntk"},
		Settings: st,
		Seed:     int64(cfg.Seed),
	}
	return SweepPlan{Files: []sweep.File{f}, Draw: func(tables []sweep.Table) (Result, error) {
		return ntkDepthResult(cfg, fin, func(p ntkDepthPoint, _ npy.Array, _ func(done, total int)) (NTKDepthEmpirical, error) {
			e := NTKDepthEmpirical{Width: fin.width, Seeds: fin.seeds}
			for _, r := range tables[0].Rows {
				if x, _ := r.Params["sw2"].(float64); x != p.sw2 {
					continue
				}
				l, _ := r.Params["depth"].(float64)
				var mean, sd cells.NTKStats
				for _, f := range []struct {
					m, s *float64
					name string
				}{{&mean.Diag, &sd.Diag, "diag"}, {&mean.Off, &sd.Off, "off"}, {&mean.LMax, &sd.LMax, "lambda_max"}, {&mean.LMin, &sd.LMin, "lambda_min"}, {&mean.Kappa, &sd.Kappa, "kappa"}} {
					*f.m, *f.s = column(r, "ntk."+f.name), column(r, "ntk."+f.name+"_sd")
				}
				e.Mean.add(int(l), mean)
				e.SD.add(int(l), sd)
			}
			return e, nil
		})
	}}, nil
}

// ntkDepthResult draws the figure: the analytic curves of each phase point
// computed here, the finite-width statistics from finite.
func ntkDepthResult(cfg Config, fin ntkDepthFinite, finite func(p ntkDepthPoint, x npy.Array, progress func(done, total int)) (NTKDepthEmpirical, error)) (Result, error) {
	maxDepth, n := 400, ntkDepthN
	train, _, note, why, err := loadData(cfg)
	if err != nil {
		return Result{}, err
	}
	sub, err := train.Subset(n, false, cfg.Seed)
	if err != nil {
		return Result{}, err
	}
	if sub, err = sub.NormalizeNorm(); err != nil {
		return Result{}, err
	}
	flat := sub.Flat()
	points, err := ntkDepthPoints()
	if err != nil {
		return Result{}, err
	}
	// Progress units: one per analytic depth, one per layer of each
	// finite network.
	finUnits := 0
	for _, l := range fin.depths {
		finUnits += fin.seeds * l
	}
	perPoint := maxDepth + finUnits
	report := func(ip, done int) {
		if cfg.Progress != nil {
			cfg.Progress(ip*perPoint+done, len(points)*perPoint)
		}
	}
	empLabel := fmt.Sprintf("width %d", fin.width)
	fig := plots.Figure{Title: fmt.Sprintf("NTK of erf FCNs vs depth, sb2 = %g, %d %s inputs of norm sqrt(d): analytic (lines), %s networks (markers: mean and SD of %d)",
		ntkDepthSB2, n, note, empLabel, fin.seeds), Rows: 3, Cols: 3}
	var nums []plots.KeyNumber
	obs := ""
	for ip, p := range points {
		c, err := NTKDepth(p.sw2, ntkDepthSB2, maxDepth, flat, func(done, _ int) { report(ip, done) })
		if err != nil {
			return Result{}, fmt.Errorf("%s point sw2 = %g: %w", p.name, p.sw2, err)
		}
		e, err := finite(p, flat, func(done, _ int) { report(ip, maxDepth+done) })
		if err != nil {
			return Result{}, fmt.Errorf("%s point sw2 = %g: %w", p.name, p.sw2, err)
		}
		var aDiag, aOff, aLMax, aKappa []float64
		for _, l := range c.Depths {
			aDiag = append(aDiag, c.MF.NTKDiagonal(int(l)))
			aOff = append(aOff, c.MF.NTKOffDiagonal(int(l)))
			aLMax = append(aLMax, c.MF.LambdaMax(n, int(l)))
			aKappa = append(aKappa, c.MF.KappaAsymptote(n, int(l)))
		}
		em, sd := e.Mean, e.SD
		title := fmt.Sprintf("%s, sw2 = %.3f", p.name, p.sw2)
		fig.Panels = append(fig.Panels,
			plots.Panel{Title: title + ": entries", XLabel: "depth l", YLabel: "Theta", LogX: true, LogY: true, Series: []plots.Series{
				{Label: "Theta_aa", X: c.Depths, Y: c.Diag, Style: plots.Line, Color: 1},
				{Label: "Theta_aa asymptote", X: c.Depths, Y: aDiag, Style: plots.Line, Dashed: true, Color: 1},
				{Label: "Theta_aa, " + empLabel, X: em.Depths, Y: em.Diag, YErr: sd.Diag, Style: plots.Markers, Color: 1},
				{Label: "Theta_ab (mean)", X: c.Depths, Y: c.Off, Style: plots.Line, Color: 2},
				{Label: "Theta_ab asymptote", X: c.Depths, Y: aOff, Style: plots.Line, Dashed: true, Color: 2},
				{Label: "Theta_ab, " + empLabel, X: em.Depths, Y: em.Off, YErr: sd.Off, Style: plots.Markers, Color: 2},
			}},
			plots.Panel{Title: title + ": eigenvalues", XLabel: "depth l", YLabel: "eigenvalue", LogX: true, LogY: true, Legend: p.eigLegend, Series: []plots.Series{
				{Label: "lambda_max", X: c.Depths, Y: c.LMax, Style: plots.Line, Color: 1},
				{Label: "lambda_max asymptote", X: c.Depths, Y: aLMax, Style: plots.Line, Dashed: true, Color: 1},
				{Label: "lambda_max, " + empLabel, X: em.Depths, Y: em.LMax, YErr: sd.LMax, Style: plots.Markers, Color: 1},
				{Label: "lambda_min", X: c.Depths, Y: c.LMin, Style: plots.Line, Color: 2},
				{Label: "lambda_min, " + empLabel, X: em.Depths, Y: em.LMin, YErr: sd.LMin, Style: plots.Markers, Color: 2},
			}},
			plots.Panel{Title: title + ": condition number", XLabel: "depth l", YLabel: "kappa", LogX: true, LogY: true, Series: []plots.Series{
				{Label: "kappa", X: c.Depths, Y: c.Kappa, Style: plots.Line, Color: 1},
				{Label: "asymptote (shape)", X: c.Depths, Y: aKappa, Style: plots.Line, Dashed: true, Color: 1},
				{Label: "kappa, " + empLabel, X: em.Depths, Y: em.Kappa, YErr: sd.Kappa, Style: plots.Markers, Color: 1},
			}},
		)
		last := len(c.Depths) - 1
		at10 := 9
		if math.IsNaN(c.Kappa[last]) {
			obs += fmt.Sprintf("%s: kappa %.3g at depth 10; lambda_min is lost to rounding (kappa beyond 1/epsilon) at depth %d. ", p.name, c.Kappa[at10], maxDepth)
		} else {
			obs += fmt.Sprintf("%s: kappa %.3g at depth 10, %.3g at depth %d. ", p.name, c.Kappa[at10], c.Kappa[last], maxDepth)
		}
		nums = append(nums, plots.KeyNumber{Name: p.name + " kappa at depth " + fmt.Sprint(maxDepth), Value: fmt.Sprintf("%.4g", c.Kappa[last])})
		first, err := finiteDeviation(c.NTKDepthSeries, e, 0)
		if err != nil {
			return Result{}, fmt.Errorf("%s point sw2 = %g: %w", p.name, p.sw2, err)
		}
		deepest := len(e.Mean.Depths) - 1 // the deepest depth with a result (a failed sweep cell is NaN)
		for deepest > 0 && math.IsNaN(e.Mean.LMax[deepest]) {
			deepest--
		}
		dev, err := finiteDeviation(c.NTKDepthSeries, e, deepest)
		if err != nil {
			return Result{}, fmt.Errorf("%s point sw2 = %g: %w", p.name, p.sw2, err)
		}
		obs += fmt.Sprintf("Width %d networks vs analytic: lambda_max %+.1f%% at depth %d, %+.1f%% at depth %d (seed SD %.1f%%); kappa %+.1f%% at depth %d, %+.1f%% at depth %d (seed SD %.1f%%). ",
			fin.width, 100*first.lmax, first.depth, 100*dev.lmax, dev.depth, 100*dev.lmaxSD,
			100*first.kappa, first.depth, 100*dev.kappa, dev.depth, 100*dev.kappaSD)
		how := fmt.Sprintf("(mean of %d seeds - analytic) / analytic; seed SD ", fin.seeds)
		nums = append(nums,
			plots.KeyNumber{Name: fmt.Sprintf("%s lambda_max deviation, %s, depth %d", p.name, empLabel, dev.depth), Value: fmt.Sprintf("%+.2f%%", 100*dev.lmax), Note: how + fmt.Sprintf("%.2f%%", 100*dev.lmaxSD)},
			plots.KeyNumber{Name: fmt.Sprintf("%s kappa deviation, %s, depth %d", p.name, empLabel, dev.depth), Value: fmt.Sprintf("%+.2f%%", 100*dev.kappa), Note: how + fmt.Sprintf("%.2f%%", 100*dev.kappaSD)})
	}
	if why != "" {
		nums = append(nums, plots.KeyNumber{Name: "CIFAR-10", Value: "not used", Note: why})
	}
	return Result{Figure: fig, Caption: plots.ReportFigure{
		Theory: "Ordered: every entry of Theta^l tends to p* = q*/(1 - chi_1), so lambda_max -> n p* while lambda_min decays like l chi_1^l and kappa diverges exponentially. " +
			"Chaotic: the diagonal grows like chi_1^l faster than the off-diagonal, so Theta tends to a multiple of the identity and kappa -> 1. Critical: both grow linearly, kappa -> (n + 2)/2. " +
			fmt.Sprintf("A network of finite width n_w has an empirical NTK that fluctuates around the analytic one by O(sqrt(l/n_w)) relative (Hanin and Nica 2020); the markers are the statistics of each %s network's own kernel (one output), mean and SD over %d initializations.", empLabel, fin.seeds),
		Observed: strings.TrimSpace(obs),
		Numbers:  nums,
	}}, nil
}

// ntkDeviation is the relative deviation (mean - analytic) / analytic of
// the finite-width lambda_max and kappa at one depth, with the seed SD
// relative to the analytic value.
type ntkDeviation struct {
	depth                        int
	lmax, kappa, lmaxSD, kappaSD float64
}

// finiteDeviation returns the ntkDeviation at the j-th depth of e, which
// must be one of the depths of the analytic series a.
func finiteDeviation(a NTKDepthSeries, e NTKDepthEmpirical, j int) (ntkDeviation, error) {
	if j < 0 || j >= len(e.Mean.Depths) {
		return ntkDeviation{}, fmt.Errorf("finite-width depth index %d out of range [0, %d)", j, len(e.Mean.Depths))
	}
	l := e.Mean.Depths[j]
	for i, d := range a.Depths {
		if d == l {
			return ntkDeviation{depth: int(l),
				lmax: e.Mean.LMax[j]/a.LMax[i] - 1, lmaxSD: e.SD.LMax[j] / a.LMax[i],
				kappa: e.Mean.Kappa[j]/a.Kappa[i] - 1, kappaSD: e.SD.Kappa[j] / a.Kappa[i]}, nil
		}
	}
	return ntkDeviation{}, fmt.Errorf("finite-width depth %g is not among the analytic depths", l)
}
