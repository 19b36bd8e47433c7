package cells

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/spec"
)

// TestTrainCell runs the "train" kind on a small CNN-GAP cell: a shallow
// network fits 10 points, its scalars are the history's values at the
// requested steps, and impossible settings are permanent failures.
func TestTrainCell(t *testing.T) {
	k, ok := sweep.LookupKind("train")
	if !ok {
		t.Fatal("train is not registered")
	}
	settings := map[string]any{"dataset": "mnist", "n_train": 10, "n_test": 10, "grayscale": true, "downsample": 4.0, "steps": 256.0, "times": []any{1.0, 256.0}, "kernel_change": true}
	c := sweep.Cell{Spec: spec.Spec{Arch: spec.CNNGAP, Act: spec.Erf, Depth: 2, Width: 16, SW2: 1.5, SB2: 0.05, Outputs: 10, Filter: 3, Padding: spec.Same, DType: spec.Float64}, Seed: 2, Settings: settings}
	r, err := k.Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != sweep.StatusOK {
		t.Fatalf("status %s (%s)", r.Status, r.Reason)
	}
	steps, loss := r.Arrays["step"].Data, r.Arrays["train_loss"].Data
	if len(steps) == 0 || len(steps) != len(loss) {
		t.Fatalf("history arrays of lengths %d and %d", len(steps), len(loss))
	}
	for i, s := range steps {
		if s == 256 && r.Scalars["train_loss_t256"] != loss[i] {
			t.Errorf("train_loss_t256 = %g, history says %g", r.Scalars["train_loss_t256"], loss[i])
		}
	}
	if !(r.Scalars["train_loss_t256"] < r.Scalars["train_loss_t1"]) {
		t.Errorf("train loss went from %g (t=1) to %g (t=256): no progress", r.Scalars["train_loss_t1"], r.Scalars["train_loss_t256"])
	}
	// A network of 16 channels moves its NTK visibly, but by less than
	// the kernel itself.
	if ch := r.Scalars["ntk_change"]; !(ch > 1e-3 && ch < 1) {
		t.Errorf("ntk_change %g, want in (1e-3, 1)", ch)
	}
	if !(r.Scalars["eta_crit"] > 0) {
		t.Errorf("eta_crit %g", r.Scalars["eta_crit"])
	}
	// A cell asking for CIFAR-10 where there is none fails (transiently)
	// instead of silently training on MNIST.
	c3 := c
	c3.Settings = map[string]any{"dataset": "cifar10", "cifar10": filepath.Join(t.TempDir(), "none"), "n_train": 10.0, "n_test": 10.0}
	if _, err := k.Run(context.Background(), c3); err == nil || sweep.IsPermanent(err) || !strings.Contains(err.Error(), "not available") {
		t.Errorf("cifar10 cell without CIFAR-10: error %v, want a transient 'not available'", err)
	}
	// A cancelled cell is a transient error (redone on the next run), never
	// a result.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r, err := k.Run(ctx, c); err == nil || sweep.IsPermanent(err) {
		t.Errorf("cancelled cell: result %s, error %v; want a transient error", r.Status, err)
	}
	for name, bad := range map[string]map[string]any{
		"time not recorded": {"times": []any{100.0}},
		"no width":          {},
	} {
		c2 := c
		c2.Settings = map[string]any{}
		for k, v := range settings {
			c2.Settings[k] = v
		}
		for k, v := range bad {
			c2.Settings[k] = v
		}
		if name == "no width" {
			c2.Spec.Width = 0
		}
		if _, err := k.Run(context.Background(), c2); !sweep.IsPermanent(err) {
			t.Errorf("%s: error %v, want a permanent failure", name, err)
		}
	}
}
