package experiments

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/datasets/npyarray"
	"github.com/ntkharness/ntkharness/nets/spec"
	"github.com/ntkharness/ntkharness/plots"
	"github.com/ntkharness/ntkharness/theory"
	"github.com/ntkharness/ntkharness/theory/linalg"
)

func init() {
	register(Spec{Name: "ntk-depth", Title: "The NTK vs depth in the three phases",
		Summary: "Theta_aa, Theta_ab, lambda_max, lambda_min and kappa of the analytic NTK vs depth with the asymptotes",
		Run:     runNTKDepth})
}

// ntkDepthSB2 is the bias variance of the three phase points; their sw2 are
// an ordered point, the critical sw2 and a chaotic point.
const ntkDepthSB2 = 0.05

// NTKDepthCurves are the statistics of the per-logit analytic NTK Theta^l
// of n inputs at each depth l: the mean diagonal Theta_aa, the mean
// off-diagonal Theta_ab, the extreme eigenvalues and kappa = lambda_max /
// lambda_min (NaN when lambda_min <= 0 in floating point).
type NTKDepthCurves struct {
	Depths                []float64
	Diag, Off, LMax, LMin []float64
	Kappa                 []float64
	MF                    theory.MeanField
}

// ntkDepthSample lists the depths at which the spectrum is computed: every
// depth to 10, then about 30 per decade up to maxDepth.
func ntkDepthSample(maxDepth int) map[int]bool {
	s := map[int]bool{}
	for l := 1; l <= maxDepth && l <= 10; l++ {
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
func NTKDepth(sw2, sb2 float64, maxDepth int, x npyarray.Array, progress func(done, total int)) (NTKDepthCurves, error) {
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
	var eigErr error
	opt := theory.Options{EachDepth: func(l int, k theory.Kernels) {
		if progress != nil {
			progress(l, maxDepth)
		}
		if !sample[l] || eigErr != nil {
			return
		}
		diag, off := 0.0, 0.0
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				if i == j {
					diag += k.NTK.At(i, j)
				} else {
					off += k.NTK.At(i, j)
				}
			}
		}
		vals, _, err := linalg.EigenSym(mat.NewSymDense(n, append([]float64(nil), k.NTK.RawMatrix().Data...)), false)
		if err != nil {
			eigErr = fmt.Errorf("depth %d: %w", l, err)
			return
		}
		lmin, lmax := vals[0], vals[n-1]
		kappa := math.NaN()
		if lmin > 0 {
			kappa = lmax / lmin
		}
		c.Depths = append(c.Depths, float64(l))
		c.Diag = append(c.Diag, diag/float64(n))
		c.Off = append(c.Off, off/float64(n*(n-1)))
		c.LMax = append(c.LMax, lmax)
		c.LMin = append(c.LMin, lmin)
		c.Kappa = append(c.Kappa, kappa)
	}}
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: maxDepth, SW2: sw2, SB2: sb2}
	if _, err := theory.Compute(s, x, npyarray.Array{}, opt); err != nil {
		return c, err
	}
	return c, eigErr
}

func runNTKDepth(cfg Config) (Result, error) {
	maxDepth, n := 400, 64
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
	act, err := theory.ActivationByName(spec.Erf)
	if err != nil {
		return Result{}, err
	}
	crit, err := theory.CriticalSW2(act, ntkDepthSB2)
	if err != nil {
		return Result{}, err
	}
	points := []struct {
		name string
		sw2  float64
	}{{"ordered", 1.0}, {"critical", crit}, {"chaotic", 2.5}}
	fig := plots.Figure{Title: fmt.Sprintf("Analytic NTK of erf FCNs vs depth, sb2 = %g, %d %s inputs of norm sqrt(d)", ntkDepthSB2, n, note), Rows: 3, Cols: 3}
	var nums []plots.KeyNumber
	obs := ""
	for ip, p := range points {
		c, err := NTKDepth(p.sw2, ntkDepthSB2, maxDepth, flat, func(done, total int) {
			if cfg.Progress != nil {
				cfg.Progress(ip*total+done, 3*total)
			}
		})
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
		title := fmt.Sprintf("%s, sw2 = %.3f", p.name, p.sw2)
		fig.Panels = append(fig.Panels,
			plots.Panel{Title: title + ": entries", XLabel: "depth l", YLabel: "Theta", LogX: true, LogY: true, Series: []plots.Series{
				{Label: "Theta_aa", X: c.Depths, Y: c.Diag, Style: plots.Line, Color: 1},
				{Label: "Theta_aa asymptote", X: c.Depths, Y: aDiag, Style: plots.Line, Dashed: true, Color: 1},
				{Label: "Theta_ab (mean)", X: c.Depths, Y: c.Off, Style: plots.Line, Color: 2},
				{Label: "Theta_ab asymptote", X: c.Depths, Y: aOff, Style: plots.Line, Dashed: true, Color: 2},
			}},
			plots.Panel{Title: title + ": eigenvalues", XLabel: "depth l", YLabel: "eigenvalue", LogX: true, LogY: true, Series: []plots.Series{
				{Label: "lambda_max", X: c.Depths, Y: c.LMax, Style: plots.Line, Color: 1},
				{Label: "lambda_max asymptote", X: c.Depths, Y: aLMax, Style: plots.Line, Dashed: true, Color: 1},
				{Label: "lambda_min", X: c.Depths, Y: c.LMin, Style: plots.Line, Color: 2},
			}},
			plots.Panel{Title: title + ": condition number", XLabel: "depth l", YLabel: "kappa", LogX: true, LogY: true, Series: []plots.Series{
				{Label: "kappa", X: c.Depths, Y: c.Kappa, Style: plots.Line, Color: 1},
				{Label: "asymptote (shape)", X: c.Depths, Y: aKappa, Style: plots.Line, Dashed: true, Color: 1},
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
	}
	if why != "" {
		nums = append(nums, plots.KeyNumber{Name: "CIFAR-10", Value: "not used", Note: why})
	}
	return Result{Figure: fig, Caption: plots.ReportFigure{
		Theory: "Ordered: every entry of Theta^l tends to p* = q*/(1 - chi_1), so lambda_max -> n p* while lambda_min decays like l chi_1^l and kappa diverges exponentially. " +
			"Chaotic: the diagonal grows like chi_1^l faster than the off-diagonal, so Theta tends to a multiple of the identity and kappa -> 1. Critical: both grow linearly, kappa -> (n + 2)/2.",
		Observed: obs + "Finite-width empirical NTKs are not yet overlaid.",
		Numbers:  nums,
	}}, nil
}
