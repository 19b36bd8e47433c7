package cells

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/internal/closedform"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
)

// TestTheoryGDCell runs the "theory-gd" sweep kind on one deep chaotic cell
// (memorizes, predicts at chance) and on a CNN-GAP cell, and refuses
// impossible settings.
func TestTheoryGDCell(t *testing.T) {
	k, ok := sweep.LookupKind("theory-gd")
	if !ok {
		t.Fatal("theory-gd is not registered")
	}
	settings := map[string]any{"dataset": "mnist", "n_train": 20, "n_test": 20, "times": []any{4096.0}}
	c := sweep.Cell{Spec: spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 60, SW2: 3, SB2: 0.18, Outputs: 10}, Seed: 1, Settings: settings}
	r, err := k.Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Scalars["train_acc_t4096"]; got != 1 {
		t.Errorf("train accuracy %g, want 1", got)
	}
	if got := r.Scalars["test_acc_t4096"]; math.Abs(got-0.1) > 0.02 {
		t.Errorf("test accuracy %g, want chance 0.1 within 2 points", got)
	}
	// One network, not only the mean one: memorizes (its training
	// outputs' variance has decayed) and predicts at chance.
	if got := r.Scalars["expected_train_acc_t4096"]; !(got > 0.99) {
		t.Errorf("expected train accuracy %g, want > 0.99", got)
	}
	if got := r.Scalars["expected_test_acc_t4096"]; math.Abs(got-0.1) > 0.02 {
		t.Errorf("expected test accuracy %g, want chance 0.1 within 2 points", got)
	}
	for _, name := range []string{"train_acc_t4096", "test_acc_t4096"} {
		if a, b := r.Scalars[name], r.Scalars[name[:len(name)-5]+"mean_predictor_t4096"]; a != b {
			t.Errorf("%s = %g but its mean_predictor name holds %g", name, a, b)
		}
	}
	// Any architecture: the converged predictor of a CNN-GAP interpolates
	// its training points (Theta is positive definite).
	c.Spec = spec.Spec{Arch: spec.CNNGAP, Act: spec.ReLU, Depth: 2, SW2: 2, SB2: 0.05, Outputs: 10, Filter: 3, Padding: spec.Same}
	c.Settings = map[string]any{"dataset": "mnist", "n_train": 10, "n_test": 10, "grayscale": true, "downsample": 4.0, "times": []any{1.0}, "converged": true}
	r, err = k.Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Scalars["train_acc_inf"]; got != 1 {
		t.Errorf("cnn-gap converged train accuracy %g, want 1", got)
	}
	if _, ok := r.Scalars["test_acc_t1"]; !ok {
		t.Error("cnn-gap cell lacks test_acc_t1")
	}
	c.Settings["eta_frac"] = 2.0
	if _, err := k.Run(context.Background(), c); !sweep.IsPermanent(err) {
		t.Errorf("eta_frac 2: error %v, want a permanent failure", err)
	}
}

// TestTheoryGDEachDepth: the per-depth arrays of one cell equal the
// scalars of separate cells at those depths, and those of an erf FCN equal
// the closed-form computation of package closedform (see
// checkTheoryGDClosedForm).
func TestTheoryGDEachDepth(t *testing.T) {
	k, _ := sweep.LookupKind("theory-gd")
	st := map[string]any{"dataset": "mnist", "n_train": 10, "n_test": 10, "grayscale": true, "downsample": 4.0, "times": []any{8.0}, "converged": true, "each_depth": true}
	s := spec.Spec{Arch: spec.CNNF, Act: spec.Erf, Depth: 4, SW2: 2.5, SB2: 0.05, Outputs: 10, Filter: 3, Padding: spec.Same}
	all, err := k.Run(context.Background(), sweep.Cell{Spec: s, Seed: 1, Settings: st})
	if err != nil {
		t.Fatal(err)
	}
	if got := all.Arrays["depth"].Data; len(got) != 4 || got[3] != 4 {
		t.Fatalf("depth array %v, want 1..4", got)
	}
	for _, depth := range []int{1, 3} {
		s.Depth = depth
		one, err := k.Run(context.Background(), sweep.Cell{Spec: s, Seed: 1, Settings: st})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"train_acc_t8", "test_acc_t8", "train_acc_inf", "test_acc_inf", "expected_test_acc_t8", "expected_train_acc_inf"} {
			if a, b := all.Arrays[name].Data[depth-1], one.Scalars[name]; a != b {
				t.Errorf("depth %d %s: each_depth array %g, own cell %g", depth, name, a, b)
			}
		}
	}
	checkTheoryGDClosedForm(t, k, st)
}

