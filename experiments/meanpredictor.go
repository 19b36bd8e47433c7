package experiments

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/plots"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
)

func init() {
	register(Figure{Name: "mean-predictor", Title: "The converged mean predictor vs depth",
		Summary: "|P(Theta^l) Y| vs depth: decaying like l (chi_c*/chi_1)^l when chaotic, approaching constants when ordered",
		Run:     runMeanPredictor, PaperInRun: true})
}

// MeanPredictorCurve holds, per depth l, the converged infinite-width test
// prediction P(Theta^l) Y = Theta_td Theta^-1 Y (zero initial outputs):
// Dev is the root mean square of its data-dependent part (each logit minus
// its mean over the test points) and Comp the first few entries of logit 0.
type MeanPredictorCurve struct {
	Depths []float64
	Dev    []float64
	Comp   [][]float64 // Comp[c][i]: component c at Depths[i]
	MF     theory.MeanField
}

// MeanPredictor computes the curve of erf FCNs at (sw2, sb2) to maxDepth.
// Depths whose Theta is not positive definite in floating point are NaN.
func MeanPredictor(sw2, sb2 float64, maxDepth int, xTr, xTe npy.Array, y *mat.Dense, ncomp int) (MeanPredictorCurve, error) {
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: maxDepth, SW2: sw2, SB2: sb2}
	mf, err := theory.MeanFieldOf(s)
	if err != nil {
		return MeanPredictorCurve{}, err
	}
	c := MeanPredictorCurve{MF: mf, Comp: make([][]float64, ncomp)}
	n := xTr.Shape[0]
	all := theory.StackTrainTest(xTr, xTe)
	opt := theory.Options{EachDepth: func(l int, k theory.Kernels) {
		c.Depths = append(c.Depths, float64(l))
		dev := math.NaN()
		comp := make([]float64, ncomp)
		for i := range comp {
			comp[i] = math.NaN()
		}
		if p, err := theory.NewTrainTestPredictor(k.NTK, n, y, nil); err == nil {
			if _, f, err := p.At(theory.Flow, 1, math.Inf(1)); err == nil {
				dev = centredRMS(f)
				for i := range comp {
					comp[i] = f.At(i, 0)
				}
			}
		}
		c.Dev = append(c.Dev, dev)
		for i := range comp {
			c.Comp[i] = append(c.Comp[i], comp[i])
		}
	}}
	if _, err := theory.Compute(s, all, npy.Array{}, opt); err != nil {
		return c, err
	}
	return c, nil
}

// centredRMS is sqrt(mean_{i,j} (f_ij - mean_i f_ij)^2).
func centredRMS(f *mat.Dense) float64 {
	r, k := f.Dims()
	ss := 0.0
	for j := 0; j < k; j++ {
		mean := 0.0
		for i := 0; i < r; i++ {
			mean += f.At(i, j)
		}
		mean /= float64(r)
		for i := 0; i < r; i++ {
			d := f.At(i, j) - mean
			ss += d * d
		}
	}
	return math.Sqrt(ss / float64(r*k))
}

// meanPredictorSetting is the figure at one scale: erf FCNs at sb2 = SB2 on
// NTrain training and NTest test points, each chaotic sw2 to depth
// ChaoticDepth and each ordered sw2 to OrderedDepth, with the logit 0 of
// NComp test points drawn per ordered sw2.
type meanPredictorSetting struct {
	SB2                        float64
	NTrain, NTest              int
	Chaotic, Ordered           []float64
	ChaoticDepth, OrderedDepth int
	NComp                      int
}

// meanPredictorSettings returns the setting of a scale. The paper scale
// takes the companion notebook's sb2 = 0.18 and 256 + 256 points, three sw2
// per phase (xi_* = 7.9, 3.3, 2.4; xi_1 = 3.1, 8.5, 21.9), the ordered
// ones to depth 300 and the chaotic ones to 200: deeper, their
// data-dependent part falls below about 1e-13 of the prediction itself,
// the rounding level of float64 kernels.
func meanPredictorSettings(scale string) meanPredictorSetting {
	if scale == Paper {
		return meanPredictorSetting{SB2: 0.18, NTrain: 256, NTest: 256, Chaotic: []float64{2, 2.5, 3}, Ordered: []float64{1, 1.4, 1.6},
			ChaoticDepth: 200, OrderedDepth: 300, NComp: 4}
	}
	return meanPredictorSetting{SB2: 0.05, NTrain: 64, NTest: 64, Chaotic: []float64{2.5}, Ordered: []float64{1},
		ChaoticDepth: 100, OrderedDepth: 200, NComp: 4}
}

