package cells

import (
	"context"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/spec"
)

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

// aIPlusBOnes returns a I + b 1 1^T of size n, whose eigenvalues are a + n b
// (eigenvector 1) and a (multiplicity n - 1, the vectors orthogonal to 1).
func aIPlusBOnes(n int, a, b float64) *mat.SymDense {
	k := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			v := b
			if i == j {
				v += a
			}
			k.SetSym(i, j, v)
		}
	}
	return k
}

func relClose(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Abs(want)
}

// TestNTKStatsOf checks NTKStatsOf on a I + b 1 1^T: diagonal a + b,
// off-diagonal b, lambda_max = a + n b, lambda_min = a, kappa = (a + n b)/a,
// and kappa NaN when a < 0 makes lambda_min negative.
func TestNTKStatsOf(t *testing.T) {
	for _, c := range []struct {
		n    int
		a, b float64
	}{{5, 2, 0.5}, {7, 0.01, 3}, {2, 1, -0.25}, {4, -1, 1}} {
		got, err := NTKStatsOf(aIPlusBOnes(c.n, c.a, c.b))
		if err != nil {
			t.Fatal(err)
		}
		n := float64(c.n)
		lmax, lmin := c.a+n*c.b, c.a
		if lmax < lmin {
			lmax, lmin = lmin, lmax
		}
		wantKappa := math.NaN()
		if lmin > 0 {
			wantKappa = lmax / lmin
		}
		const tol = 1e-12
		if !relClose(got.Diag, c.a+c.b, tol) || !relClose(got.Off, c.b, tol) ||
			!relClose(got.LMax, lmax, tol) || !relClose(got.LMin, lmin, tol) {
			t.Errorf("n = %d, a = %g, b = %g: got %+v, want diag %g, off %g, lambda_max %g, lambda_min %g",
				c.n, c.a, c.b, got, c.a+c.b, c.b, lmax, lmin)
		}
		if math.IsNaN(wantKappa) != math.IsNaN(got.Kappa) || (!math.IsNaN(wantKappa) && !relClose(got.Kappa, wantKappa, tol)) {
			t.Errorf("n = %d, a = %g, b = %g: kappa %g, want %g", c.n, c.a, c.b, got.Kappa, wantKappa)
		}
	}
	if _, err := NTKStatsOf(aIPlusBOnes(1, 1, 0)); err == nil || !strings.Contains(err.Error(), "1x1") {
		t.Errorf("1x1 kernel: error %v, want one naming the size", err)
	}
	bad := aIPlusBOnes(3, 1, 0)
	bad.SetSym(0, 2, math.NaN())
	if _, err := NTKStatsOf(bad); err == nil {
		t.Error("kernel holding NaN: no error")
	}
}
