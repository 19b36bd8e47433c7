package ntkempirical

import (
	"strings"
	"testing"

	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/spec"
)

// TestFloat32Kernel: the structured NTK of a float32 network (factors in
// float32, contracted in float64) agrees with the float64 network's, drawn
// from the same source, to a float32 tolerance: each layer's factors carry
// relative errors up to about sum_l (fan-in_l + 16) 2^-24 (inputs) and
// twice that (deltas, which also carry the reverse pass), so their
// products, the kernel's terms, up to three times that; 4x is the bound.
// The Jacobian method, float64 graphs only, refuses the float32 network.
func TestFloat32Kernel(t *testing.T) {
	cases := append(tinyCases(), tinyCase{"fcn-deep", spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 10, Width: 32, SW2: 1.6, SB2: 0.1, Outputs: 2}, []int{8}, 5, 0})
	for _, tc := range cases {
		n64, x1, x2 := tc.build(t, 13)
		tc32 := tc
		tc32.s.DType = spec.Float32
		n32, _, _ := tc32.build(t, 13)
		k64, err := Compute(n64, x1, x2, Options{Full: true})
		if err != nil {
			t.Fatal(err)
		}
		k32, err := Compute(n32, x1, x2, Options{Full: true})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		layers, err := nets.LayersOf(tc.s, tc.inShape)
		if err != nil {
			t.Fatal(err)
		}
		tol := 0.0
		for _, ly := range layers {
			tol += 4 * float64(ly.FanIn+16) / (1 << 24)
		}
		d, df := maxRelDiff(k32.NTK, k64.NTK), maxRelDiff(k32.Full, k64.Full)
		if d == 0 {
			t.Errorf("%s: float32 kernel equals the float64 one: not computed in float32", tc.name)
		}
		if d > tol || df > tol {
			t.Errorf("%s: float32 kernel differs from float64 by %.3g (traced), %.3g (full); tolerance %.3g", tc.name, d, df, tol)
		}
		t.Logf("%s: float32 kernel within %.2g of float64 (tolerance %.2g)", tc.name, max(d, df), tol)
		_, err = Compute(n32, x1, x2, Options{Method: Jacobian})
		if err == nil || !strings.Contains(err.Error(), "dtype float32") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: Jacobian of a float32 network: error %v, want one line naming dtype float32", tc.name, err)
		}
		n32.Close()
		n64.Close()
	}
}
