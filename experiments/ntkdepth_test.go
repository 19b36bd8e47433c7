package experiments

import (
	"math"
	"testing"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/experiments/cells"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/ntkempirical"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
)

func relClose(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Abs(want)
}

// ntkDepthInputs returns n MNIST training images of norm sqrt(d), as the
// figure uses them.
func ntkDepthInputs(t *testing.T, n int) npy.Array {
	t.Helper()
	train, _, err := datasets.LoadMNISTEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	sub, err := train.Subset(n, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if sub, err = sub.NormalizeNorm(); err != nil {
		t.Fatal(err)
	}
	return sub.Flat()
}

// TestNTKDepthFiniteSeeds checks NTKDepthFinite against networks drawn
// here from nets.InitSource(seed, m) whose kernels come from the
// exact Jacobian method: the mean of two values is their average and their
// sample SD is |u - v| / sqrt(2).
func TestNTKDepthFiniteSeeds(t *testing.T) {
	x := ntkDepthInputs(t, 6)
	const sw2, width, depth, seed = 1.5, 64, 2, 7
	e, err := NTKDepthFinite(sw2, ntkDepthSB2, []int{depth}, width, 2, seed, x, nil)
	if err != nil {
		t.Fatal(err)
	}
	var per [2]cells.NTKStats
	for m := range per {
		s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: depth, Width: width, SW2: sw2, SB2: ntkDepthSB2, Outputs: 1}
		net, err := nets.New(s, []int{x.Shape[1]}, nets.InitSource(seed, m))
		if err != nil {
			t.Fatal(err)
		}
		k, err := ntkempirical.Compute(net, x, npy.Array{}, ntkempirical.Options{Method: ntkempirical.Jacobian})
		net.Close()
		if err != nil {
			t.Fatal(err)
		}
		sym, err := ntkempirical.Symmetric(k.NTK, 1e-10)
		if err != nil {
			t.Fatal(err)
		}
		if per[m], err = cells.NTKStatsOf(sym); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name           string
		mean, sd, u, v float64
	}{
		{"Theta_aa", e.Mean.Diag[0], e.SD.Diag[0], per[0].Diag, per[1].Diag},
		{"Theta_ab", e.Mean.Off[0], e.SD.Off[0], per[0].Off, per[1].Off},
		{"lambda_max", e.Mean.LMax[0], e.SD.LMax[0], per[0].LMax, per[1].LMax},
		{"lambda_min", e.Mean.LMin[0], e.SD.LMin[0], per[0].LMin, per[1].LMin},
		{"kappa", e.Mean.Kappa[0], e.SD.Kappa[0], per[0].Kappa, per[1].Kappa},
	} {
		if !relClose(c.mean, (c.u+c.v)/2, 1e-8) {
			t.Errorf("%s: mean %g, want (%g + %g)/2", c.name, c.mean, c.u, c.v)
		}
		if !relClose(c.sd, math.Abs(c.u-c.v)/math.Sqrt2, 1e-6) {
			t.Errorf("%s: SD %g, want |%g - %g|/sqrt(2)", c.name, c.sd, c.u, c.v)
		}
	}
	if e.Width != width || e.Seeds != 2 || len(e.Mean.Depths) != 1 || e.Mean.Depths[0] != depth {
		t.Errorf("got width %d, seeds %d, depths %v; want %d, 2, [%d]", e.Width, e.Seeds, e.Mean.Depths, width, depth)
	}
	if _, err := NTKDepthFinite(sw2, ntkDepthSB2, []int{1}, width, 0, seed, x, nil); err == nil {
		t.Error("0 seeds: no error")
	}
	if _, err := NTKDepthFinite(sw2, ntkDepthSB2, []int{1}, width, 1, seed, npy.Array{Shape: []int{6 * x.Shape[1]}, Data: x.Data}, nil); err == nil {
		t.Error("1-D inputs: no error")
	}
}

// TestNTKDepthFiniteTheory checks the figure's overlay against the
// analytic curve where they must agree: at depths 1, 2, 4 and width 512 the
// kernel entries of one network fluctuate around the analytic ones by
// O(sqrt(l/width)), a few per cent, and the mean over 4 seeds is closer
// still, so Theta_aa, Theta_ab and lambda_max must lie within 10% of theory
// at each phase point (they lie within 4%). A kernel scaled by 0.9 or 1.1,
// or one without the bias terms, fails.
func TestNTKDepthFiniteTheory(t *testing.T) {
	x := ntkDepthInputs(t, 8)
	act, err := theory.ActivationByName(spec.Erf)
	if err != nil {
		t.Fatal(err)
	}
	crit, err := theory.CriticalSW2(act, ntkDepthSB2)
	if err != nil {
		t.Fatal(err)
	}
	depths := []int{1, 2, 4}
	for _, sw2 := range []float64{1.0, crit, 2.5} {
		a, err := NTKDepth(sw2, ntkDepthSB2, 4, x, nil)
		if err != nil {
			t.Fatal(err)
		}
		e, err := NTKDepthFinite(sw2, ntkDepthSB2, depths, 512, 4, 0, x, nil)
		if err != nil {
			t.Fatal(err)
		}
		for j, l := range depths {
			i := l - 1 // NTKDepth samples every depth to 10
			if a.Depths[i] != float64(l) {
				t.Fatalf("analytic depth %g at index %d, want %d", a.Depths[i], i, l)
			}
			for _, c := range []struct {
				name      string
				emp, want float64
			}{
				{"Theta_aa", e.Mean.Diag[j], a.Diag[i]},
				{"Theta_ab", e.Mean.Off[j], a.Off[i]},
				{"lambda_max", e.Mean.LMax[j], a.LMax[i]},
			} {
				t.Logf("sw2 = %.3f, depth %d: %s width 512 %.4g, analytic %.4g (%+.2f%%)", sw2, l, c.name, c.emp, c.want, 100*(c.emp/c.want-1))
				if !relClose(c.emp, c.want, 0.1) {
					t.Errorf("sw2 = %.3f, depth %d: %s of width 512 networks %g, analytic %g: off by more than 10%%", sw2, l, c.name, c.emp, c.want)
				}
			}
		}
	}
}
