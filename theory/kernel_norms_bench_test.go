package theory

import (
	"fmt"
	"testing"

	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// BenchmarkKernelFCNNorms times the FCN NTK of N = 2000 inputs at depth 100
// (sw2 = 1.5, sb2 = 0.05) for erf and tanh side by side, on inputs of equal
// norm (|x|^2/d = 1: one correlation table per layer) and on unnormalized
// Gaussian inputs (d = 32: norms spread by about 25%, so the first layer's
// variances span 0.65 to 2.8: the Mehler series). The rate is in M
// entry-layers/s (N^2 L per kernel, though only the upper triangle is
// computed); tanh also reports its time over erf's on the same inputs
// measured just before in the same run (x-erf).
func BenchmarkKernelFCNNorms(b *testing.B) {
	const n, d, depth = 2000, 32, 100
	for _, inputs := range []string{"equal", "unnormalized"} {
		x := randomArray(4, n, d)
		if inputs == "equal" {
			x = equalNormInputs(4, n, d)
		}
		var erfSec float64
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
				if act == "erf" {
					erfSec = sec
				} else if erfSec > 0 {
					b.ReportMetric(sec/erfSec, "x-erf")
				}
			})
		}
	}
}
