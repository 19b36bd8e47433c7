package experiments

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/nets/spec"
)

// TestTrainabilityPlan runs the sweep-backed trainability figure on a tiny
// grid and checks it against the direct computation of the quick scale:
// the per-cell sweep results (one theory.Compute per cell, one training run
// per cell) must equal the maps computed in one pass.
func TestTrainabilityPlan(t *testing.T) {
	g := TrainabilityGrid{SW2: []float64{1, 2.5}, Depths: []int{1, 6}, Times: []float64{1, 64}, SB2: 0.18, NTrain: 20, NTest: 20, EtaFrac: 0.5}
	tg := TrainedGrid{TrainabilityGrid: g, Width: 32, Steps: 64}
	tg.Depths = []int{1, 2}
	cfg := Config{Dataset: datasets.MNIST, Seed: 3}
	plan, err := trainabilityPlan(cfg, g, tg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	noRun := cfg
	noRun.NoRun = true
	if _, err := runPlan("trainability", dir, noRun, plan); err == nil || !strings.Contains(err.Error(), "sweep run") {
		t.Fatalf("drawing without results: got %v, want an error saying how to compute them", err)
	}
	res, err := runPlan("trainability", dir, cfg, plan)
	if err != nil {
		t.Fatal(err)
	}
	for k := range plan.Files {
		if _, err := sweep.Load(sweepFile(dir, "trainability", k)); err != nil {
			t.Errorf("sweep file %d does not load back: %v", k+1, err)
		}
	}

	train, test, _, _, err := loadData(cfg)
	if err != nil {
		t.Fatal(err)
	}
	xTr, xTe, y, lTr, lTe, err := prepareData(train, test, g.NTrain, g.NTest, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	theory, err := TheoryTrainability(g, xTr, xTe, y, lTr, lTe, nil)
	if err != nil {
		t.Fatal(err)
	}
	trained, err := TrainedTrainability(context.Background(), tg, xTr, xTe, y, oneHot(lTe, 10), cfg.Seed, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Panels: theory train, theory test, trained train, trained test, one
	// per time each.
	nt := len(g.Times)
	want := [][][][]float64{theory.Train, theory.Test, trained.Train, trained.Test}
	if len(res.Figure.Panels) != 4*nt {
		t.Fatalf("%d panels, want %d", len(res.Figure.Panels), 4*nt)
	}
	cells := 0
	for row, cube := range want {
		for it := range nt {
			z := res.Figure.Panels[row*nt+it].Heat.Z
			for id := range cube[it] {
				for is, w := range cube[it][id] {
					got := z[id][is]
					if !(got == w || math.Abs(got-w) <= 1e-12) && !(math.IsNaN(got) && math.IsNaN(w)) {
						t.Errorf("panel row %d t=%g cell (%d, %d): sweep %g, direct %g", row, g.Times[it], id, is, got, w)
					}
					if !math.IsNaN(w) {
						cells++
					}
				}
			}
		}
	}
	if cells < 3*nt*4 {
		t.Errorf("only %d finite cells compared; the check is vacuous", cells)
	}

	// Drawing again from the results computes nothing.
	cell := filepath.Join(resultsRoot(dir, cfg), "*", "cells", "*.json")
	files, _ := filepath.Glob(cell)
	if len(files) == 0 {
		t.Fatalf("no cell files match %s", cell)
	}
	old := time.Unix(1e9, 0)
	for _, f := range files {
		if err := os.Chtimes(f, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := runPlan("trainability", dir, noRun, plan); err != nil {
		t.Fatalf("drawing from finished results: %v", err)
	}
	if _, err := runPlan("trainability", dir, cfg, plan); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if st, _ := os.Stat(f); !st.ModTime().Equal(old) {
			t.Errorf("%s was recomputed", f)
		}
	}
}

// TestTrainCell runs the "train" kind on a small CNN-GAP cell: a shallow
// network fits 10 points, its scalars are the history's values at the
// requested steps, and impossible settings are permanent failures.
func TestTrainCell(t *testing.T) {
	k, ok := sweep.LookupKind("train")
	if !ok {
		t.Fatal("train is not registered")
	}
	settings := map[string]any{"dataset": "mnist", "n_train": 10, "n_test": 10, "grayscale": true, "downsample": 4.0, "steps": 256.0, "times": []any{1.0, 256.0}}
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
	if !(r.Scalars["eta_crit"] > 0) {
		t.Errorf("eta_crit %g", r.Scalars["eta_crit"])
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
