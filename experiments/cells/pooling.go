package cells

import (
	"context"
	"math"

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
	sweep.RegisterKind("pooling-theory", runPoolingTheoryCell, sweep.WithCost(costTheoryGD), sweep.WithSettings(DataSettings{}))
}

func runPoolingTheoryCell(ctx context.Context, c sweep.Cell) (sweep.Result, error) {
	s, err := cellSpec(c, false)
	if err != nil {
		return sweep.Result{}, err
	}
	st := DefaultDataSettings()
	if err := c.DecodeSettings(&st); err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	tr, te, err := st.sets(uint64(c.Seed))
	if err != nil {
		return sweep.Result{}, err
	}
	if s.Outputs != tr.Classes {
		return sweep.Result{}, sweep.Permanentf("pooling-theory: the spec has %d outputs but the data set has %d classes", s.Outputs, tr.Classes)
	}
	if s.Act != spec.Erf {
		return sweep.Result{}, sweep.Permanentf("pooling-theory: act %q: the figure's predictor is for erf", s.Act)
	}
	curve, err := PoolingCurves(s.Arch, s.SW2, s.SB2, s.Depth, tr, te, nil)
	if err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	vec := func(v []float64) npy.Array { return npy.Array{Shape: []int{len(v)}, Data: v} }
	return sweep.Result{Status: sweep.StatusOK, Arrays: map[string]npy.Array{"acc": vec(curve.Acc), "centred": vec(curve.Centred)}}, nil
}

// PoolingAccuracy returns, for depths 1..maxDepth, the test accuracy of the
// converged (t = infinity) NTK predictor of an erf network of the given
// architecture on images [N, H, W, C] (flattened for fcn); NaN where Theta is
// not positive definite in floating point.
func PoolingAccuracy(arch string, sw2, sb2 float64, maxDepth int, tr, te *datasets.Set, progress func(done, total int)) ([]float64, error) {
	c, err := PoolingCurves(arch, sw2, sb2, maxDepth, tr, te, progress)
	return c.Acc, err
}

// PoolingCurve is the test accuracy per depth of the converged predictor
// f = Theta_td Theta^-1 Y (Acc) and of its centred version (Centred), each
// logit minus its mean over the test points, f_ic - (1/M) sum_j f_jc: the
// part of f that differs between test points. Acc falls to chance when a
// per-logit offset shared by all test points outgrows that part.
type PoolingCurve struct {
	Acc, Centred []float64
}

func PoolingCurves(arch string, sw2, sb2 float64, maxDepth int, tr, te *datasets.Set, progress func(done, total int)) (PoolingCurve, error) {
	n := tr.N
	x := theory.StackTrainTest(tr.Array(), te.Array())
	if arch == spec.FCN {
		x = theory.StackTrainTest(tr.Flat(), te.Flat())
	}
	y := OneHot(tr.Labels, tr.Classes)
	c := PoolingCurve{Acc: make([]float64, maxDepth), Centred: make([]float64, maxDepth)}
	for i := range c.Acc {
		c.Acc[i], c.Centred[i] = math.NaN(), math.NaN()
	}
	var accErr error
	s := spec.Spec{Arch: arch, Act: spec.Erf, Depth: maxDepth, SW2: sw2, SB2: sb2, Outputs: tr.Classes}
	opt := theory.Options{Progress: progress, EachDepth: func(l int, k theory.Kernels) {
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
