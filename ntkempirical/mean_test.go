package ntkempirical

import (
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// TestMeanEnsemble: the structured Mean, whose networks are the members of
// ensembles run together, gives each network's kernel (member m against
// nets.New(s, shape, InitSource(seed, m)) and Compute, one network at a
// time: the reference) and their average, for fcn, cnn-f and cnn-gap, with
// x2 = x1 and x2 given, the traced and full kernels, in float64 (to 1e-12
// relative) and float32 (to 1e-5: the same float32 arithmetic in another
// thread layout); also when the budget fits only some members at once and
// when the factors of several blocks are kept, and with progress reported
// up to its total.
func TestMeanEnsemble(t *testing.T) {
	const samples, seed = 3, 17
	for _, tc := range tinyCases() {
		if tc.s.Act != spec.Erf {
			continue
		}
		for _, dt := range []string{spec.Float64, spec.Float32} {
			tol := 1e-12
			if dt == spec.Float32 {
				tol = 1e-5
			}
			s := tc.s
			s.DType = dt
			_, x1, x2 := tc.build(t, 3)
			var want []Kernel
			for m := 0; m < samples; m++ {
				net, err := nets.New(s, tc.inShape, nets.InitSource(seed, m))
				if err != nil {
					t.Fatal(err)
				}
				k, err := Compute(net, x1, x2, Options{Full: true})
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, k)
				net.Close()
			}
			n2 := 0
			if x2.Data != nil {
				n2 = x2.Shape[0]
			}
			one, err := EstimateMemory(s, tc.inShape, x1.Shape[0], n2, Options{Full: true})
			if err != nil {
				t.Fatal(err)
			}
			// Default budget: all members at once; 2.5 members' worth: two at
			// once, then one; blocks of 2 examples: factors kept, not
			// contracted as the pass runs.
			for _, opt := range []Options{{Full: true}, {Full: true, MaxMemory: 5 * one / 2}, {Full: true, block: 2}} {
				mem := opt.MaxMemory
				got := 0
				err := meanMembers(s, tc.inShape, x1, x2, seed, samples, opt, func(m int, k Kernel) {
					if m != got {
						t.Errorf("%s %s: member %d after %d", tc.name, dt, m, got)
					}
					got++
					if d := maxRelDiff(k.NTK, want[m].NTK); d > tol {
						t.Errorf("%s %s (budget %d, block %d) member %d: traced kernel differs from its own network's by %.3g", tc.name, dt, mem, opt.block, m, d)
					}
					if d := maxRelDiff(k.Full, want[m].Full); d > tol {
						t.Errorf("%s %s (budget %d, block %d) member %d: full kernel differs from its own network's by %.3g", tc.name, dt, mem, opt.block, m, d)
					}
				})
				if err != nil || got != samples {
					t.Fatalf("%s %s (budget %d, block %d): %d kernels, %v", tc.name, dt, mem, opt.block, got, err)
				}
				last, total := 0, 0
				opt.Progress = func(done, tot int) {
					if done != last+1 || (total != 0 && tot != total) {
						t.Errorf("%s: progress %d of %d after %d of %d", tc.name, done, tot, last, total)
					}
					last, total = done, tot
				}
				mean, err := Mean(s, tc.inShape, x1, x2, seed, samples, opt)
				if err != nil {
					t.Fatal(err)
				}
				if last != total || total == 0 {
					t.Errorf("%s: progress ended at %d of %d", tc.name, last, total)
				}
				zero := func(a *mat.Dense) *mat.Dense { r, c := a.Dims(); return mat.NewDense(r, c, nil) }
				avg := Kernel{NTK: zero(want[0].NTK), Full: zero(want[0].Full)}
				for _, k := range want {
					avg.NTK.Add(avg.NTK, k.NTK)
					avg.Full.Add(avg.Full, k.Full)
				}
				avg.NTK.Scale(1.0/samples, avg.NTK)
				avg.Full.Scale(1.0/samples, avg.Full)
				if d := maxRelDiff(mean.NTK, avg.NTK); d > tol {
					t.Errorf("%s %s (budget %d, block %d): mean differs from the average over networks by %.3g", tc.name, dt, mem, opt.block, d)
				}
				if d := maxRelDiff(mean.Full, avg.Full); d > tol {
					t.Errorf("%s %s (budget %d, block %d): full mean differs by %.3g", tc.name, dt, mem, opt.block, d)
				}
			}
		}
	}
	// The Jacobian method still runs network by network and agrees.
	tc := tinyCases()[0]
	_, x1, _ := tc.build(t, 3)
	st, err := Mean(tc.s, tc.inShape, x1, npy.Array{}, seed, 2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	jc, err := Mean(tc.s, tc.inShape, x1, npy.Array{}, seed, 2, Options{Method: Jacobian})
	if err != nil {
		t.Fatal(err)
	}
	if d := maxRelDiff(st.NTK, jc.NTK); d > 1e-10 {
		t.Errorf("structured and Jacobian means differ by %.3g", d)
	}
}
