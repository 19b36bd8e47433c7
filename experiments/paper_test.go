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
	"github.com/ntkharness/ntkharness/ntkempirical"
	"github.com/ntkharness/ntkharness/plots"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
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
	partial := noRun
	partial.Partial = true
	if res, err := runPlan("trainability", dir, partial, plan); err != nil || !res.Incomplete || !strings.HasPrefix(res.Caption.Observed, "PARTIAL: 8 of the 8 sweep cells") || !strings.HasPrefix(res.Figure.Title, "PARTIAL") {
		t.Fatalf("partial drawing without results: incomplete %v, title %q, caption %q, error %v", res.Incomplete, res.Figure.Title, res.Caption.Observed, err)
	}
	res, err := runPlan("trainability", dir, cfg, plan)
	if err != nil {
		t.Fatal(err)
	}
	if res.Incomplete {
		t.Error("a figure with every cell computed is marked incomplete")
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
	direct, err := TheoryTrainability(g, xTr, xTe, y, lTr, lTe, nil)
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
	want := [][][][]float64{direct.Train, direct.Test, trained.Train, trained.Test}
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

// TestNTKCell runs the "ntk" kind: the mean empirical NTK of wide networks
// is close to the analytic one (error ~ (width samples)^-1/2, 0.09 seen at
// width 1024 with 2 samples; bound 0.15) and farther
// from it at small width; the statistics obey lambda_min <= mean diagonal
// <= lambda_max (Rayleigh quotients).
func TestNTKCell(t *testing.T) {
	k, ok := sweep.LookupKind("ntk")
	if !ok {
		t.Fatal("ntk is not registered")
	}
	settings := map[string]any{"dataset": "mnist", "n_train": 8, "n_test": 1, "downsample": 4.0, "normalize": "norm", "samples": 2.0}
	run := func(width int) sweep.Result {
		c := sweep.Cell{Spec: spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 3, Width: width, SW2: 1.5, SB2: 0.05, Outputs: 1, DType: spec.Float64}, Seed: 4, Settings: settings}
		r, err := k.Run(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	wide, narrow := run(1024), run(8)
	if e := wide.Scalars["rel_err"]; !(e < 0.15) {
		t.Errorf("width 1024: relative error %g, want < 0.15", e)
	}
	if !(narrow.Scalars["rel_err"] > 2*wide.Scalars["rel_err"]) {
		t.Errorf("relative error %g at width 8 is not well above %g at width 1024", narrow.Scalars["rel_err"], wide.Scalars["rel_err"])
	}
	for _, p := range []string{"", "theory_"} {
		s := wide.Scalars
		if !(s[p+"lambda_min"] <= s[p+"diag"] && s[p+"diag"] <= s[p+"lambda_max"] && s[p+"kappa"] >= 1) {
			t.Errorf("%sstatistics inconsistent: lambda_min %g, diag %g, lambda_max %g, kappa %g", p, s[p+"lambda_min"], s[p+"diag"], s[p+"lambda_max"], s[p+"kappa"])
		}
	}
	if d, td := wide.Scalars["diag"], wide.Scalars["theory_diag"]; math.Abs(d-td) > 0.1*td {
		t.Errorf("mean diagonal %g vs analytic %g", d, td)
	}
	// The memory budget reaches the empirical NTK.
	for _, perNet := range []bool{false, true} {
		tiny := map[string]any{"max_memory_gib": 1e-6, "per_network": perNet}
		for k, v := range settings {
			tiny[k] = v
		}
		c := sweep.Cell{Spec: spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 3, Width: 64, SW2: 1.5, SB2: 0.05, Outputs: 1, DType: spec.Float64}, Seed: 4, Settings: tiny}
		if _, err := k.Run(context.Background(), c); !sweep.IsPermanent(err) || !strings.Contains(err.Error(), "memory budget") {
			t.Errorf("per_network %v with a 1 KiB budget: error %v, want the budget refused", perNet, err)
		}
	}
}

// TestWidthPlan runs a tiny width plan and checks the drawn fcn errors
// against ntkempirical.CompareTheory on the same images, and that the
// change panel has one point per trained width.
func TestWidthPlan(t *testing.T) {
	wp := widthGrid{n: 6, samples: 2, steps: 16, widths: map[string][]int{spec.FCN: {16, 64}, spec.CNNF: {2, 4}, spec.CNNGAP: {2, 4}}, changeWidths: []int{16, 64}}
	cfg := Config{Dataset: datasets.MNIST, Seed: 5}
	plan, err := widthPlan(cfg, wp)
	if err != nil {
		t.Fatal(err)
	}
	res, err := runPlan("width", t.TempDir(), cfg, plan)
	if err != nil {
		t.Fatal(err)
	}
	train, _, _, _, err := loadData(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := train.Subset(wp.n, false, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	if sub, err = sub.Grayscale().Downsample(4); err != nil {
		t.Fatal(err)
	}
	if sub, err = sub.Standardize(); err != nil {
		t.Fatal(err)
	}
	errs := res.Figure.Panels[0].Series[0] // fcn
	if errs.Label != spec.FCN || len(errs.Y) != 2 {
		t.Fatalf("first series %q with %d points, want fcn with 2", errs.Label, len(errs.Y))
	}
	ws := widthSetting
	for i, w := range wp.widths[spec.FCN] {
		s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: ws.depth, Width: w, SW2: ws.sw2, SB2: ws.sb2, Outputs: 10}
		c, err := ntkempirical.CompareTheory(s, []int{sub.Dim()}, sub.Flat(), sub.Flat(), cfg.Seed, wp.samples, ntkempirical.Options{}, theory.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(errs.Y[i]-c.Relative) > 1e-9*c.Relative {
			t.Errorf("fcn width %d: sweep error %g, direct %g", w, errs.Y[i], c.Relative)
		}
	}
	if got := len(res.Figure.Panels[1].Series[0].X); got != len(wp.changeWidths) {
		t.Errorf("change panel has %d widths, want %d", got, len(wp.changeWidths))
	}
}

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

// TestNTKDepthPlan: the finite-width markers drawn from "ntk" cells with
// per-network statistics equal NTKDepthFinite's on the same inputs.
func TestNTKDepthPlan(t *testing.T) {
	fin := ntkDepthFinite{width: 32, seeds: 2, depths: []int{1, 3}}
	cfg := Config{Dataset: datasets.MNIST} // seed 0, as ntkDepthInputs
	plan, err := ntkDepthPlan(cfg, fin)
	if err != nil {
		t.Fatal(err)
	}
	res, err := runPlan("ntk-depth", t.TempDir(), cfg, plan)
	if err != nil {
		t.Fatal(err)
	}
	x := ntkDepthInputs(t, ntkDepthN)
	points, err := ntkDepthPoints()
	if err != nil {
		t.Fatal(err)
	}
	for ip, p := range points {
		want, err := NTKDepthFinite(p.sw2, ntkDepthSB2, fin.depths, fin.width, fin.seeds, cfg.Seed, x, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got *plots.Series
		for i, s := range res.Figure.Panels[3*ip+1].Series {
			if s.Label == "lambda_max, width 32" {
				got = &res.Figure.Panels[3*ip+1].Series[i]
			}
		}
		if got == nil || len(got.Y) != len(fin.depths) {
			t.Fatalf("%s: no lambda_max markers with %d depths", p.name, len(fin.depths))
		}
		for j := range fin.depths {
			if w := want.Mean.LMax[j]; math.Abs(got.Y[j]-w) > 1e-9*w || math.Abs(got.YErr[j]-want.SD.LMax[j]) > 1e-9*w {
				t.Errorf("%s depth %d: lambda_max %g +- %g from the sweep, %g +- %g direct", p.name, fin.depths[j], got.Y[j], got.YErr[j], w, want.SD.LMax[j])
			}
		}
	}
}

// TestPoolingPlan: the figure drawn from pooling-theory and train cells
// equals the direct computation of the quick path on the same setup.
func TestPoolingPlan(t *testing.T) {
	st := poolingSetup{NTrain: 10, NTest: 10, Downsample: 4, MaxDepth: 3, SB2: 0.05,
		Phases: []poolingPhase{{"chaotic", 3.0}, {"ordered", 1.0}},
		Depths: []int{1, 2}, Width: 32, Channels: 4, Steps: 8, EtaFrac: 0.5, NTrainNet: 10}
	cfg := Config{Dataset: datasets.MNIST, Seed: 6}
	plan, err := poolingPlan(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	res, err := runPlan("pooling", t.TempDir(), cfg, plan)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := poolingFigure(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	for ip := range st.Phases {
		got, want := res.Figure.Panels[ip].Series, direct.Figure.Panels[ip].Series
		if len(got) != len(want) || len(got) != 6 {
			t.Fatalf("phase %d: %d series from the sweep, %d direct, want 6", ip, len(got), len(want))
		}
		finite := 0
		for is := range want {
			for j, w := range want[is].Y {
				if g := got[is].Y[j]; g != w && !(math.IsNaN(g) && math.IsNaN(w)) {
					t.Errorf("phase %d %s point %d: sweep %g, direct %g", ip, want[is].Label, j, g, w)
				}
				if !math.IsNaN(w) {
					finite++
				}
			}
		}
		if finite < 3*st.MaxDepth+3*len(st.Depths) {
			t.Errorf("phase %d: only %d finite points compared", ip, finite)
		}
	}
	if res.Caption.Observed != direct.Caption.Observed {
		t.Errorf("captions differ:\nsweep:  %s\ndirect: %s", res.Caption.Observed, direct.Caption.Observed)
	}
}

// TestRunPlanFailedCells: a cell that fails permanently is a gap in the
// drawn data and is counted in the caption; the others are drawn, progress
// reaches the total, and RetryFailed recomputes just the failed cell.
func TestRunPlanFailedCells(t *testing.T) {
	f := sweep.File{Name: "failing", Spec: spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 1, SW2: 1, SB2: 0.1},
		Grid: map[string]sweep.Axis{"sw2": floatAxis([]float64{1, 2, 3})}, Kinds: []string{sweep.Synthetic},
		Settings: map[string]any{"synthetic": map[string]any{"fail": []any{1.0}}}}
	var got []float64
	plan := SweepPlan{Files: []sweep.File{f}, Draw: func(tables []sweep.Table) (Result, error) {
		for _, r := range tables[0].Rows {
			got = append(got, column(r, "synthetic.value"))
		}
		return Result{Caption: plots.ReportFigure{Observed: "drawn."}}, nil
	}}
	last, total := 0, 0
	cfg := Config{Progress: func(d, n int) { last, total = d, n }}
	dir := t.TempDir()
	res, err := runPlan("failing", dir, cfg, plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || math.IsNaN(got[0]) || !math.IsNaN(got[1]) || math.IsNaN(got[2]) {
		t.Errorf("drawn values %v, want a NaN gap for cell 1 only", got)
	}
	if !strings.Contains(res.Caption.Observed, "1 of the 3 sweep cells failed") {
		t.Errorf("caption %q does not count the failed cell", res.Caption.Observed)
	}
	if last != 3 || total != 3 {
		t.Errorf("progress ended at %d of %d, want 3 of 3", last, total)
	}

	// RetryFailed recomputes the failed cell (it fails again) and only it.
	s, err := sweep.New(f)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Unix(1e9, 0)
	for i := range 3 {
		if err := os.Chtimes(s.CellPath(resultsRoot(dir, cfg), i), old, old); err != nil {
			t.Fatal(err)
		}
	}
	cfg.RetryFailed = true
	if _, err := runPlan("failing", dir, cfg, plan); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		st, err := os.Stat(s.CellPath(resultsRoot(dir, cfg), i))
		if err != nil {
			t.Fatal(err)
		}
		if redone := !st.ModTime().Equal(old); redone != (i == 1) {
			t.Errorf("cell %d recomputed: %v, want %v", i, redone, i == 1)
		}
	}
}
