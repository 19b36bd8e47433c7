package cells

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/ntkempirical"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/train"
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
	// The same number from the Net trained by train.Run.
	if ref, err := runTrainNet(context.Background(), c); err != nil {
		t.Fatal(err)
	} else if got, want := r.Scalars["ntk_change"], ref.Scalars["ntk_change"]; !relClose(got, want, 1e-10) {
		t.Errorf("ntk_change %.15g, the Net trained by train.Run gives %.15g", got, want)
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

// TestTrainGroup: "train" cells that differ in sw2, init and eta_frac are
// trained as one ensemble per depth, and every cell's result equals its
// network trained alone by train.Run on its Net (runTrainNet) to 1e-12 relative, the
// diverged members included; a run that computed part of a group resumes
// with only the missing cells.
func TestTrainGroup(t *testing.T) {
	f := sweep.File{
		Spec:  spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 1, Width: 32, SW2: 1, SB2: 0.1},
		Grid:  map[string]sweep.Axis{"depth": intValues(1, 3), "sw2": floatValues(1.5, 2.5), "init": intValues(0, 1), "eta_frac": floatValues(0.5, 3)},
		Order: []string{"depth", "sw2", "init", "eta_frac"}, Kinds: []string{"train"}, Seed: 4,
		Settings: map[string]any{"dataset": "mnist", "n_train": 16, "n_test": 16, "steps": 64, "times": []any{1.0, 64.0}, "stop_rel_change": 1e-9},
	}
	s, err := sweep.New(f)
	if err != nil {
		t.Fatal(err)
	}
	if e := s.Estimate(); e.Groups != 2 || e.LargestGroup != 8 {
		t.Errorf("plan: %d groups, largest %d; want one group of 8 per depth", e.Groups, e.LargestGroup)
	}
	ctx := context.Background()
	grouped := t.TempDir()
	if sum, err := s.Run(ctx, sweep.RunOptions{Results: grouped, Cells: []int{0, 1, 2}}); err != nil || sum.Computed != 3 {
		t.Fatalf("partial grouped run: %v, %v", sum, err)
	}
	sum, err := s.Run(ctx, sweep.RunOptions{Results: grouped})
	if err != nil || sum.Computed != 13 || sum.Skipped != 3 {
		t.Fatalf("resumed grouped run: %v, %v; want 13 computed, 3 skipped", sum, err)
	}
	identical, diverged := 0, 0
	for i := range s.Len() {
		a, err := runTrainNet(ctx, s.Cell(i))
		if err != nil {
			t.Fatal(err)
		}
		g, err := s.ReadCell(grouped, i)
		if err != nil {
			t.Fatal(err)
		}
		wantGroup := 8 // the depth-3 group, computed in one go
		switch {
		case i < 3:
			wantGroup = 3 // the partial run
		case i < 8:
			wantGroup = 5 // the rest of the depth-1 group
		}
		if g.Group != wantGroup {
			t.Errorf("cell %d computed in a group of %d, want %d", i, g.Group, wantGroup)
		}
		wantReason := "" // the record names the kind in front of a reason
		if a.Reason != "" {
			wantReason = "train: " + a.Reason
		}
		if a.Status != g.Status || g.Reason != wantReason {
			t.Errorf("cell %d: %s (%s) in a group, %s (%s) alone", i, g.Status, g.Reason, a.Status, a.Reason)
		}
		if a.Status == sweep.StatusDiverged {
			diverged++
		}
		ka, kg := a, g.Results["train"]
		same := len(ka.Scalars) == len(kg.Scalars) && len(ka.Arrays) == len(kg.Arrays)
		for name, v := range ka.Scalars {
			w, ok := kg.Scalars[name]
			if !ok || !sameValue(float64(w), float64(v)) {
				t.Errorf("cell %d %s: %v in a group, %v alone", i, name, w, v)
			}
			same = same && ok && (float64(w) == v || math.IsNaN(float64(w)) && math.IsNaN(float64(v)))
		}
		for name, v := range ka.Arrays {
			w := kg.Arrays[name]
			if len(w.Data) != len(v.Data) {
				t.Errorf("cell %d %s: %d values in a group, %d alone", i, name, len(w.Data), len(v.Data))
				continue
			}
			for j := range v.Data {
				if !sameValue(float64(w.Data[j]), float64(v.Data[j])) {
					t.Errorf("cell %d %s[%d]: %v in a group, %v alone", i, name, j, w.Data[j], v.Data[j])
				}
				same = same && (float64(w.Data[j]) == v.Data[j] || math.IsNaN(float64(w.Data[j])) && math.IsNaN(float64(v.Data[j])))
			}
		}
		if same {
			identical++
		}
	}
	t.Logf("%d of %d cells bit-identical in a group and alone; %d diverged", identical, s.Len(), diverged)
	if diverged != 8 {
		t.Errorf("%d cells diverged, want the 8 at 3 eta_crit", diverged)
	}
}

func intValues(v ...int) sweep.Axis {
	a := sweep.Axis{}
	for _, x := range v {
		a.Values = append(a.Values, float64(x))
	}
	return a
}

func floatValues(v ...float64) sweep.Axis {
	a := sweep.Axis{}
	for _, x := range v {
		a.Values = append(a.Values, x)
	}
	return a
}

// sameValue: equal to 1e-12 relative (the ensemble's passes do a lone
// network's arithmetic; the tolerance allows a BLAS that orders sums
// differently across shapes), or both NaN.
func sameValue(got, want float64) bool {
	if math.IsNaN(got) || math.IsNaN(want) {
		return math.IsNaN(got) && math.IsNaN(want)
	}
	return got == want || relClose(got, want, 1e-12)
}

// runTrainNet is the independent reference of a "train" cell: the cell's Net (the Gorgonia graph) trained by
// train.Run, its history turned into a result as the cell turns it.
func runTrainNet(ctx context.Context, c sweep.Cell) (sweep.Result, error) {
	s, st, err := trainSetup(c)
	if err != nil {
		return sweep.Result{}, err
	}
	d, err := loadTrainData(s, st, c.Seed)
	if err != nil {
		return sweep.Result{}, err
	}
	net, err := nets.New(s, d.XTrain.Shape[1:], nets.InitSource(uint64(c.Seed), st.Init))
	if err != nil {
		return sweep.Result{}, err
	}
	defer net.Close()
	h, err := train.Run(ctx, net, train.Data{XTrain: d.XTrain, YTrain: d.Y, XTest: d.XTest, YTest: d.YTest},
		train.Options{Steps: st.Steps, LRFactor: st.EtaFrac, LambdaMax: train.AnalyticLambdaMax, Seed: uint64(c.Seed), StopRelChange: st.StopRelChange}, nil)
	if err != nil {
		return sweep.Result{}, err
	}
	r, err := trainResult(h, st)
	if err != nil || !st.KernelChange || h.Status != train.Done {
		return r, err
	}
	initial, err := nets.New(s, d.XTrain.Shape[1:], nets.InitSource(uint64(c.Seed), st.Init))
	if err != nil {
		return r, err
	}
	defer initial.Close()
	ch, err := ntkempirical.KernelChange(initial, net, d.XTrain, npy.Array{}, ntkempirical.Options{})
	r.Scalars["ntk_change"] = ch.Relative
	return r, err
}
