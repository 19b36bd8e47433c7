package cells

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/spec"
)

// TestDynamicsCell runs the "dynamics" kind: its arrays are aligned on the
// logged steps, its _last scalars are their last values, a step size
// beyond eta_crit diverges, and impossible settings fail permanently.
func TestDynamicsCell(t *testing.T) {
	k, ok := sweep.LookupKind("dynamics")
	if !ok {
		t.Fatal("dynamics is not registered")
	}
	settings := map[string]any{"dataset": "mnist", "n_train": 10.0, "n_test": 10.0, "steps": 16.0}
	cell := func(change map[string]any) sweep.Cell {
		c := sweep.Cell{Spec: spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 1, Width: 64, SW2: 1.5, SB2: 0.05, Outputs: 10}, Seed: 2, Settings: map[string]any{}}
		for k, v := range settings {
			c.Settings[k] = v
		}
		for k, v := range change {
			c.Settings[k] = v
		}
		return c
	}
	r, err := k.Run(context.Background(), cell(nil))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != sweep.StatusOK {
		t.Fatalf("status %s (%s)", r.Status, r.Reason)
	}
	steps := r.Arrays["step"].Data
	if want := []float64{1, 2, 4, 8, 16}; len(steps) != len(want) || steps[0] != 1 || steps[len(steps)-1] != 16 {
		t.Fatalf("steps %v, want %v", steps, want)
	}
	for _, name := range DynamicsArrays {
		a := r.Arrays[name].Data
		if len(a) != len(steps) {
			t.Errorf("%s has %d values for %d steps", name, len(a), len(steps))
			continue
		}
		if last := r.Scalars[name+"_last"]; last != a[len(a)-1] {
			t.Errorf("%s_last = %g, array ends with %g", name, last, a[len(a)-1])
		}
	}
	if tr := r.Arrays["train_loss"].Data; !(tr[len(tr)-1] < tr[0]/4) {
		t.Errorf("train loss %g at step 1, %g at step 16: want at least a 4x drop", tr[0], tr[len(tr)-1])
	}
	// lr = eta_frac * eta_crit exactly.
	if lr, ec := r.Scalars["lr"], r.Scalars["eta_crit"]; !(ec > 0) || math.Abs(lr-0.5*ec) > 1e-15*ec {
		t.Errorf("lr %g, eta_crit %g: want lr = 0.5 eta_crit", lr, ec)
	}

	// At 4 eta_crit the top mode grows like |1 - 8|^t: the loss passes
	// 1e6 times its initial value within the 16 steps.
	d, err := k.Run(context.Background(), cell(map[string]any{"eta_frac": 4.0}))
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != sweep.StatusDiverged {
		t.Errorf("eta_frac 4: status %s, want diverged", d.Status)
	}

	for name, change := range map[string]map[string]any{
		"no steps":         {"steps": 0.0},
		"negative eta":     {"eta_frac": -0.5},
		"unknown data set": {"dataset": "svhn"},
	} {
		if _, err := k.Run(context.Background(), cell(change)); !sweep.IsPermanent(err) {
			t.Errorf("%s: error %v, want a permanent failure", name, err)
		}
	}
	c := cell(nil)
	c.Spec.Outputs = 3
	if _, err := k.Run(context.Background(), c); !sweep.IsPermanent(err) || !strings.Contains(err.Error(), "3 outputs") {
		t.Errorf("3 outputs for 10 classes: error %v, want a permanent failure naming the outputs", err)
	}
}

// TestDynamicsCost: an fcn of widths 784-1000-1000-1000-10 costs F = 2
// (784 1000 + 2 1000^2 + 1000 10) FLOPs per example forward, (1 + 10) F
// per example of the empirical NTK's passes, and 3 F - 2 (784 1000) per
// example of a gradient step (no input gradient for the first layer); with
// 1000 steps on 100 points these terms are all but 1% of the cost (the
// analytic kernels on 200 points are the rest).
func TestDynamicsCost(t *testing.T) {
	c := sweep.Cell{Spec: spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 3, Width: 1000, SW2: 1.5, SB2: 0.05, Outputs: 10},
		Settings: map[string]any{"dataset": "mnist", "n_train": 100.0, "n_test": 100.0, "steps": 1000.0}}
	got, ok := dynamicsCost(c)
	if !ok {
		t.Fatal("no estimate for an fcn")
	}
	f := 2 * (784.0*1000 + 2*1000*1000 + 1000*10)
	step := 3*f - 2*784*1000
	want := (step*100*1000 + 11*f*200) / costTrainFLOPs
	if !(got.Seconds >= want && got.Seconds <= 1.02*want) {
		t.Errorf("%g seconds, want %g to 2%% more", got.Seconds, want)
	}
	if got.MemoryBytes < int64(8*f/2) {
		t.Errorf("%d bytes, less than the weights", got.MemoryBytes)
	}
	c.Settings["steps"] = 0.0
	if _, ok := dynamicsCost(c); ok {
		t.Error("an estimate for a cell with no steps")
	}
}
