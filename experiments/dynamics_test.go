package experiments

import (
	"math"
	"strings"
	"testing"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/experiments/cells"
	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/plots"
	"github.com/ntkharness/ntkharness/spec"
)

// tinyDynamicsGrid is a dynamics grid small enough for tests: 10 points,
// 16 steps, one hidden layer.
func tinyDynamicsGrid() DynamicsGrid {
	return DynamicsGrid{Widths: []int{128, 1024}, Seeds: []uint64{0, 1}, Depth: 1, SW2: 1.5, SB2: 0.05, NTrain: 10, NTest: 10, Steps: 16, EtaFrac: 0.5}
}

// TestDynamicsPlan runs the sweep-backed dynamics figure on a tiny grid:
// the figure drawn from the cells' results must equal the one computed
// directly, its network curve must be the mean and standard deviation over
// seeds of the runs, and the trained networks must follow their empirical
// linearization the closer the wider they are.
func TestDynamicsPlan(t *testing.T) {
	g := tinyDynamicsGrid()
	cfg := Config{Dataset: datasets.MNIST}
	plan, err := dynamicsPlan(cfg, g)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	noRun := cfg
	noRun.NoRun = true
	if _, err := runPlan("dynamics", dir, noRun, plan); err == nil || !strings.Contains(err.Error(), "sweep run") {
		t.Fatalf("drawing without results: got %v, want an error saying how to compute them", err)
	}
	got, err := runPlan("dynamics", dir, cfg, plan)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sweep.Load(sweepFile(dir, "dynamics", 0)); err != nil {
		t.Errorf("sweep file does not load back: %v", err)
	}
	want, err := dynamicsDirect(cfg, g)
	if err != nil {
		t.Fatal(err)
	}
	nw := len(g.Widths)
	if len(got.Figure.Panels) != 2*nw || len(want.Figure.Panels) != 2*nw {
		t.Fatalf("%d and %d panels, want %d", len(got.Figure.Panels), len(want.Figure.Panels), 2*nw)
	}
	compared := 0
	for ip, p := range want.Figure.Panels {
		for is, s := range p.Series {
			gs := got.Figure.Panels[ip].Series[is]
			for name, pair := range map[string][2]plots.Floats{"X": {gs.X, s.X}, "Y": {gs.Y, s.Y}, "YErr": {gs.YErr, s.YErr}} {
				if len(pair[0]) != len(pair[1]) {
					t.Fatalf("panel %q series %q: %s has %d values from the sweep, %d direct", p.Title, s.Label, name, len(pair[0]), len(pair[1]))
				}
				for i := range pair[1] {
					a, b := pair[0][i], pair[1][i]
					if !(math.Abs(a-b) <= 1e-12*math.Abs(b)) && !(math.IsNaN(a) && math.IsNaN(b)) {
						t.Errorf("panel %q series %q %s[%d]: sweep %g, direct %g", p.Title, s.Label, name, i, a, b)
					}
					if !math.IsNaN(b) {
						compared++
					}
				}
			}
		}
	}
	if compared < 2*nw*3*5 {
		t.Errorf("only %d finite values compared; the check is vacuous", compared)
	}

	// The network's train curve at the widest width is the mean and the
	// sample standard deviation (|a - b| / sqrt 2 for two seeds) of the two
	// runs, computed here from the runs themselves.
	var runs []cells.DynamicsRun
	for _, seed := range g.Seeds {
		d, err := g.data(cfg).Load(spec.FCN, seed)
		if err != nil {
			t.Fatal(err)
		}
		r, err := cells.Dynamics(g.spec(g.Widths[nw-1], 10), d.XTrain, d.XTest, d.Y, d.YTest, g.Steps, seed)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	net := want.Figure.Panels[nw-1].Series[0]
	for i := range net.Y {
		a, b := runs[0].Train[i], runs[1].Train[i]
		if m, sd := (a+b)/2, math.Abs(a-b)/math.Sqrt2; math.Abs(net.Y[i]-m) > 1e-12*m || math.Abs(net.YErr[i]-sd) > 1e-12*m {
			t.Errorf("step %g: network train loss %g +- %g, want the seeds' mean %g +- %g", net.X[i], net.Y[i], net.YErr[i], m, sd)
		}
	}

	// Wide networks follow their empirical linearization: the largest gap
	// of the mean train loss over steps 1-16, relative to the loss at step
	// 1, shrinks with the width, like 1/sqrt(width) (2.8x from 128 to 1024;
	// measured 0.015 and 0.008). Asserted: below 0.03 at width 1024 and
	// 1.5x smaller than at 128.
	gap := make([]float64, nw)
	for iw := range g.Widths {
		tr, te := want.Figure.Panels[iw].Series, want.Figure.Panels[nw+iw].Series
		m := dynamicsMean{DynamicsRun: cells.DynamicsRun{Steps: tr[0].X, Train: tr[0].Y, EmpTrain: tr[1].Y, Test: te[0].Y, EmpTest: te[1].Y}}
		gap[iw], _ = m.linearizationGaps()
	}
	if !(gap[1] < 0.03) || !(gap[1] < gap[0]/1.5) {
		t.Errorf("largest train-loss gap between network and empirical linearization: %.3g at width %d, %.3g at width %d; want < 0.03 and 1.5x smaller at the larger width",
			gap[0], g.Widths[0], gap[1], g.Widths[1])
	}
}