// decayWindow is the depth a of the window [a, 2a] on which the chaotic
// decay rate is measured: 12 xi_* and at least 20. The next term of the
// prefactor l shifts the measured rate by a relative O((xi_*/a)^2), about
// 2% at 12 xi_* (measured at sb2 = 0.18, sw2 = 2 to 3).
func decayWindow(mf theory.MeanField) int {
	return max(20, int(math.Ceil(12*mf.XiStar)))
}

// at returns the entry of v (a per-depth slice of c) at depth l, NaN when c
// does not reach l.
func (c MeanPredictorCurve) at(v []float64, l int) float64 {
	for i, d := range c.Depths {
		if int(d) == l {
			return v[i]
		}
	}
	return math.NaN()
}

// decayRate is the log-slope per layer of Dev on [a, 2a] after the factor
// l is removed, (ln Dev(2a) - ln Dev(a) - ln 2) / a, which the chaotic
// theory puts at ln(chi_c*/chi_1); NaN when either value is missing.
func (c MeanPredictorCurve) decayRate(a int) float64 {
	x, y := c.at(c.Dev, a), c.at(c.Dev, 2*a)
	if !(x > 0 && y > 0) {
		return math.NaN()
	}
	return (math.Log(y) - math.Log(x) - math.Log(2)) / float64(a)
}

// drift is the largest change of the components over the last span+1
// depths at which they are finite (from, to); ok is false when there are
// fewer.
func (c MeanPredictorCurve) drift(span int) (d, from, to float64, ok bool) {
	last := -1
	for i := len(c.Depths) - 1; i >= 0; i-- {
		if !math.IsNaN(c.Comp[0][i]) {
			last = i
			break
		}
	}
	if last < span {
		return 0, 0, 0, false
	}
	for _, comp := range c.Comp {
		d = math.Max(d, math.Abs(comp[last]-comp[last-span]))
	}
	return d, c.Depths[last-span], c.Depths[last], true
}

// decayShape is the theory curve l (chi_c*/chi_1)^l of c scaled to Dev at
// depth a, cut (NaN) where it falls below a tenth of the smallest positive
// Dev, the floating-point floor of the measured curve.
func (c MeanPredictorCurve) decayShape(a int) []float64 {
	floor := math.Inf(1)
	for _, v := range c.Dev {
		if v > 0 {
			floor = math.Min(floor, v)
		}
	}
	ref := c.at(c.Dev, a) / c.MF.PredictorDecay(a)
	out := make([]float64, len(c.Depths))
	for i, l := range c.Depths {
		out[i] = ref * c.MF.PredictorDecay(int(l))
		if !(out[i] >= floor/10) {
			out[i] = math.NaN()
		}
	}
	return out
}

func runMeanPredictor(cfg Config) (Result, error) {
	st := meanPredictorSettings(cfg.Scale)
	train, test, note, why, err := loadData(cfg)
	if err != nil {
		return Result{}, err
	}
	xTr, xTe, y, _, _, err := prepareData(train, test, st.NTrain, st.NTest, cfg.Seed)
	if err != nil {
		return Result{}, err
	}
	total := len(st.Chaotic) + len(st.Ordered)
	var ch, ord []MeanPredictorCurve
	for i, sw2 := range append(append([]float64(nil), st.Chaotic...), st.Ordered...) {
		depth, chaotic := st.ChaoticDepth, i < len(st.Chaotic)
		if !chaotic {
			depth = st.OrderedDepth
		}
		c, err := MeanPredictor(sw2, st.SB2, depth, xTr, xTe, y, st.NComp)
		if err != nil {
			return Result{}, fmt.Errorf("sw2 = %g: %w", sw2, err)
		}
		if chaotic {
			ch = append(ch, c)
		} else {
			ord = append(ord, c)
		}
		if cfg.Progress != nil {
			cfg.Progress(i+1, total)
		}
	}
	return meanPredictorResult(st, ch, ord, note, why), nil
}