// checkTheoryGDClosedForm runs a "theory-gd" cell of erf FCNs of depths
// 1..4 on the chaotic side (sw2 = 2.5, sb2 = 0.05) with the settings st
// and recomputes every depth's numbers with package closedform, which
// shares no code with package theory: the erf NNGP/NTK recursion, the
// output distribution after 8 steps and converged through gonum's
// eigendecomposition, the mean predictor's accuracy (its argmax), and one
// network's expected accuracy by Simpson's rule. The accuracies of the mean
// predictor must be equal; the expected accuracies, two quadratures of the
// same integral of kernels computed in another order, must agree to 1e-7.
// At least one expected test accuracy must lie away from chance and from
// 1, or the check says little.
func checkTheoryGDClosedForm(t *testing.T, k sweep.Kind, st map[string]any) {
	t.Helper()
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 4, SW2: 2.5, SB2: 0.05, Outputs: 10}
	r, err := k.Run(context.Background(), sweep.Cell{Spec: s, Seed: 1, Settings: st})
	if err != nil {
		t.Fatal(err)
	}
	ds := DefaultDataSettings()
	ds.Dataset, ds.NTrain, ds.NTest, ds.Grayscale, ds.Downsample = "mnist", 10, 10, true, 4
	d, err := ds.Load(spec.FCN, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := append(append([]float64(nil), d.XTrain.Data...), d.XTest.Data...)
	n, dim := d.XTrain.Shape[0], d.XTrain.Shape[1]
	nngp, ntk := closedform.ErfKernels(x, n+d.XTest.Shape[0], dim, s.SW2, s.SB2, s.Depth)
	informative := 0
	for l := 1; l <= s.Depth; l++ {
		for _, tc := range []struct {
			t      float64
			suffix string
		}{{8, "t8"}, {math.Inf(1), "inf"}} {
			o, err := closedform.GD(nngp[l-1], ntk[l-1], d.Y, 0.5, tc.t)
			if err != nil {
				t.Fatalf("depth %d: %v", l, err)
			}
			want := map[string]float64{
				"train_acc_" + tc.suffix:          closedform.Accuracy(o.TrainMean, d.LTrain),
				"test_acc_" + tc.suffix:           closedform.Accuracy(o.TestMean, d.LTest),
				"expected_train_acc_" + tc.suffix: closedform.ExpectedAccuracy(o.TrainMean, o.TrainVar, d.LTrain),
				"expected_test_acc_" + tc.suffix:  closedform.ExpectedAccuracy(o.TestMean, o.TestVar, d.LTest),
			}
			for name, w := range want {
				got := r.Arrays[name].Data[l-1]
				tol := 0.0
				if strings.HasPrefix(name, "expected") {
					tol = 1e-7
				}
				if !(math.Abs(got-w) <= tol) {
					t.Errorf("fcn depth %d %s: cell %.10g, closed form %.10g", l, name, got, w)
				}
			}
			if w := want["expected_test_acc_"+tc.suffix]; w > 0.15 && w < 0.95 {
				informative++
			}
		}
	}
	if informative == 0 {
		t.Error("every expected test accuracy is at chance or 1: the closed-form check is vacuous")
	}
}

// TestGDExpectedLimits checks GDExpected against limits known without the
// code: at t = 0 every logit of one network is a centred Gaussian with one
// variance per point, so each class is equally likely (expected accuracy
// exactly 1/k) while the mean predictor outputs zeros at the test points (argmax:
// class 0, accuracy the share of label 0); converged, the training outputs equal
// the targets with no variance (expected train accuracy 1). At a finite
// time the mean predictor agrees with GDAccuracies, and one network's
// test accuracy has a positive spread.
func TestGDExpectedLimits(t *testing.T) {
	ds := DefaultDataSettings()
	ds.Dataset, ds.NTrain, ds.NTest = "mnist", 20, 20
	d, err := ds.Load(spec.FCN, 1)
	if err != nil {
		t.Fatal(err)
	}
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 3, SW2: 1.5, SB2: 0.18, Outputs: 10}
	k, err := theory.Compute(s, theory.StackTrainTest(d.XTrain, d.XTest), npy.Array{}, theory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := d.XTrain.Shape[0]
	times := []float64{0, 64, math.Inf(1)}
	o, err := GDExpected(k, n, d.Y, d.LTrain, d.LTest, 0.5, times, 400, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	share0 := func(l []int) float64 {
		c := 0
		for _, v := range l {
			if v == 0 {
				c++
			}
		}
		return float64(c) / float64(len(l))
	}
	if math.Abs(o.ExpTrain[0]-0.1) > 1e-12 || math.Abs(o.ExpTest[0]-0.1) > 1e-12 {
		t.Errorf("t = 0: expected accuracy %g/%g, want 1/10", o.ExpTrain[0], o.ExpTest[0])
	}
	// (The training means y - V g V^T y carry round-off at t = 0, so
	// only the test means are exactly zero.)
	if o.MeanTest[0] != share0(d.LTest) {
		t.Errorf("t = 0: mean predictor test accuracy %g, want the share of label 0, %g", o.MeanTest[0], share0(d.LTest))
	}
	if o.ExpTrain[2] != 1 || o.MeanTrain[2] != 1 {
		t.Errorf("converged: train accuracy %g (expected), %g (mean), want 1", o.ExpTrain[2], o.MeanTrain[2])
	}
	tr, te, err := GDAccuracies(k.NTK, n, d.Y, d.LTrain, d.LTest, 0.5, times)
	if err != nil {
		t.Fatal(err)
	}
	for i := range times {
		if tr[i] != o.MeanTrain[i] || te[i] != o.MeanTest[i] {
			t.Errorf("t = %g: mean predictor %g/%g, GDAccuracies %g/%g", times[i], o.MeanTrain[i], o.MeanTest[i], tr[i], te[i])
		}
	}
	if !(o.SDTest[1] > 0.01 && o.SDTest[1] < 0.5) {
		t.Errorf("t = 64: SD of one network's test accuracy %g, want a spread in (0.01, 0.5) on 20 points", o.SDTest[1])
	}
	if !(o.EtaCrit > 0) {
		t.Errorf("eta_crit %g, want > 0", o.EtaCrit)
	}
}
