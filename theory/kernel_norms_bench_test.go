package theory

import (
	"fmt"
	"testing"

	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// BenchmarkKernelFCNNorms times the FCN NTK at depth 100 (sw2 = 1.5,
// sb2 = 0.05) for erf and tanh side by side, on inputs of equal norm
// (|x|^2/d = 1) and on unnormalized Gaussian inputs (d = 32: norms spread
// by about 25%), for N = 500 and 2000. The rate is in entry-layers
// (N^2 L per kernel); compare tanh with erf of the same N and inputs in the
// same run.
func BenchmarkKernelFCNNorms(b *testing.B) {
	const d, depth = 32, 100
	for _, n := range []int{500, 2000} {
		for _, inputs := range []string{"equal", "unnormalized"} {
			x := randomArray(4, n, d)
			if inputs == "equal" {
				x = equalNormInputs(4, n, d)
			}
			for _, act := range []string{"erf", "tanh"} {
				b.Run(fmt.Sprintf("N=%d/%s/%s", n, inputs, act), func(b *testing.B) {
					s := spec.Spec{Arch: spec.FCN, Act: act, Depth: depth, SW2: 1.5, SB2: 0.05}
					for b.Loop() {
						if _, err := Compute(s, x, npy.Array{}, Options{}); err != nil {
							b.Fatal(err)
						}
					}
					sec := b.Elapsed().Seconds() / float64(b.N)
					b.ReportMetric(float64(n)*float64(n)*depth/sec/1e6, "Mentry-layers/s")
				})
			}
		}
	}
}
