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

// TestRunEnsembleFloat32 trains a float32 ensemble and the float64
// ensemble of the same specs, sources and step sizes by RunEnsemble for
// 100 steps (full batch, chunked full batch and SGD), for each
// architecture. Their recorded losses agree to tol_t L_0, L_0 the initial
// loss and tol_t = 4 (1 + t/10) sum_l (fan-in_l + 16) 2^-24: outputs
// differ by at most float32's per-layer rounding (see the nets tests),
// which changes a loss of order L_0 by a few times as much, and each step
// adds its own rounding, which stable GD does not amplify. Accuracies
// agree but for at most one example (a near tie can round either way).
// Each float32 member also trains alone (S = 1) to exactly the history
// it has in the ensemble, the member at 20 eta_crit diverging at the
// same step.
func TestRunEnsembleFloat32(t *testing.T) {
	for _, tc := range ensembleCases() {
		for _, md := range runModes(tc.s) {
			t.Run(tc.name+"-"+md.name, func(t *testing.T) {
				data := imageData(5, 8, 8, tc.inShape, 2)
				factors := []float64{0.5, 0.9, 20}
				var specs, specs32 []spec.Spec
				for m := range factors {
					sm := tc.s
					sm.SW2 += 0.2 * float64(m)
					sm.SB2 += 0.03 * float64(m)
					specs = append(specs, sm)
					sm.DType = spec.Float32
					specs32 = append(specs32, sm)
				}
				e64, lrs := stepEnsemble(t, specs, factors, tc.inShape, data)
				var rngs []*rand.Rand
				for m := range specs {
					rngs = append(rngs, memberSource(40, m))
				}
				e32, err := nets.NewEnsemble(specs32, tc.inShape, rngs)
				if err != nil {
					t.Fatal(err)
				}
				const steps = 100
				opt := EnsembleOptions{Steps: steps, LR: lrs, Batch: md.batch, Chunk: md.chunk, Seed: 3}
				h64, err := RunEnsemble(context.Background(), e64, data, opt)
				if err != nil {
					t.Fatal(err)
				}
				h32, err := RunEnsemble(context.Background(), e32, data, opt)
				if err != nil {
					t.Fatal(err)
				}
				layers, err := nets.LayersOf(tc.s, tc.inShape)
				if err != nil {
					t.Fatal(err)
				}
				tol0 := 0.0
				for _, ly := range layers {
					tol0 += 4 * float64(ly.FanIn+16) / (1 << 24)
				}
				for m := 0; m < 2; m++ { // the members that converge
					a, b := h32[m], h64[m]
					if a.Status != Done || b.Status != Done || len(a.Points) != len(b.Points) {
						t.Fatalf("member %d: float32 %s with %d points, float64 %s with %d", m, a.Status, len(a.Points), b.Status, len(b.Points))
					}
					for i, p := range b.Points {
						q := a.Points[i]
						tol := tol0 * (1 + float64(p.Step)/10) * b.InitLoss
						if math.Abs(float64(q.TrainLoss-p.TrainLoss)) > tol || math.Abs(float64(q.TestLoss-p.TestLoss)) > tol ||
							math.Abs(float64(q.TrainAcc-p.TrainAcc)) > 1.01/8 || math.Abs(float64(q.TestAcc-p.TestAcc)) > 1.01/8 {
							t.Errorf("member %d step %d: float32 %+v, float64 %+v (loss tolerance %.3g)", m, p.Step, q, p, tol)
						}
					}
					last := len(b.Points) - 1
					t.Logf("member %d: train loss %.4g -> %.4g; float32 off by %.2g", m, b.InitLoss, float64(b.Points[last].TrainLoss), math.Abs(float64(a.Points[last].TrainLoss-b.Points[last].TrainLoss)))
				}
				if h32[2].Status != Diverged {
					t.Errorf("member 2 at 20 eta_crit: %s, want diverged", h32[2].Status)
				}
				for m := range specs32 {
					alone, err := nets.NewEnsemble(specs32[m:m+1], tc.inShape, []*rand.Rand{memberSource(40, m)})
					if err != nil {
						t.Fatal(err)
					}
					o := opt
					o.LR = lrs[m : m+1]
					ha, err := RunEnsemble(context.Background(), alone, data, o)
					if err != nil {
						t.Fatal(err)
					}
					got, want := h32[m], ha[0]
					if got.Status != want.Status || got.DivergedAt != want.DivergedAt || len(got.Points) != len(want.Points) {
						t.Fatalf("member %d: %s at %d, %d points; alone %s at %d, %d points", m, got.Status, got.DivergedAt, len(got.Points), want.Status, want.DivergedAt, len(want.Points))
					}
					for i, p := range want.Points {
						g := got.Points[i]
						if !relClose(float64(g.TrainLoss), float64(p.TrainLoss), 0) || !relClose(float64(g.TestLoss), float64(p.TestLoss), 0) ||
							!relClose(float64(g.TrainAcc), float64(p.TrainAcc), 0) || !relClose(float64(g.TestAcc), float64(p.TestAcc), 0) {
							t.Errorf("member %d point %d: %+v in the ensemble, %+v alone", m, i, g, p)
						}
					}
				}
			})
		}
	}
}

// TestRunRefusesFloat32: Run (the float64 Gorgonia graphs, with
// checkpoints) refuses a float32 network with one line naming the dtype.
func TestRunRefusesFloat32(t *testing.T) {
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 1, Width: 4, SW2: 1.5, SB2: 0.05, Outputs: 2, DType: spec.Float32}
	net, err := nets.New(s, []int{3}, memberSource(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), net, toyData(1, 5, 2, 3, 2), Options{Steps: 1, LR: 0.1}, nil)
	if err == nil || !strings.Contains(err.Error(), "spec dtype float32") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Run of a float32 network: error %v, want one line naming spec dtype float32", err)
	}
}
