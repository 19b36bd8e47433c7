package theory

import (
	"fmt"
	"testing"
	"time"

	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// BenchmarkKernelFCNNorms times the FCN NTK of N = 2000 inputs at depth 100
// (sw2 = 1.5, sb2 = 0.05) for erf and tanh side by side, on inputs of equal
// norm (|x|^2/d = 1: one correlation table per layer) and on unnormalized
// Gaussian inputs (d = 32: norms spread by about 25%, so the first layer's
// variances span 0.65 to 2.8: the Mehler series). The rate is in M
// entry-layers/s (N^2 L per kernel, though only the upper triangle is
// computed). Each tanh iteration also times erf on the same inputs just
// before it, outside the timer, and reports tanh's time over that (x-erf),
// a ratio that a busy machine disturbs far less than either time.
func BenchmarkKernelFCNNorms(b *testing.B) {
	const n, d, depth = 2000, 32, 100
	for _, inputs := range []string{"equal", "unnormalized"} {
		x := randomArray(4, n, d)
		if inputs == "equal" {
			x = equalNormInputs(4, n, d)
		}
		for _, act := range []string{"erf", "tanh"} {
			b.Run(fmt.Sprintf("N=%d/%s/%s", n, inputs, act), func(b *testing.B) {
				s := spec.Spec{Arch: spec.FCN, Act: act, Depth: depth, SW2: 1.5, SB2: 0.05}
				run := func(s spec.Spec) {
					if _, err := Compute(s, x, npy.Array{}, Options{}); err != nil {
						b.Fatal(err)
					}
				}
				var erfSec float64
				for b.Loop() {
					if act != spec.Erf {
						b.StopTimer()
						start := time.Now()
						run(spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: depth, SW2: 1.5, SB2: 0.05})
						erfSec += time.Since(start).Seconds()
						b.StartTimer()
					}
					run(s)
				}
				sec := b.Elapsed().Seconds() / float64(b.N)
				b.ReportMetric(float64(n)*float64(n)*depth/sec/1e6, "Mentry-layers/s")
				if erfSec > 0 {
					b.ReportMetric(sec/(erfSec/float64(b.N)), "x-erf")
				}
			})
		}
	}
}
