package train

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/spec"
)

func memberSource(seed uint64, m int) *rand.Rand { return rand.New(rand.NewPCG(seed+uint64(m), 17)) }

// ensembleCase is an architecture, its input shape and toy data for it.
type ensembleCase struct {
	name    string
	s       spec.Spec
	inShape []int
}

func ensembleCases() []ensembleCase {
	return []ensembleCase{
		{"fcn", spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 3, Width: 16, SW2: 1.5, SB2: 0.05, Outputs: 2}, []int{6}},
		{"cnn-f", spec.Spec{Arch: spec.CNNF, Act: spec.Tanh, Depth: 2, Width: 3, SW2: 1.5, SB2: 0.1, Outputs: 2}, []int{4, 3, 2}},
		{"cnn-gap", spec.Spec{Arch: spec.CNNGAP, Act: spec.ReLU, Depth: 2, Width: 4, SW2: 2, SB2: 0.05, Outputs: 2}, []int{3, 4, 2}},
	}
}

// imageData is toyData with each example reshaped to inShape.
func imageData(seed uint64, n, m int, inShape []int, k int) Data {
	d := 1
	for _, v := range inShape {
		d *= v
	}
	dt := toyData(seed, n, m, d, k)
	dt.XTrain.Shape = append([]int{n}, inShape...)
	dt.XTest.Shape = append([]int{m}, inShape...)
	return dt
}

// runMode is a way of feeding the training set: full batch, full batch
// in chunks, or minibatches.
type runMode struct {
	name         string
	batch, chunk int
}

// runModes are the modes an ensemble test runs for the architecture of s (all
// three for fcn, full batch for the cnns).
func runModes(s spec.Spec) []runMode {
	modes := []runMode{{"full", 0, 0}}
	if s.Arch == spec.FCN {
		modes = append(modes, runMode{"chunked", 0, 3}, runMode{"sgd", 3, 0})
	}
	return modes
}

// TestEnsembleMatchesRun: every member of an ensemble trained in lock
// step follows the trajectory of its network trained alone by Run, to
// 1e-12 relative (the passes do the same arithmetic; the tolerance only
// allows for a BLAS that orders sums differently across shapes), over 100
// steps, for each architecture, full batch, chunked full batch and SGD.
// Member 2 steps at 20 eta_crit and must diverge, alone, at the step Run
// says, while the others run to the end.
func TestEnsembleMatchesRun(t *testing.T) {
	for _, tc := range ensembleCases() {
		for _, md := range runModes(tc.s) {
			t.Run(tc.name+"-"+md.name, func(t *testing.T) {
				data := imageData(5, 8, 8, tc.inShape, 2) // as many test as training points: one batch size
				var specs []spec.Spec
				factors := []float64{0.5, 0.9, 20}
				for m := range factors {
					sm := tc.s
					sm.SW2 += 0.2 * float64(m)
					sm.SB2 += 0.03 * float64(m)
					specs = append(specs, sm)
				}
				e, lrs := stepEnsemble(t, specs, factors, tc.inShape, data)
				const steps = 100
				hs, err := RunEnsemble(context.Background(), e, data, EnsembleOptions{Steps: steps, LR: lrs, Batch: md.batch, Chunk: md.chunk, Seed: 3})
				if err != nil {
					t.Fatal(err)
				}
				for m := range specs {
					want, alone := runAlone(t, specs[m], tc.inShape, m, data, Options{Steps: steps, LR: lrs[m], Batch: md.batch, Chunk: md.chunk, Seed: 3})
					compareHistories(t, m, hs[m], want)
					if want.Status == Done {
						compareParams(t, m, e.Params(m), alone.Params())
					}
					alone.Close()
				}
				if hs[2].Status != Diverged || hs[0].Status != Done || hs[1].Status != Done {
					t.Errorf("statuses %s, %s, %s: want done, done, diverged", hs[0].Status, hs[1].Status, hs[2].Status)
				}
			})
		}
	}
}

