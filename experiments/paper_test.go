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
// the per-cell sweep results (one theory.Compute per cell; the train cells
// of one depth, two seeds each, trained as one ensemble group) must equal
// the maps computed in one pass, seed means included. The theory rows, one
// network's expected accuracy, must also equal the closed-form computation
// of erfExpected to 1e-7 (two quadratures of the same integral).
func TestTrainabilityPlan(t *testing.T) {
	g := TrainabilityGrid{SW2: []float64{1, 2.5}, Depths: []int{1, 6}, Times: []float64{1, 64}, SB2: 0.18, NTrain: 20, NTest: 20, EtaFrac: 0.5}
	tg := TrainedGrid{TrainabilityGrid: g, Width: 32, Steps: 64, Seeds: 2, StopRelChange: 1e-12}
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
	if res, err := runPlan("trainability", dir, partial, plan); err != nil || !res.Incomplete || !strings.HasPrefix(res.Caption.Observed, "PARTIAL: 12 of the 12 sweep cells") || !strings.HasPrefix(res.Figure.Title, "PARTIAL") {
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
	trained, err := TrainedTrainability(context.Background(), tg, xTr, xTe, y, datasets.OneHot(lTe, 10, false), cfg.Seed, nil)
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
	for is, sw2 := range g.SW2 {
		cfTrain, cfTest := erfExpected(t, xTr, xTe, y, lTr, lTe, sw2, g.SB2, g.EtaFrac, g.Depths[len(g.Depths)-1], g.Times)
		for id, depth := range g.Depths {
			for it, tm := range g.Times {
				for row, want := range [][]float64{cfTrain[depth-1], cfTest[depth-1]} {
					if got := res.Figure.Panels[row*nt+it].Heat.Z[id][is]; !(math.Abs(got-want[it]) <= 1e-7) {
						t.Errorf("theory row %d sw2 %g depth %d t=%g: expected accuracy %.10g in the figure, %.10g in closed form", row, sw2, depth, tm, got, want[it])
					}
				}
			}
		}
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
// equals the direct computation of the quick path on the same setup, and
// its fcn theory line, one network's expected test accuracy after the
// networks' steps, equals the closed-form computation of erfExpected to
// 1e-7.
func TestPoolingPlan(t *testing.T) {
	st := poolingSetup{NTrain: 10, NTest: 10, Downsample: map[string]int{datasets.MNIST: 4}, MaxDepth: 3, SB2: 0.05,
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
	tr, te, _, _, err := poolingData(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	for ip, ph := range st.Phases {
		_, want := erfExpected(t, tr.Flat(), te.Flat(), datasets.OneHot(tr.Labels, tr.Classes, false), tr.Labels, te.Labels, ph.SW2, st.SB2, st.EtaFrac, st.MaxDepth, []float64{float64(st.Steps)})
		for l := 1; l <= st.MaxDepth; l++ {
			if got := seriesAt(t, res.Figure.Panels[ip], spec.FCN+" theory", float64(l)); !(math.Abs(got-want[l-1][0]) <= 1e-7) {
				t.Errorf("%s depth %d: fcn theory %.10g in the figure, %.10g in closed form", ph.Name, l, got, want[l-1][0])
			}
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