// meanPredictorResult draws the chaotic curves with their theory shapes in
// the first panel and the components of each ordered curve in one panel
// each, and measures what the caption states: the chaotic decay rates and
// the drift of the ordered components over their last 50 finite depths.
func meanPredictorResult(st meanPredictorSetting, ch, ord []MeanPredictorCurve, note, why string) Result {
	np := 1 + len(ord)
	fig := plots.Figure{Title: fmt.Sprintf("Converged NTK predictor of erf FCNs, sb2 = %g, %d %s training points", st.SB2, st.NTrain, note),
		Rows: (np + 1) / 2, Cols: min(np, 2)}
	chaos := plots.Panel{Title: "chaotic phase", XLabel: "depth l", YLabel: "rms of the data-dependent part of P(Theta) Y", LogY: true}
	var nums []plots.KeyNumber
	obs := "Chaotic: the data-dependent part decays, per layer after the factor l, at "
	for i, c := range ch {
		a := decayWindow(c.MF)
		sw2, want, rate := c.MF.SW2, math.Log(c.MF.ChiCStar/c.MF.Chi1), c.decayRate(a)
		chaos.Series = append(chaos.Series,
			plots.Series{Label: fmt.Sprintf("sw2 = %g (xi_* = %.2f): |P(Theta^l) Y| (centred)", sw2, c.MF.XiStar), X: c.Depths, Y: c.Dev, Style: plots.Line, Color: i + 1},
			plots.Series{Label: fmt.Sprintf("sw2 = %g: l (chi_c*/chi_1)^l (scaled at depth %d)", sw2, a), X: c.Depths, Y: c.decayShape(a), Style: plots.Line, Dashed: true, Color: i + 1})
		nums = append(nums, plots.KeyNumber{Name: fmt.Sprintf("sw2 = %g: ln(chi_c*/chi_1)", sw2), Value: fmt.Sprintf("%.4f", want)},
			plots.KeyNumber{Name: fmt.Sprintf("sw2 = %g: measured decay rate, depths %d-%d", sw2, a, 2*a), Value: fmt.Sprintf("%.4f", rate)})
		if i > 0 {
			obs += "; "
		}
		obs += fmt.Sprintf("%.4f at sw2 = %g (depths %d-%d) vs ln(chi_c*/chi_1) = %.4f", rate, sw2, a, 2*a, want)
	}
	obs += ". Ordered: "
	fig.Panels = append(fig.Panels, chaos)
	for i, c := range ord {
		p := plots.Panel{Title: fmt.Sprintf("ordered, sw2 = %g (xi_1 = %.2f)", c.MF.SW2, c.MF.Xi1), XLabel: "depth l", YLabel: "P(Theta^l) Y component"}
		for j := range c.Comp {
			p.Series = append(p.Series, plots.Series{Label: fmt.Sprintf("test point %d, logit 0", j), X: c.Depths, Y: c.Comp[j], Style: plots.Line})
		}
		fig.Panels = append(fig.Panels, p)
		if i > 0 {
			obs += "; "
		}
		if d, from, to, ok := c.drift(50); ok {
			obs += fmt.Sprintf("at sw2 = %g the components change by at most %.3g over depths %g-%g", c.MF.SW2, d, from, to)
		} else {
			obs += fmt.Sprintf("at sw2 = %g Theta is numerically singular too early to judge the limit", c.MF.SW2)
		}
	}
	obs += "."
	if why != "" {
		nums = append(nums, plots.KeyNumber{Name: "CIFAR-10", Value: "not used", Note: why})
	}
	return Result{Figure: fig, Caption: plots.ReportFigure{
		Theory:   "Chaotic phase: the data-dependent part of the converged mean predictor P(Theta^l) Y vanishes like l (chi_c*/chi_1)^l, so deep chaotic networks cannot generalize. Ordered phase: P(Theta^l) Y tends to a data-dependent constant (the network stays able to generalize if it can be trained).",
		Observed: obs,
		Numbers:  nums,
	}}
}