// TestEnsembleStopsEarly: with StopRelChange, a member whose loss stops
// changing stops at the step Run stops its network alone, its later logged
// steps repeat that step's values, and the other members go on to their
// own stop.
func TestEnsembleStopsEarly(t *testing.T) {
	tc := ensembleCases()[0]
	data := imageData(5, 8, 8, tc.inShape, 2)
	factors := []float64{0.02, 0.05}
	e, lrs := stepEnsemble(t, []spec.Spec{tc.s, tc.s}, factors, tc.inShape, data)
	specs := []spec.Spec{tc.s, tc.s}
	// Once its fast modes are gone, a member's loss falls by a fraction
	// 1 - (1 - eta lambda_min/(N k))^2 of itself per step: below 1% for
	// the first (at 0.02 eta_crit) within the run, later for the second
	// (0.05), both at losses far above rounding.
	const steps, tol = 300, 1e-2
	hs, err := RunEnsemble(context.Background(), e, data, EnsembleOptions{Steps: steps, LR: lrs, StopRelChange: tol})
	if err != nil {
		t.Fatal(err)
	}
	for m := range specs {
		want, alone := runAlone(t, specs[m], tc.inShape, m, data, Options{Steps: steps, LR: lrs[m], StopRelChange: tol})
		compareHistories(t, m, hs[m], want)
		alone.Close()
	}
	if hs[0].StoppedAt == 0 || hs[1].StoppedAt <= hs[0].StoppedAt {
		t.Fatalf("stopped at %d and %d: want both stopped, the first earlier (the second went on alone)", hs[0].StoppedAt, hs[1].StoppedAt)
	}
	for m, h := range hs {
		var at Point
		for _, p := range h.Points {
			switch {
			case p.Step == h.StoppedAt:
				at = p
			case p.Step > h.StoppedAt:
				q := at
				q.Step = p.Step
				if p != q {
					t.Errorf("member %d: point %+v after the stop at %d, want the values of step %d", m, p, h.StoppedAt, h.StoppedAt)
				}
			}
		}
		if h.Status != Done || h.Last().Step != steps || at.Step != h.StoppedAt {
			t.Errorf("member %d: %s, last point at %d, stop point %+v: want done, every logged step to %d and the stop step", m, h.Status, h.Last().Step, at, steps)
		}
	}
}

