package cells

import (
	"context"
	"math"
	"testing"

	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/spec"
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
		for _, name := range []string{"train_acc_t8", "test_acc_t8", "train_acc_inf", "test_acc_inf"} {
			if a, b := all.Arrays[name].Data[depth-1], one.Scalars[name]; a != b {
				t.Errorf("depth %d %s: each_depth array %g, own cell %g", depth, name, a, b)
			}
		}
	}
}
