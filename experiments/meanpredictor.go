package experiments

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/datasets/npyarray"
	"github.com/ntkharness/ntkharness/nets/spec"
	"github.com/ntkharness/ntkharness/plots"
	"github.com/ntkharness/ntkharness/theory"
)

func init() {
	register(Spec{Name: "mean-predictor", Title: "The converged mean predictor vs depth",
		Summary: "|P(Theta^l) Y| vs depth: decaying like l (chi_c*/chi_1)^l when chaotic, approaching constants when ordered",
		Run:     runMeanPredictor})
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
func MeanPredictor(sw2, sb2 float64, maxDepth int, xTr, xTe npyarray.Array, y *mat.Dense, ncomp int) (MeanPredictorCurve, error) {
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: maxDepth, SW2: sw2, SB2: sb2}
	mf, err := theory.MeanFieldOf(s)
	if err != nil {
		return MeanPredictorCurve{}, err
	}
	c := MeanPredictorCurve{MF: mf, Comp: make([][]float64, ncomp)}
	n, m := xTr.Shape[0], xTe.Shape[0]
	d := xTr.Shape[1]
	all := npyarray.Array{Shape: []int{n + m, d}, Data: append(append([]float64(nil), xTr.Data...), xTe.Data...)}
	opt := theory.Options{EachDepth: func(l int, k theory.Kernels) {
		c.Depths = append(c.Depths, float64(l))
		theta := mat.NewSymDense(n, nil)
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				theta.SetSym(i, j, k.NTK.At(i, j))
			}
		}
		td := mat.DenseCopyOf(k.NTK.Slice(n, n+m, 0, n))
		dev := math.NaN()
		comp := make([]float64, ncomp)
		for i := range comp {
			comp[i] = math.NaN()
		}
		if p, err := theory.NewPredictor(theta, td, y, nil); err == nil {
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
	if _, err := theory.Compute(s, all, npyarray.Array{}, opt); err != nil {
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

func runMeanPredictor(cfg Config) (Result, error) {
	const sb2, n, m, ncomp = 0.05, 64, 64, 4
	train, test, note, why, err := loadData(cfg)
	if err != nil {
		return Result{}, err
	}
	xTr, xTe, y, _, _, err := prepareData(train, test, n, m, cfg.Seed)
	if err != nil {
		return Result{}, err
	}
	ch, err := MeanPredictor(2.5, sb2, 100, xTr, xTe, y, ncomp)
	if err != nil {
		return Result{}, err
	}
	ord, err := MeanPredictor(1.0, sb2, 200, xTr, xTe, y, ncomp)
	if err != nil {
		return Result{}, err
	}
	if cfg.Progress != nil {
		cfg.Progress(1, 1)
	}
	// The theory shape l (chi_c*/chi_1)^l, scaled to the data at depth 10.
	ref := 9
	shape := make([]float64, len(ch.Depths))
	for i, l := range ch.Depths {
		shape[i] = ch.MF.PredictorDecay(int(l)) / ch.MF.PredictorDecay(int(ch.Depths[ref])) * ch.Dev[ref]
	}
	var comps []plots.Series
	for i := range ord.Comp {
		comps = append(comps, plots.Series{Label: fmt.Sprintf("test point %d, logit 0", i), X: ord.Depths, Y: ord.Comp[i], Style: plots.Line})
	}
	fig := plots.Figure{Title: fmt.Sprintf("Converged NTK predictor of erf FCNs, sb2 = %g, %d %s training points", sb2, n, note), Rows: 1, Cols: 2, Panels: []plots.Panel{
		{Title: fmt.Sprintf("chaotic, sw2 = 2.5 (xi_* = %.2f)", ch.MF.XiStar), XLabel: "depth l", YLabel: "rms of the data-dependent part of P(Theta) Y", LogY: true, Series: []plots.Series{
			{Label: "|P(Theta^l) Y| (centred)", X: ch.Depths, Y: ch.Dev, Style: plots.Line, Color: 1},
			{Label: "l (chi_c*/chi_1)^l (scaled at depth 10)", X: ch.Depths, Y: shape, Style: plots.Line, Dashed: true, Color: 2},
		}},
		{Title: fmt.Sprintf("ordered, sw2 = 1.0 (xi_1 = %.2f)", ord.MF.Xi1), XLabel: "depth l", YLabel: "P(Theta^l) Y component", Series: comps},
	}}
	// Observed: the decay rate of the chaotic curve between depths 20 and
	// 40 against ln(chi_c*/chi_1), and the drift of the ordered components
	// over the last 50 layers that are finite.
	rate := math.NaN()
	if a, b := ch.Dev[19], ch.Dev[39]; a > 0 && b > 0 {
		rate = (math.Log(b) - math.Log(a) - math.Log(40.0/20.0)) / 20
	}
	drift := 0.0
	lastOK := -1
	for i := len(ord.Depths) - 1; i >= 0; i-- {
		if !math.IsNaN(ord.Comp[0][i]) {
			lastOK = i
			break
		}
	}
	if lastOK >= 50 {
		for c := range ord.Comp {
			drift = math.Max(drift, math.Abs(ord.Comp[c][lastOK]-ord.Comp[c][lastOK-50]))
		}
	}
	nums := []plots.KeyNumber{{Name: "ln(chi_c*/chi_1) (chaotic)", Value: fmt.Sprintf("%.4f", math.Log(ch.MF.ChiCStar/ch.MF.Chi1))},
		{Name: "measured decay rate, depths 20-40", Value: fmt.Sprintf("%.4f", rate)}}
	if why != "" {
		nums = append(nums, plots.KeyNumber{Name: "CIFAR-10", Value: "not used", Note: why})
	}
	obs := fmt.Sprintf("Chaotic: the data-dependent part decays at rate %.4f per layer (after the factor l) vs ln(chi_c*/chi_1) = %.4f. ", rate, math.Log(ch.MF.ChiCStar/ch.MF.Chi1))
	if lastOK >= 50 {
		obs += fmt.Sprintf("Ordered: the components change by at most %.3g over depths %g-%g.", drift, ord.Depths[lastOK-50], ord.Depths[lastOK])
	} else {
		obs += "Ordered: Theta is numerically singular too early to judge the limit."
	}
	return Result{Figure: fig, Caption: plots.ReportFigure{
		Theory:   "Chaotic phase: the data-dependent part of the converged mean predictor P(Theta^l) Y vanishes like l (chi_c*/chi_1)^l, so deep chaotic networks cannot generalize. Ordered phase: P(Theta^l) Y tends to a data-dependent constant (the network stays able to generalize if it can be trained).",
		Observed: obs,
		Numbers:  nums,
	}}, nil
}
