package cells

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ntkharness/ntkharness/experiments/sweep"
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
// scalars of separate cells at those depths.
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
