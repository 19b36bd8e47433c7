package cells

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/theory"
)

// "theory-gd": the train and test accuracy of the infinite-width NTK
// predictor of the cell's spec after each of settings.times discrete GD
// steps, as train_acc_t<T> and test_acc_t<T>.
func init() {
	sweep.RegisterKind("theory-gd", runTheoryGDCell, sweep.WithCost(costTheoryGD), sweep.WithSettings(theoryGDSettings{}))
}

// theoryGDSettings are the settings of a "theory-gd" cell.
type theoryGDSettings struct {
	DataSettings
	Times     []float64 `json:"times"`     // steps; default 1, 8, 64, 512, 4096
	Converged bool      `json:"converged"` // also the t = infinity predictor
	EtaFrac   float64   `json:"eta_frac"`  // eta / eta_crit; default 0.5
	// EachDepth also reports every depth 1..spec.depth from the same
	// kernel recursion, as arrays over depth.
	EachDepth bool `json:"each_depth"`
}

// runTheoryGDCell computes the analytic NTK of the cell's spec (any
// architecture and activation) on its training and test points and the
// accuracies of the infinite-width predictor after each of times discrete
// steps at eta_frac * eta_crit: scalars train_acc_t<T> and test_acc_t<T>,
// and train_acc_inf, test_acc_inf when converged is set; with each_depth
// the same names are also arrays over depths 1..spec.depth (array depth).
// A kernel the predictor refuses (not positive definite in floating point)
// gives NaN.
func runTheoryGDCell(ctx context.Context, c sweep.Cell) (sweep.Result, error) {
	s, err := cellSpec(c, false)
	if err != nil {
		return sweep.Result{}, err
	}
	st := theoryGDSettings{DataSettings: DefaultDataSettings(), Times: []float64{1, 8, 64, 512, 4096}, EtaFrac: 0.5}
	if err := c.DecodeSettings(&st); err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	if !(st.EtaFrac > 0 && st.EtaFrac <= 1) {
		return sweep.Result{}, sweep.Permanentf("theory-gd: eta_frac %g: want 0 < eta_frac <= 1", st.EtaFrac)
	}
	d, err := st.Load(s.Arch, uint64(c.Seed))
	if err != nil {
		return sweep.Result{}, err
	}
	times := st.Times
	if st.Converged {
		times = append(append([]float64(nil), times...), math.Inf(1))
	}
	n := d.XTrain.Shape[0]
	// acc[l-1] are the accuracies of depth l at each of times.
	accTrain, accTest := make([][]float64, s.Depth), make([][]float64, s.Depth)
	var predErr error
	opt := theory.Options{EachDepth: func(l int, k theory.Kernels) {
		if (st.EachDepth || l == s.Depth) && predErr == nil {
			accTrain[l-1], accTest[l-1], predErr = GDAccuracies(k.NTK, n, d.Y, d.LTrain, d.LTest, st.EtaFrac, times)
		}
	}}
	if _, err := theory.Compute(s, theory.StackTrainTest(d.XTrain, d.XTest), npy.Array{}, opt); err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	if predErr != nil {
		return sweep.Result{}, sweep.Permanent(predErr)
	}
	r := sweep.Result{Status: sweep.StatusOK, Scalars: map[string]float64{}, Arrays: map[string]npy.Array{}}
	if st.EachDepth {
		depth := make([]float64, s.Depth)
		for i := range depth {
			depth[i] = float64(i + 1)
		}
		r.Arrays["depth"] = npy.Array{Shape: []int{s.Depth}, Data: depth}
	}
	for it, t := range times {
		suffix := fmt.Sprintf("t%g", t)
		if math.IsInf(t, 1) {
			suffix = "inf"
		}
		r.Scalars["train_acc_"+suffix] = accTrain[s.Depth-1][it]
		r.Scalars["test_acc_"+suffix] = accTest[s.Depth-1][it]
		if st.EachDepth {
			for name, acc := range map[string][][]float64{"train_acc_": accTrain, "test_acc_": accTest} {
				a := npy.Array{Shape: []int{s.Depth}, Data: make([]float64, s.Depth)}
				for l := range a.Data {
					a.Data[l] = acc[l][it]
				}
				r.Arrays[name+suffix] = a
			}
		}
	}
	return r, nil
}

func costTheoryGD(c sweep.Cell) (sweep.Cost, bool) {
	st := theoryGDSettings{DataSettings: DefaultDataSettings()}
	if c.SpecErr != nil || c.DecodeSettings(&st) != nil {
		return sweep.Cost{}, false
	}
	sec, mem := kernelCost(c.Spec, st.InputShape(c.Spec.Arch), st.NTrain+st.NTest)
	return sweep.Cost{Seconds: sec, MemoryBytes: mem + st.memory()}, true
}

// GDAccuracies returns the train and test accuracies of the infinite-width
// NTK predictor of the joint NTK ntk of n training points followed by the
// test points (theory.NewTrainTestPredictor, zero initial outputs) after
// each of times discrete gradient-descent steps of size
// eta = etaFrac * eta_crit. A kernel the predictor refuses (for example not
// positive definite in floating point), a step size that is not finite and
// positive, or a time the predictor cannot evaluate gives NaN; only a
// failure to score the outputs is an error.
func GDAccuracies(ntk *mat.Dense, n int, y *mat.Dense, lTrain, lTest []int, etaFrac float64, times []float64) (train, test []float64, err error) {
	train, test = make([]float64, len(times)), make([]float64, len(times))
	for i := range times {
		train[i], test[i] = math.NaN(), math.NaN()
	}
	p, err := theory.NewTrainTestPredictor(ntk, n, y, nil)
	if err != nil {
		return train, test, nil
	}
	eta := etaFrac * p.EtaCrit()
	if math.IsInf(eta, 0) || !(eta > 0) {
		return train, test, nil
	}
	for it, t := range times {
		ftr, fte, err := p.At(theory.Steps, eta, t)
		if err != nil {
			continue
		}
		a, err := theory.Accuracy(ftr, lTrain)
		if err != nil {
			return train, test, err
		}
		b, err := theory.Accuracy(fte, lTest)
		if err != nil {
			return train, test, err
		}
		train[it], test[it] = a, b
	}
	return train, test, nil
}
