package cells

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
)

func init() {
	// "pooling-theory": the test accuracy at every depth 1..spec.depth of
	// the converged NTK predictor of the cell's spec, and of its centred
	// version, as arrays acc and centred (see PoolingCurve).
	sweep.RegisterKind("pooling-theory", runPoolingTheoryCell, sweep.WithCost(costTheoryGD), sweep.WithSettings(poolingTheorySettings{}))
}

// poolingTheorySettings are the settings of a "pooling-theory" cell: the
// data, and the step count and step size of the expected accuracy at a
// finite time (steps 0: only the converged network).
type poolingTheorySettings struct {
	DataSettings
	Steps   int     `json:"steps"`
	EtaFrac float64 `json:"eta_frac"` // default 0.5
}

func runPoolingTheoryCell(ctx context.Context, c sweep.Cell) (sweep.Result, error) {
	s, err := cellSpec(c, false)
	if err != nil {
		return sweep.Result{}, err
	}
	st := poolingTheorySettings{DataSettings: DefaultDataSettings(), EtaFrac: 0.5}
	if err := c.DecodeSettings(&st); err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	if !(st.EtaFrac > 0 && st.EtaFrac <= 1) || st.Steps < 0 {
		return sweep.Result{}, sweep.Permanentf("pooling-theory: eta_frac %g, steps %d: want 0 < eta_frac <= 1 and steps >= 0", st.EtaFrac, st.Steps)
	}
	d, err := st.prepare(uint64(c.Seed))
	if err != nil {
		return sweep.Result{}, err
	}
	tr, te := d.Train, d.Test
	if s.Outputs != tr.Classes {
		return sweep.Result{}, sweep.Permanentf("pooling-theory: the spec has %d outputs but the data set has %d classes", s.Outputs, tr.Classes)
	}
	if s.Act != spec.Erf {
		return sweep.Result{}, sweep.Permanentf("pooling-theory: act %q: the figure's predictor is for erf", s.Act)
	}
	curve, err := PoolingCurvesAt(s.Arch, s.SW2, s.SB2, s.Depth, tr, te, st.EtaFrac, st.Steps, 0, nil, uint64(c.Seed), nil)
	if err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	vec := func(v []float64) npy.Array { return npy.Array{Shape: []int{len(v)}, Data: v} }
	r := sweep.Result{Status: sweep.StatusOK, Arrays: map[string]npy.Array{"acc": vec(curve.Acc), "centred": vec(curve.Centred), "expected_inf": vec(curve.ExpectedInf)}}
	if st.Steps > 0 {
		r.Arrays[fmt.Sprintf("expected_t%d", st.Steps)] = vec(curve.Expected)
	}
	return r, nil
}

// PoolingAccuracy returns, for depths 1..maxDepth, the test accuracy of the
// converged (t = infinity) NTK mean predictor of an erf network of the
// given architecture on images [N, H, W, C] (flattened for fcn); NaN where
// Theta is not positive definite in floating point.
func PoolingAccuracy(arch string, sw2, sb2 float64, maxDepth int, tr, te *datasets.Set, progress func(done, total int)) ([]float64, error) {
	c, err := PoolingCurves(arch, sw2, sb2, maxDepth, tr, te, progress)
	return c.Acc, err
}

// PoolingCurve is, per depth, the test accuracy of the converged mean
// predictor f = Theta_td Theta^-1 Y (Acc) and of its centred version
// (Centred), each logit minus its mean over the test points,
// f_ic - (1/M) sum_j f_jc: the part of f that differs between test points
// (Acc falls to chance when a per-logit offset shared by all test points
// outgrows that part); and the expected test accuracy of one network
// trained from a random initialization, whose initial outputs
// f_0 ~ GP(0, K) never decay at test points (cells.GDExpected): Expected
// after a finite number of steps (NaN when none was asked for),
// ExpectedSD the sampled standard deviation of one network's accuracy
// there (NaN without draws), and ExpectedInf converged.
type PoolingCurve struct {
	Acc, Centred         []float64
	Expected, ExpectedSD []float64
	ExpectedInf          []float64
}

// PoolingCurves is PoolingCurvesAt with no finite time.
func PoolingCurves(arch string, sw2, sb2 float64, maxDepth int, tr, te *datasets.Set, progress func(done, total int)) (PoolingCurve, error) {
	return PoolingCurvesAt(arch, sw2, sb2, maxDepth, tr, te, 0.5, 0, 0, nil, 0, progress)
}

// PoolingCurvesAt returns the PoolingCurve of an erf network of the given
// architecture for depths 1..maxDepth on tr, te (one-hot targets), with
// the expected accuracy after steps discrete steps at etaFrac * eta_crit
// (steps 0: none) and, with draws > 0, its spread at the depths drawAt
// (nil: all) sampled from a source seeded by seed and the depth.
func PoolingCurvesAt(arch string, sw2, sb2 float64, maxDepth int, tr, te *datasets.Set, etaFrac float64, steps, draws int, drawAt []int, seed uint64, progress func(done, total int)) (PoolingCurve, error) {
	n := tr.N
	x := theory.StackTrainTest(tr.Array(), te.Array())
	if arch == spec.FCN {
		x = theory.StackTrainTest(tr.Flat(), te.Flat())
	}
	y := datasets.OneHot(tr.Labels, tr.Classes, false)
	c := PoolingCurve{Acc: nanSlice(maxDepth), Centred: nanSlice(maxDepth), Expected: nanSlice(maxDepth),
		ExpectedSD: nanSlice(maxDepth), ExpectedInf: nanSlice(maxDepth)}
	times := []float64{math.Inf(1)}
	if steps > 0 {
		times = append(times, float64(steps))
	}
	var accErr error
	s := spec.Spec{Arch: arch, Act: spec.Erf, Depth: maxDepth, SW2: sw2, SB2: sb2, Outputs: tr.Classes}
	opt := theory.Options{Progress: progress, EachDepth: func(l int, k theory.Kernels) {
		if accErr != nil {
			return
		}
		dr := draws
		if drawAt != nil && !slices.Contains(drawAt, l) {
			dr = 0
		}
		o, err := GDExpected(k, n, y, tr.Labels, te.Labels, etaFrac, times, dr, rand.New(rand.NewPCG(seed, uint64(l))))
		if err != nil {
			accErr = err
			return
		}
		c.ExpectedInf[l-1] = o.ExpTest[0]
		if steps > 0 {
			c.Expected[l-1], c.ExpectedSD[l-1] = o.ExpTest[1], o.SDTest[1]
		}
		p, err := theory.NewTrainTestPredictor(k.NTK, n, y, nil)
		if err != nil {
			return
		}
		_, f, err := p.At(theory.Flow, 1, math.Inf(1))
		if err != nil {
			return
		}
		if c.Acc[l-1], err = theory.Accuracy(f, te.Labels); err != nil {
			accErr = err
			return
		}
		if c.Centred[l-1], err = theory.Accuracy(centreColumns(f), te.Labels); err != nil {
			accErr = err
		}
	}}
	if _, err := theory.Compute(s, x, npy.Array{}, opt); err != nil {
		return PoolingCurve{}, err
	}
	return c, accErr
}

// centreColumns returns f with the mean of each column subtracted.
func centreColumns(f *mat.Dense) *mat.Dense {
	r, k := f.Dims()
	out := mat.NewDense(r, k, nil)
	for j := 0; j < k; j++ {
		col := mat.Col(nil, j, f)
		mean := 0.0
		for _, v := range col {
			mean += v
		}
		mean /= float64(r)
		for i, v := range col {
			out.Set(i, j, v-mean)
		}
	}
	return out
}
