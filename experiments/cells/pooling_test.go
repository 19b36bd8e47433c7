package cells

import (
	"context"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/train"
)

// TestPoolingChaoticFCN: the converged predictor of a deep chaotic fcn
// predicts at chance (all test points get the same output), a shallow one
// does not.
func TestPoolingChaoticFCN(t *testing.T) {
	tr, te := mnist7x7(t, 20, 20, 5)
	acc, err := PoolingAccuracy(spec.FCN, 3.0, 0.05, 80, tr, te, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acc[0] < 0.3 {
		t.Errorf("depth-1 test accuracy %g, want >= 0.3 (well above chance 0.1)", acc[0])
	}
	// 20 balanced test points: one shared prediction is right on exactly 2.
	if got := acc[len(acc)-1]; math.Abs(got-0.1) > 1e-12 {
		t.Errorf("depth-80 test accuracy %g, want chance 0.1", got)
	}
}

func TestCentreColumns(t *testing.T) {
	f := mat.NewDense(3, 2, []float64{1, 10, 2, 20, 6, 60})
	want := mat.NewDense(3, 2, []float64{-2, -20, -1, -10, 3, 30})
	if got := centreColumns(f); !mat.EqualApprox(got, want, 1e-14) {
		t.Errorf("centreColumns = %v, want %v", mat.Formatted(got), mat.Formatted(want))
	}
}

// argmaxAccuracy is the fraction of rows of f whose largest entry is at
// the label: the accuracy computed here, independently of package train.
func argmaxAccuracy(f *mat.Dense, labels []int) float64 {
	right := 0
	for i, l := range labels {
		best := 0
		for j := 1; j < f.RawMatrix().Cols; j++ {
			if f.At(i, j) > f.At(i, best) {
				best = j
			}
		}
		if best == l {
			right++
		}
	}
	return float64(right) / float64(len(labels))
}

// TestTrainedAccuracyMatchesOutputs: the accuracies TrainedAccuracy reports
// are those of the trained network's own outputs, recomputed here as the
// argmax of Forward against the labels after the same training (same seed,
// same options). A network with more parameters than targets fits its 10
// training points at half eta_crit (train accuracy 1), and a spec whose
// outputs disagree with the classes is refused.
func TestTrainedAccuracyMatchesOutputs(t *testing.T) {
	tr, te := mnist7x7(t, 10, 20, 3)
	st := tr.Stats()
	var err error
	if tr, err = tr.StandardizeWith(st.Mean, st.Std); err != nil {
		t.Fatal(err)
	}
	if te, err = te.StandardizeWith(st.Mean, st.Std); err != nil {
		t.Fatal(err)
	}
	opt := train.Options{Steps: 200, LRFactor: 0.5, Seed: 1}
	for _, s := range []spec.Spec{
		{Arch: spec.FCN, Act: spec.Erf, Depth: 1, Width: 64, SW2: 1.5, SB2: 0.05},
		{Arch: spec.CNNF, Act: spec.Erf, Depth: 1, Width: 4, SW2: 1.5, SB2: 0.05},
	} {
		trAcc, teAcc, err := TrainedAccuracy(context.Background(), s, tr, te, opt)
		if err != nil {
			t.Fatalf("%s: %v", s.Arch, err)
		}
		// The same training, then the accuracy from the outputs.
		s.Outputs = tr.Classes
		xTr, xTe := tr.Array(), te.Array()
		if !s.IsConv() {
			xTr, xTe = tr.Flat(), te.Flat()
		}
		net, err := nets.New(s, xTr.Shape[1:], nets.InitSource(opt.Seed, 0))
		if err != nil {
			t.Fatal(err)
		}
		o := opt
		o.LambdaMax = train.AnalyticLambdaMax
		if _, err := train.Run(context.Background(), net, train.Data{XTrain: xTr, YTrain: datasets.OneHot(tr.Labels, tr.Classes, false), XTest: xTe, YTest: datasets.OneHot(te.Labels, te.Classes, false)}, o, nil); err != nil {
			t.Fatal(err)
		}
		fTr, err := net.Forward(xTr)
		if err != nil {
			t.Fatal(err)
		}
		fTe, err := net.Forward(xTe)
		if err != nil {
			t.Fatal(err)
		}
		net.Close()
		wantTr, wantTe := argmaxAccuracy(fTr, tr.Labels), argmaxAccuracy(fTe, te.Labels)
		// Accuracies are multiples of 1/10 and 1/20: equal up to rounding.
		if math.Abs(trAcc-wantTr) > 1e-12 || math.Abs(teAcc-wantTe) > 1e-12 {
			t.Errorf("%s: TrainedAccuracy gives train %g test %g, the trained outputs' argmax %g and %g", s.Arch, trAcc, teAcc, wantTr, wantTe)
		}
		if trAcc != 1 {
			t.Errorf("%s: train accuracy %g, want 1", s.Arch, trAcc)
		}
		// A vacuous test accuracy (chance, or all right) would not tell a
		// wrong comparison from a right one.
		if wantTe <= 0.1 || wantTe == 1 {
			t.Errorf("%s: test accuracy %g: the check needs a value strictly between chance and 1", s.Arch, wantTe)
		}
	}
	bad := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 1, Width: 8, SW2: 1.5, SB2: 0.05, Outputs: 3}
	if _, _, err := TrainedAccuracy(context.Background(), bad, tr, te, train.Options{Steps: 1, LRFactor: 0.5}); err == nil || !strings.Contains(err.Error(), "3 outputs") {
		t.Errorf("spec with 3 outputs for 10 classes: error %v, want one naming the outputs", err)
	}
}

// mnist7x7 returns class-balanced subsets of n training and m test images
// of the embedded MNIST (seeds seed and seed+1), block-averaged to 7x7.
func mnist7x7(t *testing.T, n, m int, seed uint64) (tr, te *datasets.Set) {
	t.Helper()
	train, test, err := datasets.LoadMNISTEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dst  **datasets.Set
		src  *datasets.Set
		n    int
		seed uint64
	}{{&tr, train, n, seed}, {&te, test, m, seed + 1}} {
		s, err := c.src.Subset(c.n, false, c.seed)
		if err != nil {
			t.Fatal(err)
		}
		if *c.dst, err = s.Downsample(4); err != nil {
			t.Fatal(err)
		}
	}
	return tr, te
}