// runAlone trains member m's network alone (drawn as stepEnsemble draws
// it) by Run with opt; the caller closes the net.
func runAlone(t *testing.T, s spec.Spec, inShape []int, m int, data Data, opt Options) (*History, *nets.Net) {
	t.Helper()
	net, err := nets.New(s, inShape, memberSource(40, m))
	if err != nil {
		t.Fatal(err)
	}
	h, err := Run(context.Background(), net, data, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h, net
}

// stepEnsemble returns the ensemble of specs, member m drawn from
// memberSource(40, m), and each member's step size factors[m] eta_crit with
// eta_crit = 2 N k / lambda_max of its empirical NTK on data (8 points, 2
// outputs).
func stepEnsemble(t *testing.T, specs []spec.Spec, factors []float64, inShape []int, data Data) (*nets.Ensemble, []float64) {
	t.Helper()
	var rngs []*rand.Rand
	for m := range specs {
		rngs = append(rngs, memberSource(40, m))
	}
	e, err := nets.NewEnsemble(specs, inShape, rngs)
	if err != nil {
		t.Fatal(err)
	}
	lrs := make([]float64, len(specs))
	for m := range specs {
		lm, err := EmpiricalLambdaMax(e.Member(m), data.XTrain, 100, 1)
		if err != nil {
			t.Fatal(err)
		}
		lrs[m] = factors[m] * 2 * float64(8*2) / lm
	}
	return e, lrs
}

func compareHistories(t *testing.T, m int, got, want *History) {
	t.Helper()
	if got.Status != want.Status || got.Step != want.Step || got.DivergedAt != want.DivergedAt || got.StoppedAt != want.StoppedAt || got.LR != want.LR || len(got.Points) != len(want.Points) {
		t.Fatalf("member %d: status %s step %d diverged at %d stopped at %d lr %v, %d points; alone: %s %d %d %d %v, %d points",
			m, got.Status, got.Step, got.DivergedAt, got.StoppedAt, got.LR, len(got.Points), want.Status, want.Step, want.DivergedAt, want.StoppedAt, want.LR, len(want.Points))
	}
	if !relClose(got.InitLoss, want.InitLoss, 1e-12) {
		t.Errorf("member %d: initial loss %v, alone %v", m, got.InitLoss, want.InitLoss)
	}
	for i, p := range want.Points {
		g := got.Points[i]
		if g.Step != p.Step || !relClose(float64(g.TrainLoss), float64(p.TrainLoss), 1e-12) || !relClose(float64(g.TestLoss), float64(p.TestLoss), 1e-12) ||
			!relClose(float64(g.TrainAcc), float64(p.TrainAcc), 0) || !relClose(float64(g.TestAcc), float64(p.TestAcc), 0) {
			t.Errorf("member %d point %d: %+v, alone %+v", m, i, g, p)
		}
	}
}

func compareParams(t *testing.T, m int, got, want []nets.Param) {
	t.Helper()
	for i := range want {
		for j, w := range want[i].Data {
			if !relClose(got[i].Data[j], w, 1e-12) {
				t.Errorf("member %d: trained %s[%d] = %.17g, alone %.17g", m, want[i].Name, j, got[i].Data[j], w)
				return
			}
		}
	}
}

// relClose reports whether a and b agree to tol relatively, NaN matching
// NaN and infinities matching themselves.
func relClose(a, b, tol float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if a == b {
		return true
	}
	return math.Abs(a-b) <= tol*math.Max(math.Abs(a), math.Abs(b))
}

func TestEnsembleBadOptions(t *testing.T) {
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 1, Width: 4, SW2: 1.5, SB2: 0.05, Outputs: 2}
	e, err := nets.NewEnsemble([]spec.Spec{s, s}, []int{3}, []*rand.Rand{memberSource(1, 0), memberSource(1, 1)})
	if err != nil {
		t.Fatal(err)
	}
	data := toyData(1, 5, 2, 3, 2)
	wrongK := toyData(1, 5, 2, 3, 3)
	tests := []struct {
		data Data
		opt  EnsembleOptions
		want string
	}{
		{data, EnsembleOptions{Steps: 3, LR: []float64{0.1}}, "1 learning rates for an ensemble of 2"},
		{data, EnsembleOptions{Steps: 3, LR: []float64{0.1, 0}}, "learning rate 0 of member 1"},
		{data, EnsembleOptions{Steps: 3, LR: []float64{0.1, math.Inf(1)}}, "learning rate +Inf of member 1"},
		{data, EnsembleOptions{Steps: -1, LR: []float64{0.1, 0.1}}, "steps -1"},
		{data, EnsembleOptions{Steps: 3, LR: []float64{0.1, 0.1}, Batch: -2}, "batch -2"},
		{wrongK, EnsembleOptions{Steps: 3, LR: []float64{0.1, 0.1}}, "training targets are 5x3, want 5x2"},
		{toyData(1, 5, 2, 4, 2), EnsembleOptions{Steps: 3, LR: []float64{0.1, 0.1}}, "training inputs"},
	}
	for _, tt := range tests {
		_, err := RunEnsemble(context.Background(), e, tt.data, tt.opt)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("options %+v: error %v, want one line containing %q", tt.opt, err, tt.want)
		}
	}
}

// TestEnsembleInterrupt: a cancelled context stops every live member
// after the step in progress.
func TestEnsembleInterrupt(t *testing.T) {
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 1, Width: 4, SW2: 1.5, SB2: 0.05, Outputs: 2}
	e, err := nets.NewEnsemble([]spec.Spec{s, s}, []int{3}, []*rand.Rand{memberSource(1, 0), memberSource(1, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hs, err := RunEnsemble(ctx, e, toyData(1, 5, 2, 3, 2), EnsembleOptions{Steps: 50, LR: []float64{0.1, 0.1},
		Progress: func(done, _ int) {
			if done == 6 {
				cancel()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	for m, h := range hs {
		if h.Status != Interrupted || h.Step != 6 {
			t.Errorf("member %d: status %s at step %d, want interrupted at 6", m, h.Status, h.Step)
		}
	}
}
