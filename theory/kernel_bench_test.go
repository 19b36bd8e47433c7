package theory

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ntkharness/ntkharness/linalg"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// equalNormInputs returns n seeded Gaussian rows of dimension d scaled to
// |x|^2/d = 1 (as after per-example normalization).
func equalNormInputs(seed uint64, n, d int) npy.Array {
	x := randomArray(seed, n, d)
	for i := range n {
		row := x.Data[i*d : (i+1)*d]
		var s float64
		for _, v := range row {
			s += v * v
		}
		f := math.Sqrt(float64(d) / s)
		for j := range row {
			row[j] *= f
		}
	}
	return x
}

// BenchmarkKernelFCN times the FCN NTK of 2,000 inputs at depth 100 for each
// activation and reports the rate in entry-layers (N^2 L per kernel, though
// only the upper triangle is computed), the machine's GEMM rate measured
// in the same run (n = 1024, median of 3, the build's backend) and their
// ratio, entry-layers per GFLOP of GEMM done in the same time, comparable
// across machines.
func BenchmarkKernelFCN(b *testing.B) {
	const n, d, depth = 2000, 32, 100
	gemm := linalg.GemmFlopRate(1024, 3)
	x := equalNormInputs(1, n, d)
	for _, act := range []string{"erf", "relu", "tanh"} {
		b.Run(act, func(b *testing.B) {
			s := spec.Spec{Arch: spec.FCN, Act: act, Depth: depth, SW2: 1.5, SB2: 0.05}
			for b.Loop() {
				if _, err := Compute(s, x, npy.Array{}, Options{}); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			rate := float64(n) * float64(n) * depth / sec
			b.ReportMetric(rate/1e6, "Mentry-layers/s")
			b.ReportMetric(gemm/1e9, "GEMM-GFLOP/s")
			b.ReportMetric(rate/(gemm/1e9), "entry-layers/GEMM-GFLOP")
		})
	}
}

// BenchmarkKernelTanhDirect times the tanh FCN kernel without the
// correlation table (inputs of unequal norms force direct quadrature at
// every entry), on a smaller problem: 100 inputs, depth 10, and the rate
// in entry-layers per GFLOP of GEMM done in the same time.
func BenchmarkKernelTanhDirect(b *testing.B) {
	const n, d, depth = 100, 32, 10
	gemm := linalg.GemmFlopRate(1024, 3)
	x := randomArray(2, n, d)
	s := spec.Spec{Arch: spec.FCN, Act: "tanh", Depth: depth, SW2: 1.5, SB2: 0.05}
	for b.Loop() {
		if _, err := Compute(s, x, npy.Array{}, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	rate := float64(n) * float64(n) * depth / (b.Elapsed().Seconds() / float64(b.N))
	b.ReportMetric(rate/1e6, "Mentry-layers/s")
	b.ReportMetric(gemm/1e9, "GEMM-GFLOP/s")
	b.ReportMetric(rate/(gemm/1e9), "entry-layers/GEMM-GFLOP")
}

// BenchmarkKernelCNNGAP times the CNN-GAP erf NTK of 256 8x8x3 images at
// depth 10 and reports the plan's memory estimate and the process's peak
// resident memory (VmHWM; run this benchmark alone for a clean number),
// and the rate in pixel-pair-layers per GFLOP of GEMM done in the same
// time.
func BenchmarkKernelCNNGAP(b *testing.B) {
	const n, depth = 256, 10
	gemm := linalg.GemmFlopRate(1024, 3)
	x := randomArray(3, n, 8, 8, 3)
	s := spec.Spec{Arch: spec.CNNGAP, Act: "erf", Depth: depth, SW2: 1.5, SB2: 0.05}
	est, err := EstimateBytes(s, x, npy.Array{}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Compute(s, x, npy.Array{}, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	pairs := float64(n) * float64(n+1) / 2
	rate := pairs * 64 * 64 * depth / (b.Elapsed().Seconds() / float64(b.N))
	b.ReportMetric(rate/1e6, "Mpixelpair-layers/s")
	b.ReportMetric(float64(est)/(1<<20), "estimate-MiB")
	b.ReportMetric(float64(vmHWM())/(1<<20), "VmHWM-MiB")
	b.ReportMetric(gemm/1e9, "GEMM-GFLOP/s")
	b.ReportMetric(rate/(gemm/1e9), "pixelpair-layers/GEMM-GFLOP")
}

// vmHWM returns the peak resident set size of this process in bytes from
// /proc/self/status, or 0 where that is unavailable.
func vmHWM() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
