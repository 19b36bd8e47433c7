package cells

import (
	"math"
	"testing"

	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/spec"
)

// TestKindCosts checks the cost models' scaling: a training cell's time is
// linear in its steps (the analytic kernel's share is small here), the
// analytic kernel's is linear in depth, and a CNN-GAP kernel costs a pixel count more than a CNN-F kernel.
func TestKindCosts(t *testing.T) {
	cell := func(s spec.Spec, st map[string]any) sweep.Cell {
		return sweep.Cell{Spec: s.WithDefaults(), Settings: st}
	}
	fcn := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 4, Width: 512, SW2: 1.5, SB2: 0.05}
	k, _ := sweep.LookupKind("train")
	a, ok1 := k.Cost(cell(fcn, map[string]any{"dataset": "mnist", "steps": 1000.0}))
	b, ok2 := k.Cost(cell(fcn, map[string]any{"dataset": "mnist", "steps": 2000.0}))
	if !ok1 || !ok2 || math.Abs(b.Seconds/a.Seconds-2) > 0.01 || a.MemoryBytes <= 0 {
		t.Errorf("train cost at 1000 and 2000 steps: %+v, %+v", a, b)
	}
	g, _ := sweep.LookupKind("theory-gd")
	at := func(depth int) float64 {
		s := fcn
		s.Depth = depth
		c, _ := g.Cost(cell(s, map[string]any{"n_train": 1000.0, "n_test": 1000.0}))
		return c.Seconds
	}
	if d1, d2 := at(204)-at(4), at(404)-at(204); !(d1 > 0 && math.Abs(d2/d1-1) < 1e-9) {
		t.Errorf("theory-gd time not linear in depth: +%g s for depths 4-204, +%g s for 204-404", d1, d2)
	}
	conv := spec.Spec{Arch: spec.CNNF, Act: spec.Erf, Depth: 10, Width: 1, SW2: 1.5, SB2: 0.05}
	gap := conv
	gap.Arch = spec.CNNGAP
	st := map[string]any{"dataset": "mnist", "downsample": 4.0, "n_train": 100.0, "n_test": 100.0}
	cf, _ := g.Cost(cell(conv, st))
	cg, _ := g.Cost(cell(gap, st))
	if r := cg.Seconds / cf.Seconds; !(r > 10 && r < 49) {
		t.Errorf("cnn-gap / cnn-f kernel time %g, want about the 49 pixels of 7x7 images", r)
	}
}
